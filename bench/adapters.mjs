// Added latency per call of each adapter over calling its real component directly, in one run:
// a loopback HTTP server (fetch), SQLite and PostgreSQL, an ONNX model on CPU, a local sandbox.
//   npm run bench:adapters   (node --import=tsx bench/adapters.mjs [rounds=7])
// Writes bench/results/adapters.json. Read the added microseconds next to the call's own cost.
import Sqlite from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import * as ort from 'onnxruntime-node'
import pg from 'pg'
import { api, database, neural, Registry, sandbox } from '../dist/index.js'
import { LocalSandbox } from '../__test__/fixtures/local-sandbox.ts'
import { tinyModel } from '../__test__/fixtures/tiny-model.ts'
import { startHttpServer } from '../__test__/servers/http.ts'
import { startPostgres } from '../__test__/servers/postgres.ts'

const rounds = Number(process.argv[2] ?? 7)
const registry = new Registry()
const server = await startHttpServer()
const postgres = await startPostgres()
const pool = new pg.Pool({ connectionString: postgres.connectionString, max: 1 })
const sqlite = new Sqlite(':memory:')
const session = await ort.InferenceSession.create(tinyModel(), { executionProviders: ['cpu'] })
const boxes = sandbox(LocalSandbox, { name: 'bench-sandbox', registry })
const box = await boxes.create('base')

const market = api('bench-api', { baseUrl: server.url, registry })
const pgDb = database('bench-pg', pool, { registry })
const sqliteDb = database('bench-sqlite', sqlite, { registry })
const predictor = neural('bench-model', session, { registry })
const feeds = { features: new ort.Tensor('float32', [1, 2, 3], [1, 3]) }
const statement = sqlite.prepare('select 1 as one')

// [adapter, direct call, call through the adapter, calls per sample]
const pairs = [
  [
    'api (GET, loopback HTTP)',
    () => fetch(`${server.url}/quotes/AAPL`, { headers: { accept: 'application/json' } }).then((r) => r.json()),
    () => market.get('/quotes/AAPL'),
    300,
  ],
  ['database (PostgreSQL, select 1)', () => pool.query('select 1 as one'), () => pgDb.query('select 1 as one'), 300],
  ['database (SQLite, select 1)', async () => statement.all(), () => sqliteDb.query('select 1 as one'), 3000],
  ['neural (ONNX on CPU)', () => session.run(feeds), () => predictor.predict(feeds), 1000],
  ['sandbox (runCode in a child process)', () => box.runCode('return 1'), () => boxes.execute(box.sandboxId, 'return 1'), 300],
]

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
async function timePer(fn, n) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn()
  return Number(process.hrtime.bigint() - start) / n
}

const records = []
for (const [adapter, direct, adapted, n] of pairs) {
  const d = []
  const a = []
  for (let r = 0; r < rounds; r++) {
    d.push(await timePer(direct, n))
    a.push(await timePer(adapted, n))
  }
  const directNs = median(d.slice(1))
  const adaptedNs = median(a.slice(1))
  records.push({ adapter, directUs: directNs / 1000, adapterUs: adaptedNs / 1000, addedUs: (adaptedNs - directNs) / 1000 })
}
await boxes.stop(box.sandboxId)
await pool.end()
postgres.destroy()
await server.close()
sqlite.close()

console.log(`node ${process.version}, ${rounds} interleaved rounds (first dropped), median µs per call\n`)
console.log(`${'adapter'.padEnd(40)} ${'direct'.padStart(9)} ${'adapter'.padStart(9)} ${'added'.padStart(9)}`)
for (const r of records)
  console.log(`${r.adapter.padEnd(40)} ${r.directUs.toFixed(1).padStart(9)} ${r.adapterUs.toFixed(1).padStart(9)} ${r.addedUs.toFixed(1).padStart(9)}`)
writeFileSync(
  new URL('./results/adapters.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, records }, null, 2)}\n`,
)
