// The dashboard page: reads `breakers`, `bulkheads` and `retries` every second, hears every
// transition on `events`, and draws what changed once per animation frame.
import { Admin } from './admin.js'
import { EventFeed, type FeedStatus, getJson } from './api.js'
import { Card } from './cards.js'
import { clock } from './format.js'
import { CardList, type SortKey } from './list.js'
import { Model } from './model.js'
import { PolicyTables } from './policies.js'
import type { BreakerView, BulkheadView, CardAction, RetryView } from './types.js'

const POLL_MS = 1000

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

class Dashboard {
  readonly #model = new Model()
  readonly #cards = new Map<string, Card>()
  readonly #container = byId<HTMLElement>('cards')
  readonly #template = byId<HTMLTemplateElement>('card-template')
  readonly #list = new CardList(this.#container)
  readonly #tables = new PolicyTables()
  readonly #filter = byId<HTMLInputElement>('filter')
  readonly #sort = byId<HTMLSelectElement>('sort')
  readonly #admin = new Admin(document.body.dataset.admin === 'on', () => this.#redrawAll())
  readonly #feed = new EventFeed(
    (event) => this.#changed([this.#model.applyEvent(event, performance.now()).name]),
    (status) => this.#status(status),
  )
  /** Cards to redraw at the next frame (`all`: every one). */
  readonly #dirty = new Set<string>()
  #all = false
  #frame = 0
  #lastRead: number | undefined
  #reads = 0
  readonly #observer = new IntersectionObserver((seen) => this.#seen(seen), { rootMargin: '300px' })

  start(): void {
    this.#filter.addEventListener('input', () => this.#redrawAll())
    this.#sort.addEventListener('change', () => this.#redrawAll())
    this.#container.addEventListener('click', (event) => void this.#click(event))
    this.#feed.open()
    void this.#poll()
  }

  /** One read of every route, then the next one a second after it ended (never two at once). */
  async #poll(): Promise<void> {
    const askedAt = performance.now()
    try {
      const [{ breakers }, { bulkheads }, { retries }] = await Promise.all([
        getJson<{ breakers: BreakerView[] }>('breakers'),
        getJson<{ bulkheads: BulkheadView[] }>('bulkheads'),
        getJson<{ retries: RetryView[] }>('retries'),
      ])
      this.#lastRead = Date.now()
      this.#changed(this.#model.applyPoll(breakers, askedAt, performance.now(), Date.now()))
      this.#tables.show(bulkheads, retries)
      this.#banner('')
    } catch (error) {
      const last = this.#lastRead === undefined ? 'nothing was read yet' : `what shows was read at ${clock(this.#lastRead)}`
      this.#banner(`${(error as Error).message}. ${last}; trying again every second.`)
    }
    this.#next()
    // Reads done, the next one planned: what a spec waits for before it moves the page's clock.
    document.body.dataset.reads = String(++this.#reads)
  }

  /** The next read a second from now; none while the tab is hidden (it reads at once when shown again). */
  #next(): void {
    if (!document.hidden) {
      setTimeout(() => void this.#poll(), POLL_MS)
      return
    }
    document.addEventListener('visibilitychange', () => (document.hidden ? this.#next() : void this.#poll()), { once: true })
  }

  #changed(names: readonly string[]): void {
    for (const name of names) this.#dirty.add(name)
    this.#schedule()
  }

  #redrawAll(): void {
    this.#all = true
    this.#schedule()
  }

  #schedule(): void {
    if (this.#frame === 0) this.#frame = requestAnimationFrame(() => this.#draw())
  }

  /** Writes only: no layout is read while drawing, so the browser lays out once per frame. */
  #draw(): void {
    this.#frame = 0
    // The dirty ones too when drawing all: a breaker that left the model is in them only.
    const names = this.#all ? new Set([...this.#model.entries.keys(), ...this.#dirty]) : this.#dirty
    const now = Date.now()
    for (const name of names) {
      const entry = this.#model.entries.get(name)
      if (entry) this.#cardOf(name).update(entry, now, this.#admin.active)
      else this.#drop(name)
    }
    this.#dirty.clear()
    this.#all = false
    const shown = this.#list.arrange(this.#cards, this.#model.entries, this.#filter.value, this.#sort.value as SortKey)
    this.#summary(shown)
  }

  #cardOf(name: string): Card {
    let card = this.#cards.get(name)
    if (!card) {
      card = new Card(this.#template, name)
      this.#cards.set(name, card)
      this.#observer.observe(card.element)
    }
    return card
  }

  /** Takes the card of a breaker that left the model off the page. */
  #drop(name: string): void {
    const card = this.#cards.get(name)
    if (!card) return
    this.#observer.unobserve(card.element)
    card.visible = false // frees its chart
    card.element.remove()
    this.#cards.delete(name)
  }

  #seen(records: IntersectionObserverEntry[]): void {
    for (const record of records) {
      const card = this.#cards.get((record.target as HTMLElement).dataset.name!)
      if (!card) continue
      card.visible = record.isIntersecting
      if (record.isIntersecting) this.#dirty.add(card.name)
    }
    this.#schedule()
  }

  async #click(event: MouseEvent): Promise<void> {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]')
    const name = button?.closest<HTMLElement>('.card')?.dataset.name
    if (!button || name === undefined) return
    button.disabled = true
    this.#toast(await this.#admin.act(name, button.dataset.action as CardAction))
    button.disabled = false
  }

  #summary(shown: number): void {
    const counts = new Map<string, number>()
    for (const entry of this.#model.entries.values()) counts.set(entry.state, (counts.get(entry.state) ?? 0) + 1)
    const total = this.#model.entries.size
    const notable = ['open', 'forced_open', 'half_open', 'disabled', 'removed']
      .filter((state) => counts.has(state))
      .map((state) => `${counts.get(state)} ${state.replace('_', ' ')}`)
    const summary = byId<HTMLElement>('summary')
    summary.textContent = `${total} breaker${total === 1 ? '' : 's'}${notable.length ? `: ${notable.join(', ')}` : ''} · showing ${shown}`
    summary.dataset.shown = String(shown)
  }

  #status(status: FeedStatus): void {
    const live = byId<HTMLElement>('live')
    live.dataset.status = status
    live.textContent = status === 'live' ? 'live' : `${status}…`
  }

  #banner(text: string): void {
    const banner = byId<HTMLElement>('banner')
    if (banner.textContent !== text) banner.textContent = text
    banner.hidden = text === ''
  }

  #toast({ name, text }: { name?: string; text: string }): void {
    const toast = byId<HTMLElement>('toast')
    const bdi = document.createElement('bdi')
    bdi.textContent = name ?? ''
    toast.replaceChildren(...(name === undefined ? [] : [bdi]), text)
    toast.hidden = false
  }
}

new Dashboard().start()
