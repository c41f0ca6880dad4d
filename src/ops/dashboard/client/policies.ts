// Bulkheads and retry policies, in two small tables beside the cards (redrawn only when a value changed).
import { count } from './format.js'
import type { BulkheadView, RetryView } from './types.js'

export class PolicyTables {
  #drawn = ''

  show(bulkheads: readonly BulkheadView[], retries: readonly RetryView[]): void {
    const text = JSON.stringify([bulkheads, retries])
    if (text === this.#drawn) return
    this.#drawn = text
    fill(
      'bulkheads',
      bulkheads.map((b) => [
        b.name,
        `${b.inUse} / ${b.maxConcurrent}`,
        `${b.queued} / ${b.maxQueue}`,
        count(b.admitted),
        count(b.rejected),
        count(b.cancelled),
      ]),
    )
    fill(
      'retries',
      retries.map((r) => [r.name, count(r.calls), count(r.retries), count(r.givenUp), count(r.budgetExhausted)]),
    )
    ;(document.getElementById('policies') as HTMLElement).hidden = bulkheads.length + retries.length === 0
  }
}

function fill(id: string, rows: string[][]): void {
  const table = document.getElementById(id) as HTMLTableElement
  table.hidden = rows.length === 0
  table.tBodies[0]!.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement('tr')
      tr.dataset.name = cells[0]!
      for (const cell of cells) tr.insertCell().textContent = cell
      return tr
    }),
  )
}
