import { isThenable, warn } from '../callbacks.js'
import { describe, typeError } from '../validate.js'

/** One admin request as the log sees it: who, what, and how it ended. */
export interface AdminLogEntry {
  /** The value of the `actor` header when configured and sent, else the remote address. */
  actor: string
  /** The remote address of the connection (`null` once the socket is gone). */
  address: string | null
  /** The route: `POST /breakers/:name/state` or `POST /breakers/state`, with the prefix left out. */
  route: string
  /** The action asked for; `null` when the request was refused before its body was read. */
  action: string | null
  /** The breakers named (decoded), `'all'`, or `null` when not known. */
  breakers: string[] | 'all' | null
  /** The `duration` given, as sent. */
  duration: string | number | null
  /** The `reason` given. */
  reason: string | null
  /** The HTTP status of the answer. */
  status: number
  /** `'done'`, or why the request was refused (the answer's message). */
  result: string
  /** Per breaker, for an action on several: its status and the state it moved from and to. */
  results?: Array<{ name: string; status: number; from?: string; to?: string }>
}

/** A pino-shaped logger: `info(object, message)` for actions done, `warn(object, message)` for refused ones. */
export interface AdminLogger {
  info(entry: object, message?: string): unknown
  warn(entry: object, message?: string): unknown
}

/** A function that receives every admin log entry. */
export type AdminLog = (entry: AdminLogEntry) => void

const MESSAGE = 'breakwater admin action'

/** Reads the `log` option into one function that never throws. */
export function readLog(log: unknown): AdminLog {
  if (log === undefined) return safely(consoleLog)
  if (log === false) return () => {}
  if (typeof log === 'function') return safely(log as AdminLog)
  if (typeof log === 'object' && log !== null) {
    const { info, warn: warning } = log as Partial<AdminLogger>
    if (typeof info === 'function' && typeof warning === 'function') {
      return safely((entry) => (entry.status < 400 ? info.call(log, entry, MESSAGE) : warning.call(log, entry, MESSAGE)))
    }
  }
  throw typeError(`log must be a logger with info and warn methods (pino-shaped), a function, or false, but was ${describe(log)}`)
}

/** The default: one JSON line per action (the console swallows write errors, so this never throws). */
function consoleLog(entry: AdminLogEntry): void {
  const line = JSON.stringify({ msg: MESSAGE, ...entry })
  if (entry.status < 400) console.info(line)
  else console.warn(line)
}

/** `log`, made safe: what it throws or rejects with becomes a process warning, never the request's problem. */
function safely(log: (entry: AdminLogEntry) => unknown): AdminLog {
  return (entry) => {
    try {
      const returned = log(entry)
      if (isThenable(returned)) returned.then(undefined, logFailed)
    } catch (error) {
      logFailed(error)
    }
  }
}

function logFailed(error: unknown): void {
  warn('the breakwater admin log threw', error, 'BREAKWATER_ADMIN_LOG')
}
