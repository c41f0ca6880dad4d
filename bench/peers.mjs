// The peer libraries the suite compares against: the project's own devDependencies, or, with
// BENCH_PEERS=<folder>, the copies installed in <folder>/node_modules (e.g. opossum 10 and
// cockatiel 4, which declare Node >= 22: run that lane under a newer Node, see bench/README.md).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const folder = process.env.BENCH_PEERS ? resolve(process.env.BENCH_PEERS) : null
const from = createRequire(folder ? join(folder, 'package.json') : import.meta.url)

async function load(name) {
  const module = folder ? await import(pathToFileURL(from.resolve(name)).href) : await import(name)
  return { module, version: JSON.parse(readFileSync(from.resolve(`${name}/package.json`), 'utf8')).version }
}

const opossum = await load('opossum')
const cockatiel = await load('cockatiel')

/** opossum's CircuitBreaker class. */
export const OpossumBreaker = opossum.module.default
/** cockatiel's exports. */
export const ck = cockatiel.module
/** Which versions ran, and from where. */
export const peerVersions = { opossum: opossum.version, cockatiel: cockatiel.version, peersFrom: folder ?? 'devDependencies' }
