import FakeTimers from '@sinonjs/fake-timers'

/** Fake `setTimeout` and `performance.now` for one test (run such tests with `test.serial`). */
export async function withFakeTimers<T>(body: (timers: FakeTimers.InstalledClock) => Promise<T> | T): Promise<T> {
  const timers = FakeTimers.withGlobal(globalThis).install({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'],
    shouldClearNativeTimers: true,
  })
  try {
    return await body(timers)
  } finally {
    timers.uninstall()
  }
}

/** Resolves after pending promise callbacks and I/O callbacks have run (not a clock wait). */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Lets the event loop turn until `ready()` holds, for events that arrive from other threads. */
export async function until(ready: () => boolean, turns = 500_000): Promise<void> {
  for (let i = 0; i < turns && !ready(); i++) await turn()
  if (!ready()) throw new Error('the awaited condition never held')
}

/** A promise with its resolve and reject. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)))
  return { promise, resolve, reject }
}
