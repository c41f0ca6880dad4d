// The benchmark cases still load and do what they claim (one batch each); no timing here.
import test from 'ava'

test('every benchmark case runs, and the breakwater cases go through the breaker', async (t) => {
  // @ts-expect-error: a plain .mjs module without types
  const { BATCH, contenders } = await import('../bench/contenders.mjs')
  const cases = contenders() as Array<{ suite: string; library: string; run: () => unknown }>
  t.true(cases.length >= 12)
  for (const c of cases) await c.run()
  const { circuitBreaker } = await import('../src/index.ts')
  t.like(circuitBreaker('bench-closed').metrics(), { calls: 2 * BATCH, successes: 2 * BATCH })
  t.like(circuitBreaker('bench-open').metrics(), { rejections: BATCH, state: 'forced_open' })
  t.like(circuitBreaker('bench-closed-timed').metrics(), { calls: BATCH, successes: BATCH })
  t.like(circuitBreaker('bench-composed').metrics(), { calls: BATCH, successes: BATCH })
})

// The issue-15 harness: the floors, the targets table, and the cross-language runner.

type Target = { id: number; target: string; limit: number; ratio: number | null; min: number; max: number; met: boolean; floor: string; atLeast?: boolean }

test.serial('the minimal breaker floor reads the clock only when open and rejects with one pre-allocated error', async (t) => {
  // @ts-expect-error: a plain .mjs module without types
  const { MinimalBreaker } = await import('../bench/contenders.mjs')
  const now = Date.now
  let reads = 0
  Date.now = () => {
    reads++
    return now()
  }
  try {
    const m = new MinimalBreaker()
    t.is(await m.execute(async () => 42), 42)
    t.true(m.allow())
    t.is(reads, 0)
    for (let i = 0; i < 5; i++) await t.throwsAsync(m.execute(async () => Promise.reject(new Error('down'))))
    t.true(m.open)
    const first = await m.execute(async () => 42).catch((e: unknown) => e)
    const second = await m.execute(async () => 42).catch((e: unknown) => e)
    t.is(first, second)
    t.true(first instanceof Error)
    t.false(m.allow())
    t.true(reads > 0)
  } finally {
    Date.now = now
  }
})

test('every call-path target is measured in one run with a ratio per round, its spread and its floor', async (t) => {
  // @ts-expect-error: a plain .mjs module without types
  const { measureTargets } = await import('../bench/targets.mjs')
  const run = await measureTargets(3, 0.05)
  t.is(run.rounds, 2)
  t.deepEqual(
    run.targets.map((x: Target) => x.id),
    [1, 1, 2, 3],
  )
  for (const x of run.targets as Target[]) {
    t.regex(x.floor, /\d ns/)
    if (x.ratio === null) {
      // every round's bound was eaten by noise (a loaded machine): said so, never judged met
      t.regex(x.floor, /2 round\(s\) dropped/)
      t.false(x.met)
      continue
    }
    t.true(Number.isFinite(x.ratio) && x.min <= x.ratio && x.ratio <= x.max, x.target)
    t.is(x.met, x.ratio <= x.limit)
  }
  for (const key of ['bare', 'bwExecute', 'cockatiel', 'minimal', 'bwSync', 'minimalSync', 'bwRefused', 'minimalRefused']) {
    t.true(run.medianNs[key] > 0, key)
    t.is(run.samplesNs[key].length, 2)
  }
})

