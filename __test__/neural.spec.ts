import test from 'ava'
import * as ort from 'onnxruntime-node'
import { isBrokenCircuitError, isNonFiniteOutputError, isTimeoutError, neural, type NeuralOptions, Registry } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { BIAS, tinyModel, WEIGHTS } from './fixtures/tiny-model.ts'
import { deferred, withFakeTimers } from './timers.ts'

let session: ort.InferenceSession
test.before(async () => {
  session = await ort.InferenceSession.create(tinyModel(), { executionProviders: ['cpu'] })
})

let next = 0
const rig = (options: NeuralOptions<ort.InferenceSession> = {}) =>
  neural(`model-${next++}`, session, { registry: new Registry({ clock: new FakeClock() }), ...options })
const features = (...values: number[]) => ({ features: new ort.Tensor('float32', values, [1, 3]) })
const expected = (values: number[]) => values.reduce((sum, v, i) => sum + v * WEIGHTS[i]!, BIAS)

test('predicts with a real ONNX model on CPU and passes the runtime types through', async (t) => {
  const predictor = rig()
  const outputs = await predictor.predict(features(1, 2, 3))
  const prediction = outputs.prediction!
  t.true(prediction instanceof ort.Tensor)
  t.deepEqual([...(prediction.data as Float32Array)], [expected([1, 2, 3])])
  t.like(predictor.breaker.metrics(), { successes: 1 })
})

test('NaN and Infinity outputs are failures: a model returning garbage is down', async (t) => {
  const predictor = rig({ breaker: { consecutiveFailures: 2 } })
  const nan = await predictor.predict(features(Number.NaN, 1, 1)).catch((e) => e)
  t.true(isNonFiniteOutputError(nan))
  t.like(nan, { output: 'prediction', index: 0, code: 'ERR_BREAKWATER_NON_FINITE' })
  t.true(Number.isNaN(nan.value))
  const infinite = await predictor.predict(features(Number.POSITIVE_INFINITY, 0, 0)).catch((e) => e)
  t.like(infinite, { value: Number.POSITIVE_INFINITY })
  t.is(predictor.breaker.state, 'open')
  t.true(isBrokenCircuitError(await predictor.predict(features(1, 1, 1)).catch((e) => e)))
})

test('runtime errors are failures: a wrong input name and a wrong shape', async (t) => {
  const predictor = rig()
  const wrongName = await predictor.predict({ prices: new ort.Tensor('float32', [1, 2, 3], [1, 3]) } as never).catch((e) => e)
  t.true(wrongName instanceof Error, String(wrongName))
  const wrongShape = await predictor.predict({ features: new ort.Tensor('float32', [1, 2], [1, 2]) }).catch((e) => e)
  t.true(wrongShape instanceof Error)
  t.like(predictor.breaker.metrics(), { failures: 2 })
})

test('a fallback prediction replaces failures and refusals', async (t) => {
  const fallbackOutput = { prediction: new ort.Tensor('float32', [0], [1, 1]) }
  const predictor = rig({ breaker: { consecutiveFailures: 1 }, fallback: () => fallbackOutput })
  t.is(await predictor.predict(features(Number.NaN, 0, 0)), fallbackOutput, 'garbage replaced')
  t.is(predictor.breaker.state, 'open')
  t.is(await predictor.predict(features(1, 2, 3)), fallbackOutput, 'refusal replaced')
})

test.serial('a prediction past its timeout is a failure and a timeout', async (t) => {
  await withFakeTimers(async (timers) => {
    const stuck = deferred<never>()
    const slow = { run: (_feeds: Record<string, ort.Tensor>) => stuck.promise } // a runtime that hangs
    const predictor = neural(`model-${next++}`, slow, { registry: new Registry(), timeout: '200ms' })
    const call = predictor.predict({ features: new ort.Tensor('float32', [1, 2, 3], [1, 3]) })
    const caught = t.throwsAsync(call)
    await timers.tickAsync(200)
    t.true(isTimeoutError(await caught))
    t.like(predictor.breaker.metrics(), { timeouts: 1, failures: 1 })
  })
})

test('what is not a model runner is refused with what was expected', (t) => {
  t.throws(() => neural('x', {} as never), { instanceOf: TypeError, message: /^neural needs a model runner with run\(feeds\)/ })
  t.throws(() => neural('x', session, { fallback: 42 as never }), { instanceOf: TypeError, message: 'fallback must be a function, but was 42' })
})

test('neural options are own properties only: typos, null, a fallback in the breaker options and a wrong registry are refused, inherited ones not read', (t) => {
  const registry = new Registry()
  const invalid = { code: 'ERR_BREAKWATER_INVALID_OPTION', instanceOf: TypeError }
  t.throws(() => neural('m', session, { registry, tmeout: '1s' } as never), { ...invalid, message: /^tmeout is not a neural option/ })
  t.throws(() => neural('m', session, null as never), { ...invalid, message: 'neural options must be an object, but was null' })
  t.throws(() => neural('m', session, { registry, breaker: null as never }), { ...invalid, message: 'breaker must not be null: leave it out for its default' })
  t.throws(() => neural('m', session, { registry, breaker: { fallback: () => 1 } as never }), {
    ...invalid,
    message: 'fallback is not a breaker option (the adapter sets its own fallback)',
  })
  t.throws(() => neural('m', session, { registry: 'global' as never }), { ...invalid, message: 'registry must be a Registry, but was "global"' })
  t.throws(() => neural('m', session, { registry, timeout: null as never }), {
    instanceOf: TypeError,
    message: 'timeout must not be null: leave it out for its default',
  })
  t.deepEqual(registry.names(), [], 'nothing was created by a refused call')
  const inherited = Object.assign(Object.create({ fallback: 'x', timeout: -1 }) as NeuralOptions<ort.InferenceSession>, { registry })
  t.notThrows(() => neural('m', session, inherited), 'an inherited (and bad) fallback or timeout is not read')
})

test('predict options are own properties only: a typo, null or a bare AbortSignal reject the call, before the model runs and without the fallback', async (t) => {
  let runs = 0
  const counting = { run: (feeds: Record<string, ort.Tensor>) => (runs++, session.run(feeds)) }
  const predictor = neural(`model-${next++}`, counting, { registry: new Registry(), fallback: () => ({}) as never })
  const invalid = { code: 'ERR_BREAKWATER_INVALID_OPTION', instanceOf: TypeError }
  await t.throwsAsync(predictor.predict(features(1, 2, 3), { sigal: undefined } as never), { ...invalid, message: /^sigal is not a predict option/ })
  await t.throwsAsync(predictor.predict(features(1, 2, 3), null as never), { ...invalid, message: 'predict options must be an object, but was null' })
  await t.throwsAsync(predictor.predict(features(1, 2, 3), new AbortController().signal as never), {
    ...invalid,
    message: /^predict takes its signal inside the options, as \{ signal \}/,
  })
  t.is(runs, 0)
  t.like(predictor.breaker.metrics(), { calls: 0 })
})

test.serial('a polluted Object.prototype changes neither the model options nor its breaker', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  const pollution = { fallback: () => 'polluted', timeout: -1, isFailure: () => false }
  Object.assign(proto, pollution)
  try {
    const predictor = rig({ breaker: { consecutiveFailures: 1 } })
    t.true(
      isNonFiniteOutputError(await predictor.predict(features(Number.NaN, 0, 0)).catch((e: unknown) => e)),
      'no fallback, no filter read through the prototype',
    )
    t.is(predictor.breaker.state, 'open')
  } finally {
    for (const key of Object.keys(pollution)) delete proto[key]
  }
})
