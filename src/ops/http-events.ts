import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Disposer } from '../events.js'
import type { StateChange } from '../state.js'
import { sendJson } from './respond.js'

/** What the event stream needs of a registry: transitions made in any thread. */
export interface ChangeSource {
  onStateChange(listener: (change: StateChange) => void): Disposer
}

/**
 * A client with this much unsent that has not drained for `STALL_MS` is too slow to follow: it is
 * dropped rather than buffered for. A burst (a bulk admin action over thousands of breakers, all in
 * one tick) goes past it in a moment and drains: a client that reads is kept.
 */
const MAX_UNSENT_BYTES = 1_048_576
const STALL_MS = 5_000
/** Past this, a client is dropped at once, however recently it drained: memory stays bounded. */
const HARD_MAX_UNSENT_BYTES = 16 * MAX_UNSENT_BYTES

/**
 * The open `GET /events` streams: each one has its own registry listener, removed when the
 * client goes away; one heartbeat timer (unref'd) serves them all while any is open.
 */
export class EventStreams {
  readonly #source: ChangeSource
  readonly #heartbeatMs: number
  readonly #max: number
  readonly #open = new Set<ServerResponse>()
  /** Since when each stream has had more than `MAX_UNSENT_BYTES` waiting without a drain. */
  readonly #stalledSince = new Map<ServerResponse, number>()
  #heartbeat: NodeJS.Timeout | undefined

  constructor(source: ChangeSource, heartbeatMs: number, max: number) {
    this.#source = source
    this.#heartbeatMs = heartbeatMs
    this.#max = max
  }

  /** How many streams are open. */
  get size(): number {
    return this.#open.size
  }

  /** Answers `req` with a stream of every transition from now on, until the client goes away. */
  open(req: IncomingMessage, res: ServerResponse): void {
    // A client that left before the request reached us (a slow middleware or hook before this
    // one): its response already closed, so no `close` would ever come to end a stream.
    if (res.destroyed || res.writableEnded) return
    if (this.#open.size >= this.#max) {
      sendJson(res, 503, { error: 'ServiceUnavailable', message: `too many event streams are open (at most ${this.#max})` }, { 'retry-after': '5' })
      return
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no', // nginx would otherwise hold events back
    })
    res.write(': breakwater transitions\n\n')
    const stop = this.#source.onStateChange((change) => this.#send(res, `event: state\ndata: ${JSON.stringify(wire(change))}\n\n`))
    const end = () => {
      if (!this.#open.delete(res)) return
      this.#stalledSince.delete(res)
      stop()
      if (this.#open.size === 0) this.#stopHeartbeat()
    }
    res.once('close', end)
    res.on('drain', () => this.#stalledSince.delete(res))
    res.on('error', end)
    req.on('error', end)
    this.#open.add(res)
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#heartbeatMs).unref()
  }

  /** Ends every open stream (for a server that shuts down: open streams would hold it up). */
  closeAll(): void {
    for (const res of [...this.#open]) res.end()
  }

  #beat(): void {
    for (const res of this.#open) this.#send(res, ': heartbeat\n\n')
  }

  #send(res: ServerResponse, text: string): void {
    if (res.destroyed || res.writableEnded) return
    const unsent = res.writableLength
    if (unsent > MAX_UNSENT_BYTES) {
      const now = Date.now()
      const since = this.#stalledSince.get(res)
      if (since === undefined) this.#stalledSince.set(res, now)
      if (unsent > HARD_MAX_UNSENT_BYTES || (since !== undefined && now - since >= STALL_MS)) {
        res.destroy()
        return
      }
    }
    res.write(text)
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }
}

/** A transition as the stream sends it: the documented fields only, every key present. */
function wire(change: StateChange) {
  return {
    name: change.name,
    from: change.from,
    to: change.to,
    reason: change.reason,
    at: change.at,
    retryAfterMs: change.retryAfterMs ?? null,
  }
}
