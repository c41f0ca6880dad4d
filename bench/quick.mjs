// Quick side-by-side: the suite's closed and rejected cases (bench/contenders.mjs) in interleaved
// rounds, in one process, with the median per call. Read the ratios, not the absolute times.
//   node bench/quick.mjs [rounds=9] [batchesPerRound=1000]
import { BATCH, contenders } from './contenders.mjs'

const rounds = Number(process.argv[2] ?? 9)
const batches = Number(process.argv[3] ?? 1000)
const cases = contenders().filter((c) => c.suite !== 'closed sync path')
const samples = cases.map(() => [])
for (let round = 0; round < rounds; round++) {
  for (const [i, c] of cases.entries()) {
    const start = process.hrtime.bigint()
    for (let b = 0; b < batches; b++) await c.run()
    samples[i].push(Number(process.hrtime.bigint() - start) / (batches * BATCH))
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ns = samples.map((xs) => median(xs.slice(1))) // the first round warms up
const of = (suite, library, like = '') => ns[cases.findIndex((c) => c.suite === suite && c.library === library && c.case.includes(like))]
const bare = of('closed execute', 'bare')
console.log(`node ${process.version}, ${rounds} rounds of ${batches * BATCH} calls per case (first dropped), median ns per call\n`)
for (const [i, c] of cases.entries()) {
  const floor = of(c.suite, 'bare')
  const overhead = floor !== undefined && c.library !== 'bare' ? `  overhead ${(ns[i] - floor).toFixed(0)} ns` : ''
  console.log(`${`${c.suite}: ${c.library} ${c.case}`.padEnd(64)} ${ns[i].toFixed(0).padStart(6)} ns${overhead}`)
}
const over = (library, like) => of('closed execute', library, like) - bare
const ratio = (a, b) => (a / b).toFixed(2)
console.log(
  `\nclosed overhead: breakwater/opossum(default) ${ratio(over('breakwater'), over('opossum', 'default'))}, ` +
    `breakwater/cockatiel(Consecutive) ${ratio(over('breakwater'), over('cockatiel', 'Consecutive'))}`,
)
const rejected = (library) => of('open rejection', library, 'caught')
const composed = (library) => of('composition', library) - of('composition', 'bare')
console.log(`composition overhead: breakwater/cockatiel ${ratio(composed('breakwater'), composed('cockatiel'))}`)
console.log(
  `rejection: breakwater/opossum ${ratio(rejected('breakwater'), rejected('opossum'))}, breakwater/cockatiel ${ratio(rejected('breakwater'), rejected('cockatiel'))}`,
)
