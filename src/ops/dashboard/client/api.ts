// The handler's routes, relative to the page (`<prefix>/dashboard` reads `<prefix>/breakers`):
// the page reaches nothing but the origin it came from.
import type { CardAction, TransitionEvent } from './types.js'

/** How long a read may take before it counts as failed. */
const READ_TIMEOUT_MS = 5000

/** An answer that was not what the page asked for, with the handler's own message when it sent one. */
export class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** GETs a route's JSON; an `Error` saying what went wrong otherwise. */
export async function getJson<T>(route: string): Promise<T> {
  let response: Response
  try {
    response = await fetch(route, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(READ_TIMEOUT_MS) })
  } catch (error) {
    throw new Error(`GET ${route} did not answer (${(error as Error).message})`)
  }
  if (!response.ok) throw await failure(`GET ${route}`, response)
  return (await response.json()) as T
}

/** Asks the admin route to do `action` to the breaker `name`, with the bearer token. */
export async function postAction(name: string, action: CardAction, token: string): Promise<{ from: string; to: string }> {
  const route = `breakers/${encodeURIComponent(name)}/state`
  const response = await fetch(route, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ action, reason: 'dashboard' }),
  })
  if (!response.ok) throw await failure(`POST ${route}`, response)
  return (await response.json()) as { from: string; to: string }
}

async function failure(what: string, response: Response): Promise<HttpError> {
  let message = response.statusText
  try {
    const body = (await response.json()) as { message?: unknown }
    if (typeof body.message === 'string') message = body.message
  } catch {
    // not JSON: the status text says enough
  }
  return new HttpError(response.status, `${what} answered ${response.status}: ${message}`)
}

export type FeedStatus = 'connecting' | 'live' | 'reconnecting'

/**
 * The `events` stream, reopened after it drops (a server restart, a proxy's timeout, a 503 when
 * too many streams are open): one second after the first failure, doubling up to five.
 */
export class EventFeed {
  readonly #onEvent: (event: TransitionEvent) => void
  readonly #onStatus: (status: FeedStatus) => void
  #source: EventSource | undefined
  #delayMs = 1000

  constructor(onEvent: (event: TransitionEvent) => void, onStatus: (status: FeedStatus) => void) {
    this.#onEvent = onEvent
    this.#onStatus = onStatus
  }

  open(): void {
    const source = new EventSource('events')
    this.#source = source
    source.addEventListener('open', () => {
      this.#delayMs = 1000
      this.#onStatus('live')
    })
    source.addEventListener('state', (message) => this.#onEvent(JSON.parse((message as MessageEvent<string>).data) as TransitionEvent))
    source.addEventListener('error', () => {
      // EventSource gives up for good on some failures (a 503): reopen ourselves, always.
      source.close()
      if (this.#source !== source) return
      this.#onStatus('reconnecting')
      setTimeout(() => this.open(), this.#delayMs)
      this.#delayMs = Math.min(this.#delayMs * 2, 5000)
    })
  }
}
