import type { IncomingMessage } from 'node:http'

/** A request body read as JSON, or why it was refused (the status and message of the answer). */
export type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; message: string }

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Whether the request says its body is JSON: `application/json` (or `application/<x>+json`),
 * with no charset but UTF-8.
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false
  const [type, ...params] = header.split(';').map((part) => part.trim().toLowerCase())
  if (!/^application\/([a-z0-9.-]+\+)?json$/.test(type ?? '')) return false
  return params.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p))
}

/**
 * Reads the request body as JSON, keeping at most `limit` bytes: a declared `Content-Length`
 * past it is refused before a byte is read, and a body that grows past it stops being read at
 * once (413). A body still arriving after `timeoutMs` is refused too (408), so a client that
 * drips a body forever holds nothing for long. A body a framework already read (Express with
 * `express.json()` mounted first) is taken from `req.body`.
 */
export function readJsonBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<BodyResult> {
  if (req.readableEnded) return Promise.resolve(alreadyRead(req))
  // Its client left before the request reached us: no data, end or close event will come.
  if (req.destroyed) return Promise.resolve(CUT)
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  if (declared > limit) return Promise.resolve(tooLarge(limit))
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (result: BodyResult) => {
      clearTimeout(timer)
      req.off('data', onData).off('end', onEnd).off('error', onCut).off('close', onCut)
      if (!result.ok) req.pause() // stop reading: the socket is closed once the answer is sent
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) finish(tooLarge(limit))
      else chunks.push(chunk)
    }
    const onEnd = () => finish(parse(Buffer.concat(chunks, size)))
    const onCut = () => finish(CUT)
    const timer = setTimeout(() => finish({ ok: false, status: 408, message: `the request body took longer than ${timeoutMs} ms to arrive` }), timeoutMs)
    req.on('data', onData).on('end', onEnd).on('error', onCut).on('close', onCut)
  })
}

const CUT: BodyResult = Object.freeze({ ok: false, status: 400, message: 'the request body was cut short' })

function tooLarge(limit: number): BodyResult {
  return { ok: false, status: 413, message: `the request body must be at most ${limit} bytes` }
}

function parse(bytes: Buffer): BodyResult {
  let text: string
  try {
    text = UTF8.decode(bytes)
  } catch {
    return { ok: false, status: 400, message: 'the request body must be UTF-8 JSON, but it is not valid UTF-8' }
  }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (e) {
    return { ok: false, status: 400, message: `the request body must be JSON: ${(e as Error).message}` }
  }
}

/** The body of a request whose stream someone else consumed: the object they parsed, if any. */
function alreadyRead(req: IncomingMessage): BodyResult {
  const body = Object.hasOwn(req, 'body') ? (req as { body?: unknown }).body : undefined
  if (typeof body === 'object' && body !== null && !Buffer.isBuffer(body)) return { ok: true, value: body }
  return { ok: false, status: 500, message: 'the request body was read before breakwater saw it: mount breakwaterHttp before body parsers' }
}
