// A filter must answer at once. An `async` filter (isFailure, isResultFailure, retryOn, handles)
// returns a promise: it is treated as a filter that throws, and its rejection never goes unhandled.
import test from 'ava'
import { fallback, retry } from '../src/index.ts'
import { rig } from './helpers.ts'

const rejecting = async () => {
  throw new Error('async filter bug')
}

test.serial('async filters are treated as throwing filters, and their rejections are never unhandled', async (t) => {
  let unhandled = 0
  const onUnhandled = () => unhandled++
  process.on('unhandledRejection', onUnhandled)
  try {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, { consecutiveFailures: 10, isFailure: rejecting as never })
    await t.throwsAsync(
      b.execute(() => Promise.reject(new Error('down'))),
      { message: 'down' },
      "the call's own error stands",
    )
    t.is(b.metrics().failures, 1, 'a broken isFailure counts the call as a failure')
    const r = breakers.getOrCreate(`${name}-result`, { isResultFailure: rejecting as never })
    await t.throwsAsync(
      r.execute(async () => 'value'),
      { instanceOf: TypeError, message: /^isResultFailure must answer at once with true or false, but returned a promise/ },
    )
    t.is(r.metrics().failures, 1)
    let attempts = 0
    const policy = retry({ maxAttempts: 3, backoff: { base: 0 }, retryOn: rejecting as never })
    await t.throwsAsync(
      policy.execute(() => {
        attempts++
        return Promise.reject(new Error('flaky'))
      }),
      { message: 'flaky' },
    )
    t.is(attempts, 1, 'a broken retryOn retries nothing')
    await t.throwsAsync(
      fallback('x', { handles: rejecting as never }).execute(() => Promise.reject(new Error('down'))),
      { message: 'down' },
      'a broken handles handles nothing',
    )
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  t.is(unhandled, 0)
})
