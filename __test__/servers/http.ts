// A real HTTP server on loopback that does what a test tells it: answer JSON, fail with any status
// (with Retry-After), stall, reset the connection, or fail a set number of times first.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface TestServer {
  url: string
  /** Requests received, by path (without the query). */
  hits: Map<string, number>
  close(): Promise<void>
}

export async function startHttpServer(): Promise<TestServer> {
  const hits = new Map<string, number>()
  const sockets = new Set<Socket>()
  const flaky = new Map<string, number>()
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1)
    const body = await read(req)
    const [, route, arg] = url.pathname.split('/')
    switch (route) {
      case 'quotes':
        return json(res, 200, { symbol: arg, bid: 101.5, query: Object.fromEntries(url.searchParams), auth: req.headers.authorization ?? null })
      case 'orders':
        return json(res, 201, { id: 'o-1', received: body === '' ? null : JSON.parse(body), method: req.method })
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
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end('{"truncated":')
      case 'empty':
        res.writeHead(204)
        return res.end()
      case 'stall':
        return // never answers; closed with the server
      case 'reset':
        return req.socket.destroy()
      default:
        return json(res, 404, { error: 'no such route' })
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (data += chunk))
    req.on('end', () => resolve(data))
  })
}
