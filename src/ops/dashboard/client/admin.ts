// The admin token: typed in by the operator, kept in this page's memory only (never stored, never
// in a URL), sent as `Authorization: Bearer` to the admin route. Without it no button exists.
import { HttpError, postAction } from './api.js'
import type { CardAction } from './types.js'

export class Admin {
  #token: string | undefined
  readonly #onChange: () => void
  readonly #input: HTMLInputElement
  readonly #use: HTMLButtonElement
  readonly #forget: HTMLButtonElement
  readonly #note: HTMLElement

  /** `enabled`: the handler has admin routes (a token); else the token box is not shown at all. */
  constructor(enabled: boolean, onChange: () => void) {
    this.#onChange = onChange
    this.#input = document.getElementById('token') as HTMLInputElement
    this.#use = document.getElementById('token-use') as HTMLButtonElement
    this.#forget = document.getElementById('token-forget') as HTMLButtonElement
    this.#note = document.getElementById('admin-note') as HTMLElement
    ;(document.getElementById('admin') as HTMLElement).hidden = !enabled
    ;(document.getElementById('admin-off') as HTMLElement).hidden = enabled
    if (!enabled) return
    this.#use.addEventListener('click', () => this.#take())
    this.#input.addEventListener('keydown', (event) => event.key === 'Enter' && this.#take())
    this.#forget.addEventListener('click', () => this.forget(''))
  }

  /** Whether a token is entered (the cards then show their buttons). */
  get active(): boolean {
    return this.#token !== undefined
  }

  /** Forgets the token; `why` is shown next to the box. */
  forget(why: string): void {
    this.#token = undefined
    this.#show(why)
  }

  /**
   * Does `action` to the breaker `name`; what happened, as the breaker's name (when done) and the
   * rest of the sentence: the page shows the name in a `<bdi>`, so a name with a right-to-left
   * override cannot reverse the rest.
   */
  async act(name: string, action: CardAction): Promise<{ name?: string; text: string }> {
    const token = this.#token
    if (token === undefined) return { text: 'enter the admin token first' }
    try {
      const { from, to } = await postAction(name, action, token)
      return { name, text: `: ${from} → ${to} (${action.replace('_', ' ')})` }
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) this.forget('the token was refused: enter it again')
      return { text: (error as Error).message }
    }
  }

  #take(): void {
    const token = this.#input.value.trim()
    this.#input.value = ''
    if (token === '') return
    this.#token = token
    this.#show('token entered (kept in this page only)')
  }

  #show(note: string): void {
    this.#note.textContent = note
    this.#use.hidden = this.active
    this.#input.hidden = this.active
    this.#forget.hidden = !this.active
    this.#onChange()
  }
}
