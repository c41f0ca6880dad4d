// The demo's command line: `--duration 30s --headless --json --port 8080 --db ./ledger.db`.
// Every mistake is refused before anything starts, with a message that says what was wrong.
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface DemoOptions {
  /** How long to run, in ms; undefined: until Ctrl-C (the chaos schedule then repeats). */
  durationMs: number | undefined
  /** No prompts, no colours: print a summary at the end (what CI and the specs use). */
  headless: boolean
  /** Print JSON lines instead of text: events as they happen, the summary last. */
  json: boolean
  /** The port of the ops server (dashboard, /breakers, /events, /metrics); 0 picks a free one. */
  port: number
  /** The SQLite ledger's file; kept between runs, checked at every start. */
  dbPath: string
}

export const USAGE = `Usage: npm start -- [--duration 30s] [--headless] [--json] [--port 8080] [--db path]
  --duration  how long to run (ms, s, m or h; at least 4s); default: until Ctrl-C
  --headless  print a summary at the end instead of a live view (implied by --json)
  --json      print JSON lines: events as they happen, the summary last
  --port      port of the dashboard and ops routes (0: any free one); default 8080
  --db        the SQLite ledger file; default ${join(tmpdir(), 'breakwater-demo', 'ledger.db')}`

/** The shortest run that still goes through every fault of the schedule. */
export const MIN_DURATION_MS = 4_000

/** A command-line mistake: main prints it with the usage and exits with code 2. */
export class OptionError extends Error {
  override name = 'OptionError'
}

/** Reads `argv` (without node and the script); throws an `OptionError` naming the mistake. */
export function parseOptions(argv: readonly string[]): DemoOptions {
  const options: DemoOptions = { durationMs: undefined, headless: false, json: false, port: 8080, dbPath: join(tmpdir(), 'breakwater-demo', 'ledger.db') }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new OptionError(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--duration':
        options.durationMs = parseDuration(value())
        break
      case '--headless':
        options.headless = true
        break
      case '--json':
        options.json = options.headless = true
        break
      case '--port':
        options.port = parsePort(value())
        break
      case '--db':
        options.dbPath = value()
        if (options.dbPath === '') throw new OptionError('--db must be a file path, but was empty')
        break
      default:
        throw new OptionError(`unknown option ${JSON.stringify(arg)}`)
    }
  }
  return options
}

function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim())
  if (!match) throw new OptionError(`--duration must be a number with a unit (ms, s, m or h), like 30s or 2m, but was ${JSON.stringify(text)}`)
  const ms = Number(match[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h']
  if (ms < MIN_DURATION_MS)
    throw new OptionError(`--duration must be at least ${MIN_DURATION_MS / 1000}s (time for every fault and its recovery), but was ${text}`)
  if (ms > 86_400_000) throw new OptionError(`--duration must be at most 24h, but was ${text}`)
  return ms
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65_535) throw new OptionError(`--port must be a whole number from 0 to 65535, but was ${JSON.stringify(text)}`)
  return port
}
