import { Worker } from 'node:worker_threads'

/**
 * Starts `source` (ESM, with top-level await, `bw` = breakwater, `parentPort` at hand) in a real
 * worker thread. `result` is the first message it posts.
 */
export function startWorker<T>(source: string): { worker: Worker; result: Promise<T> } {
  const url = new URL('../src/index.ts', import.meta.url).href
  // tsx registers itself per thread: the worker does it before importing the TypeScript source.
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import { parentPort } from 'node:worker_threads'; import { register } from '${tsx}';
    register(); const bw = await import('${url}'); ${source}`
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`))
  const result = new Promise<T>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)))
  })
  return { worker, result }
}

/** Runs `source` in a real worker thread and returns what it posts first. */
export function inWorker<T>(source: string): Promise<T> {
  return startWorker<T>(source).result
}
