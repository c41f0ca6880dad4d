import type { ServerResponse } from 'node:http'
import { DASHBOARD } from '../generated/dashboard.js'
import type { DashboardAsset } from './http-routes.js'

/**
 * The dashboard's Content-Security-Policy: everything from the handler's own origin, nothing
 * inline, no plugin, no frame around it (its admin buttons must not be clickjacked).
 */
export const DASHBOARD_CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

/** Where the page says whether the handler has admin routes (a token): the page shows the token box only then. */
const ADMIN_MARK = '__BREAKWATER_ADMIN__'

const TYPES: Record<Exclude<DashboardAsset, 'page' | ''>, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
}

/** The page's HTML, with or without the token box. */
const pages = {
  admin: DASHBOARD.page.replace(ADMIN_MARK, 'on'),
  readOnly: DASHBOARD.page.replace(ADMIN_MARK, 'off'),
}

/** Answers `GET /dashboard` (the page) and `GET /dashboard/<asset>`, with the CSP on each. */
export function sendDashboard(res: ServerResponse, asset: DashboardAsset, admin: boolean): void {
  if (asset === '' || (asset === 'page' && endsWithSlash(res.req?.url))) {
    // The page's links are relative to `<prefix>/dashboard`: a trailing slash would break them.
    // The page itself with one: a router that ignores trailing slashes (Fastify's
    // `ignoreTrailingSlash`) hands `/dashboard/` to the page's route.
    res.writeHead(308, { location: '../dashboard', 'content-length': '0', 'cache-control': 'no-store' })
    res.end()
    return
  }
  const [type, body] =
    asset === 'page'
      ? ['text/html; charset=utf-8', admin ? pages.admin : pages.readOnly]
      : [TYPES[asset], asset === 'app.js' ? DASHBOARD.script : asset === 'app.css' ? DASHBOARD.style : DASHBOARD.icon]
  res.writeHead(200, {
    'content-type': type,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-cache',
    'content-security-policy': DASHBOARD_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  })
  res.end(body)
}

/** Whether a request target's path (before any query) ends with `/`. */
function endsWithSlash(url: string | undefined): boolean {
  const path = url?.split(/[?#]/, 1)[0] ?? ''
  return path.endsWith('/')
}
