/** The two effects a chaos policy makes that need care: the injected mark, and a wait that never holds the process. */

/** Marks `error` as injected (enumerable, so logs that print the error show it), or wraps a value that cannot carry the mark. */
export function markInjected(error: unknown): unknown {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    try {
      Object.defineProperty(error, 'injected', { value: true, configurable: true, enumerable: true, writable: true })
      return error
    } catch {
      // a Proxy that refuses: wrap it below
    }
  }
  return Object.assign(new Error('injected fault', { cause: error }), { injected: true })
}

/** Waits `ms` on a timer that never keeps the process alive; rejects with the signal's reason on abort. */
export function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    timer.unref?.()
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
