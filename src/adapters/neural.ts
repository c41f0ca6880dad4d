import type { CircuitBreaker } from '../breaker.js'
import type { Duration } from '../duration.js'
import { branded } from '../errors.js'
import type { BreakerOptions } from '../options.js'
import { Fallback } from '../policies/fallback.js'
import { type Registry, registry as processWide } from '../registry.js'
import { readCallOptions } from '../signal.js'
import { describe, ownOptions, typeError } from '../validate.js'
import { breakerOptions, registryOption } from './setup.js'

/** Anything that runs a model: an `onnxruntime-node` `InferenceSession`, or any `{ run(feeds) }`. */
export interface ModelRunner {
  run(feeds: never, ...rest: never[]): PromiseLike<unknown>
}

/** The feeds type of a runner's `run`. */
export type FeedsOf<S> = S extends { run(feeds: infer F, ...rest: infer _): unknown } ? F : never
/** What a runner's `run` resolves to. */
export type OutputsOf<S> = S extends { run(...args: never[]): PromiseLike<infer O> } ? O : never

/** How a neural adapter runs and judges one model. */
export interface NeuralOptions<S extends ModelRunner> {
  /** Bound on every prediction; counted as a failure and a timeout. @default '1s' */
  timeout?: Duration
  /** The breaker's options. @default breaker defaults */
  breaker?: BreakerOptions
  /** Used when the model fails, times out, returns garbage or its breaker is open. @default none */
  fallback?: (error: unknown, feeds: FeedsOf<S>) => OutputsOf<S> | PromiseLike<OutputsOf<S>>
  /** Where the breaker lives. @default the process-wide registry */
  registry?: Registry
}

const OPTION_KEYS = ['timeout', 'breaker', 'fallback', 'registry'] as const

const NON_FINITE = Symbol.for('breakwater.NonFiniteOutputError')

/** A model returned NaN or Infinity: counted as a failure (a model returning garbage is down). */
export class NonFiniteOutputError extends Error {
  readonly code = 'ERR_BREAKWATER_NON_FINITE'
  readonly [NON_FINITE] = true

  constructor(
    readonly model: string,
    /** The output holding the value. */
    readonly output: string,
    /** The value's index in the output's data. */
    readonly index: number,
    readonly value: number,
  ) {
    super(`model ${model} returned ${value} in output ${output} at index ${index}`)
    this.name = 'NonFiniteOutputError'
  }
}

/** Whether `e` is a `NonFiniteOutputError`, from this copy of breakwater or any other. */
export function isNonFiniteOutputError(e: unknown): e is NonFiniteOutputError {
  return branded(e, NON_FINITE)
}

/** A model behind a breaker. Make one with `neural()`. */
export class NeuralModel<S extends ModelRunner> {
  /** The model's breaker (process-wide, by name). */
  readonly breaker: CircuitBreaker
  readonly #name: string
  readonly #session: S
  readonly #fallback: NeuralOptions<S>['fallback']

  /** @internal Made by `neural()`. */
  constructor(name: string, session: S, options: NeuralOptions<S>) {
    if (typeof (session as Partial<ModelRunner> | null)?.run !== 'function') {
      throw typeError(`neural needs a model runner with run(feeds), such as an onnxruntime InferenceSession, but was given ${describe(session)}`)
    }
    const o = ownOptions<NeuralOptions<S>>('neural', options, OPTION_KEYS)
    if (o.fallback !== undefined && typeof o.fallback !== 'function') {
      throw typeError(`fallback must be a function, but was ${describe(o.fallback)}`)
    }
    const registry = registryOption(o.registry, processWide)
    const timeout = o.timeout === undefined ? '1s' : o.timeout
    this.breaker = registry.getOrCreate(name, breakerOptions('breaker', o.breaker, { timeout }))
    this.#name = name
    this.#session = session
    this.#fallback = o.fallback
  }

  /**
   * Runs the model on `feeds` (passed to `run` as they are) and resolves to its outputs (as
   * `run` returns them). Rejects, counting a failure, when the runtime throws, the call times out
   * or an output holds NaN or Infinity; with a `fallback`, resolves to its value instead (not
   * for the caller's own abort, nor for bad call options).
   *
   * @example
   * const out = await predictor.predict({ features: new ort.Tensor('float32', [1.2, 0.4, 7], [1, 3]) })
   */
  async predict(feeds: FeedsOf<S>, options?: { signal?: AbortSignal }): Promise<OutputsOf<S>> {
    const call = readCallOptions<{ signal?: AbortSignal }>('predict', options, ['signal'])
    try {
      return await this.breaker.execute(async () => {
        const outputs = (await (this.#session.run as (feeds: FeedsOf<S>) => PromiseLike<OutputsOf<S>>).call(this.#session, feeds)) as OutputsOf<S>
        this.#checkFinite(outputs)
        return outputs
      }, call)
    } catch (error) {
      const fallback = this.#fallback
      if (!fallback) throw error
      // The one fallback rule: the caller's own abort is never replaced.
      return await new Fallback<OutputsOf<S>>((e) => fallback(e, feeds)).replace(error, call.signal)
    }
  }

  /** Throws at the first NaN or Infinity in any numeric output. */
  #checkFinite(outputs: unknown): void {
    if (outputs === null || typeof outputs !== 'object') return
    for (const [output, value] of Object.entries(outputs)) {
      const data = (value as { data?: unknown } | null)?.data ?? value
      const values = typeof data === 'number' ? [data] : data instanceof Float32Array || data instanceof Float64Array || Array.isArray(data) ? data : []
      for (let i = 0; i < values.length; i++) {
        const v = values[i]
        if (typeof v === 'number' && !Number.isFinite(v)) throw new NonFiniteOutputError(this.#name, output, i, v)
      }
    }
  }
}

/**
 * A model behind a breaker named `name`.
 *
 * @example
 * import * as ort from 'onnxruntime-node'
 * import { neural } from 'breakwater'
 * const session = await ort.InferenceSession.create('price.onnx', { executionProviders: ['cpu'] })
 * const predictor = neural('price-predictor', session, { timeout: '200ms' })
 */
export function neural<S extends ModelRunner>(name: string, session: S, options: NeuralOptions<S> = {}): NeuralModel<S> {
  return new NeuralModel(name, session, options)
}
