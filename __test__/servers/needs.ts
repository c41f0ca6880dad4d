// Specs that need a program the machine may lack (PostgreSQL, promtool; Redis and Chromium will
// follow the same pattern). Where it is missing, its specs are skipped with a visible reason, so
// `npm test` works on a laptop without it; under `CI=true` a missing program fails them instead,
// so CI never passes by skipping.
import type { TestFn } from 'ava'

/** `CI=true` (or `CI=1`, as some runners set it): every program the specs need must be there. */
export const inCI = (): boolean => process.env.CI === 'true' || process.env.CI === '1'

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
  const ci = inCI()
  if (!ci && !warned.has(what)) {
    warned.add(what)
    console.warn(`${reason}: its specs are skipped (with CI=true they fail)`)
  }
  const register = (declare: (title: string, implementation: (t: { fail(message: string): void }) => void) => void) => (title: string) =>
    ci
      ? declare(title, (t) => t.fail(`${reason}; CI=true requires it`))
      : declare(`${title} [skipped: ${what} not found]`, () => undefined)
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
