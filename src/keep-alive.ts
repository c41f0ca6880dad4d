import { MAX_TIMER_MS } from './duration.js'

/**
 * Keeps this thread's process alive while calls that wait on a timeout are pending, as pending
 * I/O would. One ref'd timer stands for all of them: a ref'd timer per call costs about four
 * times an unref'd one on Node 20 (each toggles the event loop's reference), so the per-call
 * timers stay unref'd and this anchor is held while any such call is pending. It is let go on
 * the next turn of the event loop after the last call ended, so back-to-back calls share it.
 */
let pending = 0
let anchor: NodeJS.Timeout | undefined
let sweeping = false
// The real timer functions, taken once: fake timers installed later (a test's) must neither run
// nor keep this anchor, which only decides whether the process may exit.
const { setInterval: keepInterval, clearInterval: dropInterval, setImmediate: nextTurn } = globalThis

const noop = () => {}

/** A call that waits on a timeout started: the process stays alive until `release()`. */
export function hold(): void {
  pending += 1
  if (anchor === undefined) anchor = keepInterval(noop, MAX_TIMER_MS)
}

/** That call ended. */
export function release(): void {
  pending -= 1
  if (pending === 0 && !sweeping) {
    sweeping = true
    nextTurn(sweep)
  }
}

function sweep(): void {
  sweeping = false
  if (pending === 0 && anchor !== undefined) {
    dropInterval(anchor)
    anchor = undefined
  }
}
