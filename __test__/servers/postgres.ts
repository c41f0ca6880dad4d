// A real PostgreSQL server for tests: a new cluster in a temporary directory, on a free loopback
// port, that a test can stop and start again (a restart mid-run). Runs as `postgres` when root.
import { execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestPostgres {
  port: number
  connectionString: string
  stop(): void
  start(): void
  destroy(): void
}

function binDir(): string {
  const root = '/usr/lib/postgresql'
  const versions = readdirSync(root).sort((a, b) => Number(a) - Number(b))
  if (versions.length === 0) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)')
  return join(root, versions.at(-1)!, 'bin')
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir()
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-pg-'))
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }))
    chownSync(dir, id('-u'), id('-g'))
  }
  const run = (program: string, args: string[]) => {
    const quoted = [join(bin, program), ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    if (asRoot) execFileSync('su', ['postgres', '-c', quoted], { stdio: 'pipe' })
    else execFileSync(join(bin, program), args, { stdio: 'pipe' })
  }
  const data = join(dir, 'data')
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-instructions', '-E', 'UTF8'])
  const port = await freePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', options, 'start'])
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'])
  start()
  return {
    port,
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    destroy() {
      try {
        stop()
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
