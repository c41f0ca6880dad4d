import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** SHA-256 of `text`: tokens are compared as digests of one length, so a token's length leaks nothing. */
export function digestOf(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** How a request's credentials compare with the token: none given (or not Bearer), wrong, or right. */
export type Credentials = 'missing' | 'wrong' | 'right'

const BEARER = /^bearer +([^ ]+) *$/i

/**
 * Checks the request's `Authorization: Bearer <token>` against the token's digest, in constant
 * time (`timingSafeEqual` over SHA-256 digests, so neither the content nor the length of the
 * token shows in the time taken).
 */
export function checkBearer(req: IncomingMessage, tokenDigest: Buffer): Credentials {
  const header = req.headers.authorization
  const match = typeof header === 'string' ? BEARER.exec(header) : null
  if (!match) return 'missing'
  return timingSafeEqual(digestOf(match[1]!), tokenDigest) ? 'right' : 'wrong'
}

/** The `WWW-Authenticate` header of a 401 (RFC 6750): an `invalid_token` error when a token was given. */
export function challenge(credentials: Credentials): string {
  return credentials === 'wrong' ? 'Bearer realm="breakwater", error="invalid_token"' : 'Bearer realm="breakwater"'
}
