// Type-level tests (files in __test__/types): they must compile against the real packages.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

test('the adapters accept the real SDK types (e2b) and hand them back untouched', (t) => {
  try {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.', '--noEmit'], { cwd: root, encoding: 'utf8' })
    t.pass()
  } catch (e) {
    t.fail((e as { stdout?: string }).stdout)
  }
})
