import type { CircuitBreaker } from '../breaker.js'
import { answerOf } from '../callbacks.js'
import { type Duration, toTimeoutMillis } from '../duration.js'
import { branded, isTimeoutError, TimeoutError } from '../errors.js'
import type { BreakerOptions } from '../options.js'
import { type Registry, registry as processWide } from '../registry.js'
import { checkSignal, readCallOptions } from '../signal.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'
import { allOrNothing, breakerOptions, registryOption } from './setup.js'

/** What the adapter needs of a sandbox: the shape of an `e2b` `Sandbox` (or `@e2b/code-interpreter`'s). */
export interface SandboxLike {
  readonly sandboxId: string
  readonly commands: {
    run(cmd: string, opts?: { timeoutMs?: number }): Promise<{ exitCode: number; stdout: string; stderr: string }>
  }
  /** Present on code-interpreter sandboxes; used instead of `commands.run` when there. */
  runCode?(code: string, opts?: { timeoutMs?: number }): Promise<unknown>
  kill(): Promise<unknown>
}

/** The sandbox class: `Sandbox` from `e2b` or `@e2b/code-interpreter`, or one of the same shape. */
export interface SandboxClientLike<S extends SandboxLike> {
  create(template: string, opts?: never): Promise<S>
}

/**
 * The result of `execute`: what `runCode` resolves to if the sandbox has it, else the finished
 * command's result (e2b's `run` may also return a background handle, which `execute` never asks for).
 */
export type ExecutionOf<S extends SandboxLike> = S extends { runCode(code: string, ...rest: never[]): Promise<infer E> }
  ? E
  : Extract<Awaited<ReturnType<S['commands']['run']>>, { exitCode: number }>

/** How a sandbox adapter creates, runs and judges. */
export interface SandboxOptions {
  /**
   * Names the two breakers: `<name>:create` and `<name>:execute`. At most 248 bytes of UTF-8, so
   * that both names fit the 256 bytes a breaker name may hold. @default 'sandbox'
   */
  name?: string
  /** Bound on creating a sandbox (more than 0). @default '30s' */
  createTimeout?: Duration
  /** Bound on one execution (more than 0); past it the sandbox is killed. @default '60s' */
  executeTimeout?: Duration
  /**
   * Bound on killing a sandbox (more than 0): `stop` rejects with a `TimeoutError` past it, and a
   * kill the adapter started itself is reported as a `BREAKWATER_SANDBOX_KILL` warning. @default '10s'
   */
  killTimeout?: Duration
  /** Options of the creation breaker. @default breaker defaults */
  createBreaker?: BreakerOptions
  /** Options of the execution breaker. @default breaker defaults */
  executeBreaker?: BreakerOptions
  /**
   * Whether an execution error counts against the sandbox service.
   * @default every error but a command's non-zero exit (`CommandExitError`: the code's own failure)
   */
  isFailure?: (error: unknown) => boolean
  /** Where the breakers live. @default the process-wide registry */
  registry?: Registry
}

/** Per-call options. */
export interface SandboxCallOptions {
  /**
   * Aborting it abandons the call (rejects with its reason, counted as ignored); an aborted
   * `execute` kills the sandbox, and other executions on it reject with a `SandboxStoppedError`.
   */
  signal?: AbortSignal
}

const OPTION_KEYS = ['name', 'createTimeout', 'executeTimeout', 'killTimeout', 'createBreaker', 'executeBreaker', 'isFailure', 'registry'] as const
/** The longest breaker name the core keeps, in bytes of UTF-8 (`MAX_NAME_BYTES` in crates/breakwater). */
const MAX_BREAKER_NAME_BYTES = 256
/** The longer of the two suffixes a pool's name gets. */
const LONGEST_SUFFIX = ':execute'
/** The code of the warning that reports a sandbox the adapter could not kill. */
const SANDBOX_KILL_WARNING = 'BREAKWATER_SANDBOX_KILL'

/** Why the adapter killed a sandbox under an execution: what `SandboxStoppedError.why` says. */
export type SandboxStopReason = 'stop' | 'timeout' | 'abort' | 'failure'

