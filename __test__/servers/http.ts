// A real HTTP server on loopback that does what a test tells it: answer JSON, fail with any status
// (with Retry-After), stall, reset the connection, fail a set number of times first, or misbehave
// the way broken servers do (huge or endless bodies, a body that stops or is cut, a slow drip, a
// crash and a restart on the same port).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { gzipSync } from 'node:zlib'

export interface TestServer {
  url: string
  /** Requests received, by path (without the query). */
  hits: Map<string, number>
  /** Responses whose connection closed before the server finished sending them, by path. */
  cut: Map<string, number>
  /** When the server was killed (by `kill()` or a request to `/kill`), in `performance.now()` milliseconds. */
  readonly killedAt: readonly number[]
  /** Whether it is listening (false between a kill and its restart). */
  readonly up: boolean
  /** Drops every connection and stops listening, as a crash would; listens again on the same port after `downMs`. */
  kill(downMs: number): Promise<void>
  close(): Promise<void>
}

/** 64 KiB of `a`, written again and again for big bodies. */
const CHUNK = Buffer.alloc(65_536, 'a')

export async function startHttpServer(): Promise<TestServer> {
  const hits = new Map<string, number>()
  const cut = new Map<string, number>()
  const sockets = new Set<Socket>()
  const flaky = new Map<string, number>()
  const killedAt: number[] = []
  let up = false
  let closed = false
  let restart: NodeJS.Timeout | undefined
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    count(hits, url.pathname)
    res.on('close', () => {
      if (!res.writableFinished) count(cut, url.pathname)
    })
    const body = await read(req)
    const [, route, arg] = url.pathname.split('/')
    switch (route) {
      case 'quotes':
        return json(res, 200, { symbol: arg, bid: 101.5, query: Object.fromEntries(url.searchParams), auth: req.headers.authorization ?? null })
      case 'orders':
        return json(res, 201, { id: 'o-1', received: body === '' ? null : JSON.parse(body), method: req.method })
      case 'echo':
        return json(res, 200, { method: req.method, headers: req.headers, body })
      case 'status': {
        const after = url.searchParams.get('after')
        if (after !== null) res.setHeader('retry-after', after)
        return json(res, Number(arg), { error: `status ${arg}` })
      }
      case 'flaky': {
        const failed = flaky.get(url.pathname) ?? 0
        if (failed < Number(arg)) {
          flaky.set(url.pathname, failed + 1)
          return json(res, 503, { error: 'warming up' })
        }
        return json(res, 200, { ok: true, after: failed })
      }
      case 'text':
        res.writeHead(200, { 'content-type': 'text/plain' })
        return res.end('plain words')
      case 'garbage':
        res.writeHead(Number(url.searchParams.get('status') ?? 200), { 'content-type': 'application/json' })
        return res.end('{"truncated":')
      case 'empty':
        res.writeHead(204)
        return res.end()
      case 'stall':
        return // never answers; closed with the server
      case 'reset':
        return req.socket.destroy()
      case 'big': // `arg` bytes, announced in Content-Length (`?declare=no`: chunked, unannounced)
        return pump(res, Number(url.searchParams.get('status') ?? 200), arg === 'endless' ? Infinity : Number(arg), url.searchParams.get('declare') !== 'no')
      case 'gzip': {
        // `arg` bytes of `a`, gzipped (a few KB on the wire for megabytes decoded)
        const zipped = gzipSync(Buffer.alloc(Number(arg), 'a'))
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(zipped.length) })
        return res.end(zipped)
      }
      case 'hang-body': // headers and half a body, then nothing
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '64' })
        return res.write('{"half":')
      case 'cut-body': // headers and half a body, then the connection is destroyed
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '64' })
        return res.write('{"half":', () => req.socket.destroy())
      case 'drip': // a JSON body, one byte every `every` ms
        return drip(res, JSON.stringify({ dripped: arg }), Number(url.searchParams.get('every') ?? 10))
      case 'kill': // a request that slipped in while the server is going down is cut like the rest
        if (!up) return req.socket.destroy()
        return void kill(Number(arg ?? 0))
      default:
        return json(res, 404, { error: 'no such route' })
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        up = true
        resolve()
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      up = false
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  async function kill(downMs: number): Promise<void> {
    if (!up || closed) return
    killedAt.push(performance.now())
    await stop()
    restart = setTimeout(() => {
      if (!closed) listen(port).catch(() => {}) // the port was taken meanwhile: stays down
    }, downMs)
  }

  await listen(0)
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    cut,
    killedAt,
    get up() {
      return up
    },
    kill,
    close: async () => {
      closed = true
      clearTimeout(restart)
      if (up) await stop()
    },
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}

/** Sends `bytes` of `a` as fast as the client reads them (Infinity: until the client goes). */
function pump(res: ServerResponse, status: number, bytes: number, declare: boolean): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...(declare && Number.isFinite(bytes) ? { 'content-length': String(bytes) } : {}) })
  let left = bytes
  const write = () => {
    while (left > 0 && !res.destroyed) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left)
      left -= chunk.length
      if (!res.write(chunk)) return void res.once('drain', write)
    }
    if (!res.destroyed) res.end()
  }
  write()
}

function drip(res: ServerResponse, text: string, everyMs: number): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) })
  let i = 0
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer)
    res.write(text[i++])
    if (i === text.length) {
      clearInterval(timer)
      res.end()
    }
  }, everyMs)
  res.on('close', () => clearInterval(timer))
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (data += chunk))
    req.on('end', () => resolve(data))
    req.on('error', () => resolve(data))
  })
}
