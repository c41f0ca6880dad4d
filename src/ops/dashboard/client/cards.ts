// One card per breaker. A card writes to the DOM only what changed since it was last drawn
// (text compared with what it shows), and never reads layout, so a redraw of 1,000 cards costs
// the writes of the few that moved.
import { clock, count, duration, millis, percent, perSecond, stateLabel } from './format.js'
import type { Entry, Transition } from './model.js'
import { Sparkline } from './sparkline.js'
import type { CardAction } from './types.js'

const FIELDS = ['name', 'state', 'notice', 'inState', 'rate', 'failureRate', 'p99', 'rejections', 'spark', 'timeline', 'actions'] as const
type Field = (typeof FIELDS)[number]

/** The buttons of a card when an admin token is entered. */
const ACTIONS: readonly [CardAction, string][] = [
  ['force_open', 'Force open'],
  ['close', 'Close'],
  ['isolate', 'Isolate'],
]

export class Card {
  readonly element: HTMLElement
  readonly name: string
  readonly #fields: Record<Field, HTMLElement>
  readonly #shown = new Map<string, string>()
  readonly #spark: Sparkline
  #visible = false
  /** The newest transition drawn: the timeline is redrawn only when a newer one comes. */
  #newest: Transition | undefined
  #withActions = false

  constructor(template: HTMLTemplateElement, name: string) {
    this.element = (template.content.firstElementChild as HTMLElement).cloneNode(true) as HTMLElement
    this.element.dataset.name = name
    this.name = name
    const fields = {} as Record<Field, HTMLElement>
    for (const field of FIELDS) fields[field] = this.element.querySelector(`[data-field="${field}"]`) as HTMLElement
    this.#fields = fields
    this.#fields.name.textContent = name
    this.#fields.name.title = name
    this.#spark = new Sparkline(this.#fields.spark)
  }

  /** Whether the card is on (or near) the screen: only then does it keep a chart. */
  set visible(visible: boolean) {
    this.#visible = visible
    if (!visible) this.#spark.hide()
  }

  /** Draws `entry` as of wall-clock `now`; `admin`: with the action buttons. */
  update(entry: Entry, now: number, admin: boolean): void {
    const { view } = entry
    this.#attribute('state', entry.state)
    this.#text('state', stateLabel(entry.state))
    // Time passes for every card each second: only the cards on screen show it (the others catch up when seen).
    if (this.#visible) this.#text('inState', entry.state === 'removed' ? '–' : duration(now - entry.since))
    this.#text('rate', perSecond(entry.callsPerSecond))
    this.#text('failureRate', percent(view?.failureRate))
    this.#text('p99', millis(view?.latency && view.latency.count > 0 ? view.latency.p99 : undefined))
    this.#text('rejections', count(view?.rejections))
    this.#notice(entry.state === 'removed' ? 'This breaker is no longer in the registry: it was removed.' : '')
    if (this.#visible) this.#spark.show(entry.samples, entry.version)
    this.#timeline(entry)
    this.#actions(admin && entry.state !== 'removed')
  }

  #text(field: Field, text: string): void {
    if (this.#shown.get(field) === text) return
    this.#shown.set(field, text)
    this.#fields[field].textContent = text
  }

  #attribute(name: string, value: string): void {
    if (this.#shown.get(`@${name}`) === value) return
    this.#shown.set(`@${name}`, value)
    this.element.dataset[name] = value
  }

  #notice(text: string): void {
    if (this.#shown.get('notice') === text) return
    this.#text('notice', text)
    this.#fields.notice.hidden = text === ''
  }

  #timeline(entry: Entry): void {
    if (entry.timeline[0] === this.#newest) return
    this.#newest = entry.timeline[0]
    const items = entry.timeline.map((t) => {
      const li = document.createElement('li')
      const reason = document.createElement('span')
      reason.className = t.read ? 'reason unheard' : 'reason'
      reason.textContent = t.reason
      li.append(`${clock(t.at)} ${stateLabel(t.from)} → ${stateLabel(t.to)} · `, reason)
      li.title = `${new Date(t.at).toISOString()} ${t.from} → ${t.to} (${t.reason})`
      return li
    })
    this.#fields.timeline.replaceChildren(...items)
  }

  /** Buttons exist only while a token is entered: without one there is nothing to click. */
  #actions(show: boolean): void {
    if (show === this.#withActions) return
    this.#withActions = show
    const buttons = show
      ? ACTIONS.map(([action, label]) => {
          const button = document.createElement('button')
          button.type = 'button'
          button.dataset.action = action
          button.textContent = label
          return button
        })
      : []
    this.#fields.actions.replaceChildren(...buttons)
  }
}
