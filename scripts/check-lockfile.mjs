// Checks that package-lock.json lets `npm ci` install on every platform: each dependency and
// optional dependency of every locked package resolves to a locked entry (node_modules lookup,
// from the package's folder up). npm drops other platforms' optional packages (rollup's, esbuild's,
// the napi CLI's lzma/tar/wasm-tools) when it writes the lockfile from an installed node_modules;
// `npm ci` on another OS then installs without them and the tool fails at run time.
// Fix: `rm -rf node_modules && npm install --package-lock-only` (no node_modules: every platform).
//   node scripts/check-lockfile.mjs          exit 1 and list what is missing
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The locked packages' dependencies that resolve to no locked entry, as `name <- dependent`. */
export function unresolved(lock) {
  const packages = lock.packages ?? {}
  const find = (from, name) => {
    for (let base = from; ; ) {
      if (packages[`${base ? `${base}/` : ''}node_modules/${name}`]) return true
      if (!base) return false
      const up = base.lastIndexOf('/node_modules/')
      base = up < 0 ? '' : base.slice(0, up)
    }
  }
  const missing = []
  for (const [path, entry] of Object.entries(packages)) {
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      if (!find(path, name)) missing.push(`${name} <- ${path || '(root)'}`)
    }
  }
  return missing
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'))
  const missing = unresolved(lock)
  if (missing.length > 0) {
    console.error(`package-lock.json lacks ${missing.length} packages that npm ci needs on some platform:\n  ${missing.join('\n  ')}`)
    console.error('Regenerate it without node_modules: rm -rf node_modules && npm install --package-lock-only')
    process.exit(1)
  }
  console.log(`package-lock.json: all ${Object.keys(lock.packages).length - 1} locked packages resolve on every platform`)
}
