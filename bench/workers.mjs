// Worker threads on one shared breaker: total calls per second with 1, 2 and 4 workers, and the
// proof that a breaker opened in one worker refuses the very next call in the others.
//   node bench/workers.mjs [ms per run]
import { Worker } from 'node:worker_threads'
import { circuitBreaker } from '../dist/index.js'

const ms = Number(process.argv[2] ?? 1000)
const index = new URL('../dist/index.js', import.meta.url).href

function worker(code) {
  const source = `import { parentPort, workerData } from 'node:worker_threads'; import * as bw from '${index}'; ${code}`
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData: { ms } })
}

async function throughput(workers) {
  const name = `workers-${workers}`
  circuitBreaker(name)
  const runs = Array.from({ length: workers }, () =>
    worker(`
      const b = bw.circuitBreaker('${name}')
      const fn = async () => 42
      await new Promise((r) => parentPort.once('message', r))
      const end = performance.now() + workerData.ms
      let calls = 0
      while (performance.now() < end) { for (let i = 0; i < 1000; i++) await b.execute(fn); calls += 1000 }
      parentPort.postMessage(calls)
    `),
  )
  await new Promise((r) => setTimeout(r, 200)) // let every worker load before the start
  const counts = runs.map((w) => new Promise((r) => w.once('message', r)))
  for (const w of runs) w.postMessage('go')
  const total = (await Promise.all(counts)).reduce((a, b) => a + b, 0)
  await Promise.all(runs.map((w) => w.terminate()))
  const counted = circuitBreaker(name).metrics().calls
  return { workers, callsPerSecond: (total / ms) * 1000, countedByBreaker: counted === total }
}

async function propagation() {
  const name = 'workers-propagation'
  const opener = worker(`
    const b = bw.circuitBreaker('${name}', { consecutiveFailures: 1 })
    await b.execute(async () => { throw new Error('down') }).catch(() => {})
    parentPort.postMessage(b.state)
  `)
  const state = await new Promise((r) => opener.once('message', r))
  await opener.terminate()
  const other = worker(`
    const b = bw.circuitBreaker('${name}')
    const refused = await b.execute(async () => 42).then(() => false, (e) => bw.isBrokenCircuitError(e))
    parentPort.postMessage(refused)
  `)
  const refused = await new Promise((r) => other.once('message', r))
  await other.terminate()
  return { openedIn: 'worker 1', stateThere: state, nextCallInWorker2Refused: refused }
}

const results = []
for (const n of [1, 2, 4]) results.push(await throughput(n))
console.log(JSON.stringify({ throughput: results, propagation: await propagation() }))
