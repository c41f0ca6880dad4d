// A real redis-server for tests: a fresh server on a free loopback port, in a temporary directory,
// with no persistence (a restart after `kill -9` starts empty, as a crashed cache would), that a
// test can kill and start again on the same port. Specs declared with `withRedis(test)` are
// skipped where redis-server is missing, or fail there when `CI=true`.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestFn } from 'ava'
import { needs } from './needs.ts'

export interface TestRedis {
  port: number
  url: string
  /** Its working directory (log, pid file). */
  dir: string
  /** `kill -9` of the server; resolves once the port no longer accepts connections. */
  crash(): Promise<void>
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>
  /** `redis-cli` with `args` against the server: its stdout, trimmed. */
  cli(...args: string[]): string
  destroy(): void
}

/** Whether `redis-server` and `redis-cli` run here. */
export function hasRedis(): boolean {
  const ok = (program: string) => spawnSync(program, ['--version'], { stdio: 'ignore' }).status === 0
  return ok('redis-server') && ok('redis-cli')
}

/** `test` itself where redis-server is, else the stand-in of `needs` (skipped, or failing under CI). */
export function withRedis<Context = unknown>(ava: TestFn<Context>): TestFn<Context> {
  return needs('redis-server', hasRedis(), 'looked for redis-server and redis-cli on PATH; apt-get install -y redis-server', ava)
}

/** A free loopback port (the OS picks it; it is released at once for the server to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Whether something accepts connections on `port` (one attempt). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Polls `check` on I/O (not on a clock condition) until it holds, up to `attempts` times. */
async function until(check: () => Promise<boolean>, what: string, attempts = 400): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`redis test server: ${what} did not happen in time`)
}

/** Starts a redis-server on a free loopback port. */
export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-redis-'))
  const port = await freePort()
  const pidFile = join(dir, 'redis.pid')
  const cli = (...args: string[]) =>
    execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  const pong = async () => {
    try {
      return cli('ping') === 'PONG'
    } catch {
      return false
    }
  }
  const start = async () => {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--daemonize',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        join(dir, 'redis.log'),
        '--pidfile',
        pidFile,
      ],
      { stdio: 'ignore' },
    )
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-server exited with ${code}; see ${dir}/redis.log`))))
    })
    await until(pong, 'PING after start')
  }
  const pid = () => Number(readFileSync(pidFile, 'utf8').trim())
  const crash = async () => {
    try {
      process.kill(pid(), 'SIGKILL')
    } catch {
      // already gone
    }
    await until(async () => !(await accepts(port)), 'the port closing after kill -9')
    rmSync(pidFile, { force: true })
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    crash,
    start,
    cli,
    destroy() {
      try {
        process.kill(pid(), 'SIGKILL')
      } catch {
        // not running
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
