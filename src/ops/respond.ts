import type { ServerResponse } from 'node:http'

/**
 * Whole seconds for a `Retry-After` header: rounded up, so a client that waits them never comes
 * back early; at least 1 (0 would invite a retry at once).
 */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}

/** Answers with `body` as JSON (no caching: every view is of now). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}
