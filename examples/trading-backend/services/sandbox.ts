// A local code sandbox with the shape of the e2b SDK's `Sandbox` (create, sandboxId, runCode,
// commands.run, kill): each one a child process, so code really runs apart and can really crash.
// In production you would pass e2b's `Sandbox` to the same adapter instead.
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const runner = fileURLToPath(new URL('./sandbox-runner.mjs', import.meta.url))
let next = 0

type Reply = { id: number; result?: unknown; error?: { name: string; value: string } }

export class LocalSandbox {
  /** Every sandbox still running, so the demo can crash one and clean up at the end. */
  static readonly running = new Set<LocalSandbox>()

  /** Processes starting now: `killAll` must not miss one that becomes ready after it looked. */
  static readonly #starting = new Set<ChildProcess>()

  static async create(_template: string): Promise<LocalSandbox> {
    const child = fork(runner, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    LocalSandbox.#starting.add(child)
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve())
        child.once('exit', (code, signal) => reject(new Error(`sandbox exited while starting (${signal ?? code})`)))
        child.once('error', reject)
      })
    } finally {
      LocalSandbox.#starting.delete(child)
    }
    return new LocalSandbox(`local-${process.pid}-${next++}`, child)
  }

  /** Kills every sandbox process, starting ones too (at shutdown: a live child keeps the parent running). */
  static async killAll(): Promise<void> {
    const starting = [...LocalSandbox.#starting].map((child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      return exited
    })
    await Promise.all([...starting, ...[...LocalSandbox.running].map((box) => box.kill())])
  }

  readonly commands = {
    run: (_cmd: string): Promise<{ exitCode: number; stdout: string; stderr: string }> => Promise.reject(new Error('this sandbox runs JavaScript only')),
  }
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>()
  #id = 0

  private constructor(
    readonly sandboxId: string,
    child: ChildProcess,
  ) {
    this.#child = child
    LocalSandbox.running.add(this)
    child.on('message', (reply: Reply) => {
      this.#pending.get(reply.id)?.resolve(reply)
      this.#pending.delete(reply.id)
    })
    child.once('exit', (code, signal) => {
      LocalSandbox.running.delete(this)
      for (const { reject } of this.#pending.values()) reject(new Error(`sandbox ${sandboxId} died (${signal ?? code})`))
      this.#pending.clear()
    })
  }

  /** Runs JavaScript (a function body); resolves to an e2b-like execution. */
  async runCode(code: string): Promise<{ results: unknown[]; error?: { name: string; value: string } }> {
    const reply = await this.#call(code)
    return { results: reply.result === undefined ? [] : [reply.result], ...(reply.error ? { error: reply.error } : {}) }
  }

  /** The process id, for logs (and for checking nothing is left behind). */
  get pid(): number | undefined {
    return this.#child.pid
  }

  /** Kills the process, as a crash would (what the chaos schedule does). */
  crash(): void {
    this.#child.kill('SIGKILL')
  }

  async kill(): Promise<boolean> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return false
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.kill('SIGKILL')
    await exited
    return true
  }

  #call(code: string): Promise<Reply> {
    if (!this.#child.connected) return Promise.reject(new Error(`sandbox ${this.sandboxId} is not running`))
    const id = this.#id++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#child.send({ id, code }, (error) => {
        if (!error) return
        this.#pending.delete(id)
        reject(new Error(`sandbox ${this.sandboxId} is not reachable: ${error.message}`))
      })
    })
  }
}
