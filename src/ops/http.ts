/**
 * breakwater/http: health, admin and event routes for a registry (`breakwaterHttp`), and
 * `protect`, which puts a server's own routes behind a breaker. Framework-free: mounted as-is in
 * `node:http`, as Express 5 middleware or as a Fastify 5 plugin.
 */
export * from './handler.js'
export * from './protect.js'
