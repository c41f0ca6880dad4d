// Specs that need a program the machine may lack (PostgreSQL, promtool; Redis and Chromium will
// follow the same pattern). Where it is missing, its specs are skipped with a visible reason, so
// `npm test` works on a laptop without it; under `CI=true` a missing program fails them instead,
// so CI never passes by skipping (unless the leg says which it runs without: `required`).
import type { TestFn } from 'ava'

/**
 * Whether `what` must be there: under `CI=true` (or `CI=1`) every program the specs need must,
 * except those a CI leg names in `BREAKWATER_TEST_WITHOUT` (comma-separated, e.g.
 * `PostgreSQL,promtool` on the legs that test a platform's binary, not the servers).
 */
export function required(what: string): boolean {
  const ci = process.env.CI === 'true' || process.env.CI === '1'
  const without = (process.env.BREAKWATER_TEST_WITHOUT ?? '').split(',').map((w) => w.trim().toLowerCase())
  return ci && !without.includes(what.toLowerCase())
}

const warned = new Set<string>()

/**
 * ava's `test` (passed in: fixtures outside ava import the servers) itself when `found`. Otherwise a stand-in with the same shape (`serial`, `before`,
 * `after`, ...): outside CI each test is registered as `test.skip` with the reason in its title
 * (and the reason is printed once); under CI each test fails with the reason. Hooks do nothing,
 * since what they would set up is not there.
 * @param what - the program, as a user would install it ("PostgreSQL").
 * @param found - whether it was found.
 * @param hint - where it was looked for, how to install it.
 * @param ava - ava's `test`.
 */
export function needs<Context = unknown>(what: string, found: boolean, hint: string, ava: TestFn<Context>): TestFn<Context> {
  if (found) return ava
  const reason = `${what} not found (${hint})`
  const ci = required(what)
  if (!ci && !warned.has(what)) {
    warned.add(what)
    console.warn(`${reason}: its specs are skipped (with CI=true they fail)`)
  }
  const register = (declare: (title: string, implementation: (t: { fail(message: string): void }) => void) => void) => (title: string) =>
    ci ? declare(title, (t) => t.fail(`${reason}; CI=true requires it`)) : declare(`${title} [skipped: ${what} not found]`, () => undefined)
  const hook = Object.assign(() => undefined, { always: () => undefined, skip: () => undefined })
  const serial = Object.assign(register(ci ? ava.serial : ava.serial.skip), {
    before: hook,
    beforeEach: hook,
    after: hook,
    afterEach: hook,
    skip: ava.serial.skip,
    todo: ava.serial.todo,
  })
  const stand = Object.assign(register(ci ? ava : ava.skip), {
    serial,
    before: hook,
    beforeEach: hook,
    after: hook,
    afterEach: hook,
    skip: ava.skip,
    todo: ava.todo,
    meta: ava.meta,
  })
  return stand as unknown as TestFn<Context>
}
