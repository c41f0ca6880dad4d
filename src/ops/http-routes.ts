/** A route of `breakwaterHttp`, found from a request's method and path. */
export type Route =
  | { kind: 'list' }
  | { kind: 'breaker'; name: string }
  | { kind: 'health' }
  | { kind: 'events' }
  | { kind: 'act'; name: string }
  | { kind: 'actMany' }
  // dashboard: the page, its assets, and the read-only policy routes it shows
  | { kind: 'dashboard'; asset: DashboardAsset }
  | { kind: 'bulkheads' }
  | { kind: 'retries' }

/** A file of the dashboard: the page, or one of its assets under `dashboard/`; `''` is the page with a trailing `/`. */
export type DashboardAsset = 'page' | '' | 'app.js' | 'app.css' | 'icon.svg'
const DASHBOARD_ASSETS: readonly string[] = ['app.js', 'app.css', 'icon.svg']

/** What a request's method and path ask for: a route, a known path with another method, a bad path, or nothing of ours. */
export type Match = { found: Route } | { allow: string } | { bad: string } | undefined

/**
 * Finds the route of `method` and the request target `url` under `prefix`. Path segments are
 * percent-decoded one by one, so a breaker name may hold `/` (sent as `%2F`) or any Unicode.
 * The admin routes exist only when `admin` is true, the dashboard only when `dashboard` is.
 * `undefined`: the path is not ours.
 */
export function matchRoute(method: string | undefined, url: string | undefined, prefix: string, admin: boolean, dashboard = true): Match {
  const path = pathOf(url ?? '/')
  if (path === undefined) return undefined
  const rest = path === prefix ? '/' : path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined
  if (rest === undefined) return undefined
  let segments: string[]
  try {
    segments = rest
      .split('/')
      .slice(1)
      .map((segment) => decodeURIComponent(segment))
  } catch {
    return { bad: 'the path is not valid percent-encoded UTF-8' }
  }
  const get = method === 'GET'
  const post = method === 'POST'
  const [first, name, last, ...more] = segments
  if (more.length > 0 || first === undefined) return undefined
  if (first === 'health' || first === 'events') {
    if (name !== undefined) return undefined
    return get ? { found: { kind: first } } : { allow: 'GET' }
  }
  // dashboard: the page and its assets (when on), bulkheads and retries (always)
  if (first === 'bulkheads' || first === 'retries') {
    if (name !== undefined) return undefined
    return get ? { found: { kind: first } } : { allow: 'GET' }
  }
  if (first === 'dashboard') {
    if (!dashboard || last !== undefined) return undefined
    if (name !== undefined && name !== '' && !DASHBOARD_ASSETS.includes(name)) return undefined
    const asset = (name ?? 'page') as DashboardAsset
    return get ? { found: { kind: 'dashboard', asset } } : { allow: 'GET' }
  }
  if (first !== 'breakers') return undefined
  if (name === undefined) return get ? { found: { kind: 'list' } } : { allow: 'GET' }
  if (name === '') return undefined
  if (last === undefined) {
    if (get) return { found: { kind: 'breaker', name } }
    if (name === 'state' && admin) return post ? { found: { kind: 'actMany' } } : { allow: 'GET, POST' }
    if (name === 'state' && post) return undefined // the admin route does not exist without a token
    return { allow: 'GET' }
  }
  if (last !== 'state' || !admin) return undefined
  return post ? { found: { kind: 'act', name } } : { allow: 'POST' }
}

/** The path of a request target, still percent-encoded: origin form (`/a?b`) or absolute form (`http://h/a`). */
function pathOf(url: string): string | undefined {
  if (url.startsWith('/')) {
    const end = url.search(/[?#]/)
    return end === -1 ? url : url.slice(0, end)
  }
  try {
    return new URL(url).pathname
  } catch {
    return undefined
  }
}
