// Installs and builds what a fresh clone lacks: npm packages, the native addon (needs Rust) and
// dist/ (TypeScript). `npm start`, `npm test` and the benchmarks run it first; on a clone that
// has everything it only compares a few file times.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const env = { ...process.env }
// better-sqlite3 compiles from source: node-gyp then needs Node's headers, which Debian's nodejs
// installs under /usr (without this node-gyp tries to download them).
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr'
const run = (why, cmd) => {
  console.error(`breakwater: ${why}: ${cmd}`)
  try {
    execSync(cmd, { cwd: root, stdio: 'inherit', env })
  } catch {
    console.error(`breakwater: \`${cmd}\` failed (see above); fix that and run again.`)
    process.exit(1)
  }
}
const newest = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((t, e) => Math.max(t, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs), 0)
const has = (cmd) => {
  try {
    execSync(`${cmd} --version`, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

if (!existsSync(join(root, 'node_modules/.package-lock.json'))) run('installing packages (first run: a few minutes)', 'npm ci --no-audit --no-fund')

const addon = readdirSync(root).find((f) => f.startsWith('breakwater.') && f.endsWith('.node'))
const rust = Math.max(newest(join(root, 'crates/breakwater/src')), newest(join(root, 'crates/breakwater-node/src')))
if (!addon || statSync(join(root, addon)).mtimeMs < rust) {
  if (!has('cargo')) {
    console.error(
      'breakwater: the native addon is missing or older than crates/, and building it needs Rust (cargo): install it from rustup.rs, then run again.',
    )
    process.exit(1)
  }
  run(addon ? 'the native addon is older than crates/' : 'building the native addon', 'npm run build:native')
}
if (!existsSync(join(root, 'dist/index.js')) || statSync(join(root, 'dist/index.js')).mtimeMs < newest(join(root, 'src'))) {
  run('building dist/', 'npm run build:ts')
}
