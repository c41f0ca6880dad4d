// Filter and sort: which cards show, in which order. Moves in the DOM only the cards whose place
// changed (a breaker that opens moves its own card to the top; the 999 others stay put).
import type { Card } from './cards.js'
import { stateRank } from './format.js'
import type { Entry } from './model.js'

export type SortKey = 'state' | 'name' | 'failureRate' | 'rate'

const byName = (a: Entry, b: Entry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

const ORDERS: Record<SortKey, (a: Entry, b: Entry) => number> = {
  state: (a, b) => stateRank(a.state) - stateRank(b.state) || byName(a, b),
  name: byName,
  failureRate: (a, b) => (b.view?.failureRate ?? -1) - (a.view?.failureRate ?? -1) || byName(a, b),
  rate: (a, b) => (b.callsPerSecond ?? -1) - (a.callsPerSecond ?? -1) || byName(a, b),
}

export class CardList {
  readonly #container: HTMLElement

  constructor(container: HTMLElement) {
    this.#container = container
  }

  /** Shows the cards whose name holds `filter` (any case), sorted by `key`; how many show. */
  arrange(cards: Map<string, Card>, entries: Map<string, Entry>, filter: string, key: SortKey): number {
    const needle = filter.trim().toLowerCase()
    const sorted = [...entries.values()].sort(ORDERS[key])
    const order = sorted.map((entry) => cards.get(entry.name)!)
    let shown = 0
    for (const card of order) {
      const match = needle === '' || card.name.toLowerCase().includes(needle)
      if (card.element.hidden === match) card.element.hidden = !match
      if (match) shown++
    }
    this.#place(order)
    return shown
  }

  /** Puts the cards in `order`, moving only those not already where they belong. */
  #place(order: readonly Card[]): void {
    let at = this.#container.firstElementChild
    for (const card of order) {
      if (card.element === at) at = at.nextElementSibling
      else this.#container.insertBefore(card.element, at)
    }
  }
}
