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

/**
 * How long an admin request may take: past it the page stops waiting and says so (the action may
 * still have been done: the card shows the state).
 */
export const ACT_TIMEOUT_MS = 10_000

/**
 * Asks the admin route to do `action` to the breaker `name`, with the bearer token. Through
 * `breakers/state` with the name in the body, not `breakers/<name>/state`: a browser resolves a
 * name of `.` or `..` out of the path (`%2e` too), which would send the token to another route.
 */
export async function postAction(name: string, action: CardAction, token: string): Promise<{ from: string; to: string }> {
  const route = 'breakers/state'
  // A timer of the page's own (not AbortSignal.timeout): a hung handler must not hold the button for ever.
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), ACT_TIMEOUT_MS)
  try {
    const response = await fetch(route, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action, names: [name], reason: 'dashboard' }),
      signal: abort.signal,
    })
    if (!response.ok) throw await failure(`POST ${route}`, response)
    const { results } = (await response.json()) as { results: { status: number; from?: string; to?: string; message?: string }[] }
    const result = results[0]!
    if (result.status !== 200) throw new HttpError(result.status, `POST ${route} answered ${result.status} for this breaker: ${result.message ?? ''}`)
    return { from: result.from!, to: result.to! }
  } catch (error) {
    if (!abort.signal.aborted) throw error
    throw new Error(`POST ${route} did not answer within ${ACT_TIMEOUT_MS / 1000} s: the card shows whether it was done`)
  } finally {
    clearTimeout(timer)
  }
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