const WHY: Record<SandboxStopReason, string> = {
  stop: 'stop() was called',
  timeout: 'another execution on it timed out',
  abort: 'another execution on it was aborted by its caller',
  failure: 'another execution on it failed first',
}

const STOPPED = Symbol.for('breakwater.SandboxStoppedError')

/**
 * The adapter killed the sandbox while this execution ran on it: `stop()` was called, or another
 * execution on the same sandbox timed out, was aborted or failed (each of which kills the
 * sandbox). Not a failure of the sandbox service: the execution breaker counts it as ignored.
 * The code may or may not have run to its end.
 *
 * @example
 * try { await sandboxes.execute(id, code) } catch (e) { if (isSandboxStoppedError(e)) console.log(e.why) }
 */
export class SandboxStoppedError extends Error {
  /** Stable code for logs and switches. */
  readonly code = 'ERR_BREAKWATER_SANDBOX_STOPPED'
  readonly [STOPPED] = true

  constructor(
    /** The sandbox that was killed. */
    readonly sandboxId: string,
    /** The pool's name. */
    readonly pool: string,
    /** Why the adapter killed it. */
    readonly why: SandboxStopReason,
    /** What made the adapter kill it: the other execution's timeout, abort reason or error; none for `stop`. */
    cause?: unknown,
  ) {
    const detail = why === 'failure' ? ` (${cause instanceof Error ? cause.message : describe(cause)})` : ''
    super(
      `the execution on sandbox ${sandboxId} of ${pool} was stopped: the sandbox was killed because ${WHY[why]}${detail}; not counted against the sandbox service`,
      why === 'stop' ? undefined : { cause },
    )
    this.name = 'SandboxStoppedError'
  }
}

/** Whether `e` is a `SandboxStoppedError`, from this copy of breakwater or any other. */
export function isSandboxStoppedError(e: unknown): e is SandboxStoppedError {
  return branded(e, STOPPED)
}

/** The default judgement of an execution error: the code's own non-zero exit is not the service failing. */
export function isSandboxFailure(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name !== 'CommandExitError'
}

/** Checks a pool's name: a non-empty string that leaves room for its breakers' suffixes. */
function checkPoolName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw typeError(`sandbox name must be a non-empty string, but was ${describe(name)}`)
  const bytes = Buffer.byteLength(name)
  const max = MAX_BREAKER_NAME_BYTES - LONGEST_SUFFIX.length
  if (bytes > max) {
    throw rangeError(
      `sandbox name must be at most ${max} bytes of UTF-8 (its breakers are <name>:create and <name>:execute, and a breaker name holds at most ${MAX_BREAKER_NAME_BYTES}), but was ${describe(name)} (${bytes} bytes)`,
    )
  }
  return name
}

/** Sandboxes behind two breakers, one for creating and one for running code. Make one with `sandbox()`. */
export class SandboxPool<S extends SandboxLike> {
  /** The breaker of `create`. */
  readonly createBreaker: CircuitBreaker
  /** The breaker of `execute`. */
  readonly executeBreaker: CircuitBreaker
  readonly #client: SandboxClientLike<S>
  readonly #name: string
  readonly #executeTimeoutMs: number
  readonly #killTimeoutMs: number
  readonly #isFailure: (error: unknown) => boolean
  readonly #live = new Map<string, S>()
  /** The executions running on each live sandbox: a kill of ours stops them first (see `#stopRunning`). */
  readonly #running = new Map<string, Set<AbortController>>()