test('the targets are judged from the records of the run, and a round whose bound is not positive is dropped and said so', async (t) => {
  // @ts-expect-error: a plain .mjs module without types
  const { callPathTargets, memoryTargets, rustTargets, KEYS: keys } = await import('../bench/targets.mjs')
  const samples = Object.fromEntries((keys as string[]).map((k) => [k, [100, 100]]))
  samples.bwExecute = [160, 200]
  samples.sharedSync = [50, 50]
  samples.freshRefused = [125, 125]
  const [, , sync, refused] = callPathTargets(samples) as Target[]
  t.regex(sync!.floor, /the same gate over shared memory 50\.0 ns, breakwater 2\.00x of it/)
  t.regex(refused!.floor, /with a new stackless error per refusal 125\.0 ns, breakwater 0\.80x of it/)
  const memory = [
    { library: 'breakwater', count: 100_000, rssBytesPerBreaker: 900, heapBytesPerBreaker: 400 },
    { library: 'breakwater', count: 100_000, rssBytesPerBreaker: 1000, heapBytesPerBreaker: 400 },
    { library: 'cockatiel', count: 100_000, rssBytesPerBreaker: 1200, heapBytesPerBreaker: 1100 },
    { library: 'breakwater', count: 10_000, rssBytesPerBreaker: 9999, heapBytesPerBreaker: 400 },
  ]
  const [kb, cockatiel] = memoryTargets(memory) as [Target, Target]
  t.like(kb, { id: 4, limit: 1, met: true, min: 900 / 1024, max: 1000 / 1024 })
  t.like(cockatiel, { met: true, max: 1000 / 1200 })
  t.regex(cockatiel.floor, /cockatiel 1200 B/)
  // The settled RSS (once V8 gave back its grown young generation) is judged when recorded.
  const settled = memory.map((m, i) => ({ ...m, rssBytesPerBreaker: m.rssBytesPerBreaker + 300, settledRssBytesPerBreaker: m.rssBytesPerBreaker - i }))
  const [settledKb] = memoryTargets(settled) as [Target]
  t.like(settledKb, { met: true, min: 900 / 1024, max: 999 / 1024 })
  t.regex(settledKb.floor, /breakwater 950 B .*1250 B right after they were made/)
  const rust = [
    { suite: 'closed acquire + success', case: 'breakwater', parameter: null, nsPerOp: 12, lowNs: 11.8, highNs: 12.2 },
    { suite: 'closed acquire + success', case: 'failsafe', parameter: null, nsPerOp: 11, lowNs: 10.9, highNs: 11.1 },
    { suite: 'open rejection', case: 'breakwater', parameter: null, nsPerOp: 7.5 },
    { suite: 'open rejection', case: 'breakwater is_call_permitted', parameter: null, nsPerOp: 6 },
    { suite: 'threads on one breaker (time per call, all threads)', case: 'breakwater', parameter: '1', nsPerOp: 12 },
    { suite: 'threads on one breaker (time per call, all threads)', case: 'breakwater', parameter: '2', nsPerOp: 6 },
  ]
  const [closed, open, threads] = rustTargets(rust) as [Target, Target, Target]
  t.like(closed, { id: 5, met: false, ratio: 12 / 11 })
  t.like(callPathTargets({ ...samples, minimal: [120, 90] })[1], { ratio: 3, rounds: 1, met: false })
  t.regex(callPathTargets({ ...samples, minimal: [120, 90] })[1].floor, /1 round\(s\) dropped: the bound's overhead was <= 0/)
  t.like(open, { met: true, ratio: 7.5 / 8 })
  t.like(threads, { met: true, atLeast: true, limit: 1.5, ratio: 2 })
})

test('bench:cross skips every language whose toolchain is absent, saying which tool is missing', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'bench-cross-'))
  try {
    const out = join(dir, 'cross.json')
    const stderr = execFileSync(process.execPath, ['bench/cross.mjs', '--out', out], {
      env: { PATH: join(dir, 'no-tools-here') },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    })
    t.is(stderr, '')
    const cross = JSON.parse(readFileSync(out, 'utf8'))
    t.deepEqual(
      cross.languages.map((l: { language: string; skipped: string; records: unknown[] }) => [l.language, l.skipped, l.records.length]),
      [
        ['go', '`go` is not on PATH (or does not start)', 0],
        ['python', '`python3` is not on PATH (or does not start)', 0],
        ['java', '`java` is not on PATH (or does not start)', 0],
      ],
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the report shows one table across languages, with each skipped language and its reason', async (t) => {
  // @ts-expect-error: a plain .mjs module without types
  const { crossTable } = await import('../bench/report.mjs')
  const record = (c: string, ns: number) => ({
    suite: 'cross-language',
    language: 'go',
    library: 'gobreaker',
    case: c,
    nsPerOp: ns,
    minNs: ns - 1,
    maxNs: ns + 1,
    samples: 5,
  })
  const run = {
    versions: { node: 'v20', breakwater: '0.1.0', cockatiel: '3.2.1' },
    rust: [{ suite: 'closed acquire + success', case: 'breakwater', parameter: null, nsPerOp: 12, lowNs: 11, highNs: 13 }],
    cross: {
      languages: [
        {
          language: 'go',
          library: 'gobreaker',
          version: 'v2.4.0',
          harness: 'testing.B',
          toolchain: 'go1.26',
          records: [record('closed call', 140), record('refused call', 75), record('2 threads, one breaker', 70)],
        },
        { language: 'java', library: 'resilience4j-circuitbreaker', version: '2.4.0', skipped: '`java` is not on PATH (or does not start)', records: [] },
      ],
    },
  }
  const text = (crossTable(run) as string[]).join('\n')
  t.true(text.includes('| rust | breakwater core | criterion (acquire + record) | 12.0 (11.0–13.0) |'))
  t.true(text.includes('| go (go1.26) | gobreaker v2.4.0 | testing.B | 140 (139–141) | 75.0 (74.0–76.0) | 70.0 (69.0–71.0) | 2.00 |'))
  t.true(text.includes('- java (resilience4j-circuitbreaker) skipped: `java` is not on PATH (or does not start)'))
})
