import { Registry } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'

let next = 0

/** A private registry on a fake clock, and a fresh breaker name for each test. */
export function rig() {
  const clock = new FakeClock()
  const breakers = new Registry({ clock })
  return { clock, breakers, name: `test-${process.pid}-${next++}` }
}

export const fail = async () => {
  throw new Error('dependency down')
}

/** Runs `n` failing calls, swallowing their errors. */
export async function failTimes(breaker: { execute(fn: () => Promise<unknown>): Promise<unknown> }, n: number) {
  for (let i = 0; i < n; i++) await breaker.execute(fail).catch(() => undefined)
}