  /**
   * @internal Made by `sandbox()`. Every option is checked before either breaker is created, and
   * the two are created together or not at all.
   */
  constructor(client: SandboxClientLike<S>, options: SandboxOptions) {
    if (typeof (client as Partial<SandboxClientLike<S>> | null)?.create !== 'function') {
      throw typeError(`sandbox needs a sandbox class with create(template), such as Sandbox from e2b, but was given ${describe(client)}`)
    }
    const o = ownOptions<SandboxOptions>('sandbox', options, OPTION_KEYS)
    const name = checkPoolName(o.name === undefined ? 'sandbox' : o.name)
    const registry = registryOption(o.registry, processWide)
    const createTimeoutMs = toTimeoutMillis('createTimeout', o.createTimeout === undefined ? '30s' : o.createTimeout)
    this.#executeTimeoutMs = toTimeoutMillis('executeTimeout', o.executeTimeout === undefined ? '60s' : o.executeTimeout)
    this.#killTimeoutMs = toTimeoutMillis('killTimeout', o.killTimeout === undefined ? '10s' : o.killTimeout)
    if (o.isFailure !== undefined && typeof o.isFailure !== 'function') throw typeError(`isFailure must be a function, but was ${describe(o.isFailure)}`)
    this.#isFailure = o.isFailure ?? isSandboxFailure
    const createOptions = breakerOptions('createBreaker', o.createBreaker, { timeout: createTimeoutMs })
    const executeOptions = breakerOptions('executeBreaker', o.executeBreaker, { timeout: this.#executeTimeoutMs, isFailure: this.#isFailure })
    const names = [`${name}:create`, `${name}:execute`] as const
    ;[this.createBreaker, this.executeBreaker] = allOrNothing(registry, names, (r) => [
      r.getOrCreate(names[0], createOptions),
      r.getOrCreate(names[1], executeOptions),
    ])
    this.#client = client
    this.#name = name
  }

  /** Sandboxes created here and not stopped or killed. */
  get live(): number {
    return this.#live.size
  }

  /**
   * Creates a sandbox from `template`. A sandbox that arrives after the call timed out or was
   * aborted is killed at once: no sandbox is ever leaked.
   *
   * @example
   * const box = await sandboxes.create('base')
   */
  create(template: string, options?: SandboxCallOptions): Promise<S> {
    let call: Partial<SandboxCallOptions>
    try {
      call = readCallOptions<SandboxCallOptions>('sandbox create', options, ['signal'])
      // The caller's mistake, not the service's: refused before the breaker counts anything.
      if (typeof template !== 'string') throw typeError(`template must be a string, but was ${describe(template)}`)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.createBreaker.execute(async ({ signal }) => {
      const box = await this.#client.create(template)
      if (signal.aborted) {
        this.#killInBackground(box) // nobody is waiting for it any more
        throw signal.reason
      }
      this.#live.set(box.sandboxId, box)
      return box
    }, call)
  }

  /**
   * Runs `code` in sandbox `id` (`runCode` if the sandbox has it, else `commands.run`). When the
   * call times out or is aborted the sandbox is killed, which ends the code's work; so is a
   * sandbox whose execution failed (crashed, ran out of memory, unreachable): create a new one.
   * The call does not wait for that kill; a kill that fails is reported as a warning. Other
   * executions running on a sandbox the adapter kills (by `stop`, or for another execution's
   * timeout, abort or failure) reject at once with a `SandboxStoppedError`, counted as ignored.
   *
   * @example
   * const result = await sandboxes.execute(box.sandboxId, 'python3 -c "print(6 * 7)"')
   */
  execute(id: string, code: string, options?: SandboxCallOptions): Promise<ExecutionOf<S>> {
    let signal: AbortSignal | undefined
    try {
      const call = readCallOptions<SandboxCallOptions>('sandbox execute', options, ['signal'])
      signal = checkSignal(call.signal)
      if (typeof code !== 'string') throw typeError(`code must be a string, but was ${describe(code)}`)
    } catch (error) {
      return Promise.reject(error)
    }
    const box = this.#live.get(id)
    if (!box) return Promise.reject(typeError(`no live sandbox ${describe(id)} was created here`))
    const { stopper, done } = this.#track(id, signal)
    const run = this.executeBreaker.execute(
      async ({ signal: stopped }) => {
        // Timed out or aborted: the sandbox is killed, and the other executions on it stopped.
        const onStop = () => this.#discard(id, isTimeoutError(stopped.reason) ? 'timeout' : 'abort', stopper, stopped.reason)
        stopped.addEventListener('abort', onStop, { once: true })
        const opts = { timeoutMs: this.#executeTimeoutMs }
        try {
          return (await (box.runCode ? box.runCode(code, opts) : box.commands.run(code, opts))) as ExecutionOf<S>
        } catch (error) {
          if (this.#judge(error)) this.#discard(id, 'failure', stopper, error)
          throw error
        } finally {
          stopped.removeEventListener('abort', onStop)
        }
      },
      { signal: stopper.signal },
    )
    run.then(done, done)
    return run
  }

  /**
   * Kills sandbox `id` (not through a breaker: stopping must always be possible) and forgets it,
   * whether the kill succeeds or not. Rejects with the kill's error, or a `TimeoutError` when it
   * takes longer than `killTimeout`; resolves at once for an id it does not hold. Executions
   * running on it reject at once with a `SandboxStoppedError` (why: `'stop'`), counted as ignored.
   *
   * @example
   * await sandboxes.stop(box.sandboxId)
   */
  async stop(id: string): Promise<void> {
    const box = this.#live.get(id)
    if (!box) return
    this.#live.delete(id)
    this.#stopRunning(id, 'stop')
    await this.#kill(box)
  }

  /**
   * The stopper of one execution on sandbox `id`, held in `#running` until `done`. The breaker
   * is told through it of the caller's abort (with the caller's reason) and of a kill of ours
   * under the execution (a `SandboxStoppedError`): either way it counts the call as ignored,
   * since neither is the sandbox service failing.
   */
  #track(id: string, signal: AbortSignal | undefined): { stopper: AbortController; done: () => void } {
    const stopper = new AbortController()
    const onCallerAbort = () => stopper.abort(signal!.reason)
    if (signal?.aborted) onCallerAbort()
    else signal?.addEventListener('abort', onCallerAbort, { once: true })
    const running = this.#running.get(id) ?? new Set<AbortController>()
    this.#running.set(id, running.add(stopper))
    const done = () => {
      signal?.removeEventListener('abort', onCallerAbort)
      running.delete(stopper)
      if (running.size === 0 && this.#running.get(id) === running) this.#running.delete(id)
    }
    return { stopper, done }
  }

  /** Whether an execution error counts against the sandbox (a filter that throws: it does). */
  #judge(error: unknown): boolean {
    try {
      return Boolean(answerOf('isFailure', this.#isFailure(error)))
    } catch {
      return true
    }
  }

  /**
   * Forgets sandbox `id`, stops the executions running on it but `by` (the one whose timeout,
   * abort or failure `cause` is), and kills it in the background.
   */
  #discard(id: string, why: SandboxStopReason, by: AbortController, cause: unknown): void {
    const box = this.#live.get(id)
    if (!box) return
    this.#live.delete(id)
    this.#stopRunning(id, why, by, cause)
    this.#killInBackground(box)
  }

  /**
   * Ends every execution running on sandbox `id` (but `except`) with a `SandboxStoppedError`,
   * before the kill: a call ended by our own kill is decided as stopped (ignored by the breaker),
   * never left to fail with the dying sandbox's error and count against the service.
   */
  #stopRunning(id: string, why: SandboxStopReason, except?: AbortController, cause?: unknown): void {
    const running = this.#running.get(id)
    if (!running) return
    this.#running.delete(id)
    for (const stopper of running) if (stopper !== except) stopper.abort(new SandboxStoppedError(id, this.#name, why, cause))
  }

  /** Kills `box` without anyone waiting: a kill that fails or hangs is reported as a warning. */
  #killInBackground(box: S): void {
    this.#kill(box).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : describe(error)
      process.emitWarning(`sandbox ${box.sandboxId} of ${this.#name} could not be killed and may still be running: ${reason}`, {
        code: SANDBOX_KILL_WARNING,
        detail: 'The adapter no longer holds it: end it with its provider.',
      })
    })
  }

  /** `box.kill()`, bounded by `killTimeout`; a synchronous throw becomes a rejection. */
  #kill(box: S): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`${this.#name}:kill`, this.#killTimeoutMs)), this.#killTimeoutMs)
      new Promise((settle) => settle(box.kill())).then(() => resolve(), reject).finally(() => clearTimeout(timer))
    })
  }
}

/**
 * Sandboxes of an E2B-shaped client behind a creation breaker and an execution breaker.
 *
 * @example
 * import { Sandbox } from 'e2b'
 * import { sandbox } from 'breakwater'
 * const sandboxes = sandbox(Sandbox, { name: 'code-runner', executeTimeout: '10s' })
 */
export function sandbox<S extends SandboxLike>(client: SandboxClientLike<S>, options: SandboxOptions = {}): SandboxPool<S> {
  return new SandboxPool(client, options)
}
