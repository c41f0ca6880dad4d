// Starting and stopping a loopback HTTP server, shared by the demo's services.
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Running {
  server: Server
  url: string
  /** Stops accepting, ends idle and open connections, and resolves once the server is closed. */
  close(): Promise<void>
}

/** Listens on 127.0.0.1:`port` (0: a free port). */
export function listen(handler: RequestListener, port = 0): Promise<Running> {
  const server = createServer(handler)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      const { port: bound } = server.address() as AddressInfo
      const close = () =>
        new Promise<void>((done) => {
          server.close(() => done())
          server.closeAllConnections() // keep-alive sockets of our own clients would hold it open
        })
      resolve({ server, url: `http://127.0.0.1:${bound}`, close })
    })
  })
}

export function sendJson(res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}
