import type { Api } from './api.js'
import type { EventPage, WeftEvent } from './api-types.js'
import { clockTime, dateTime } from './format.js'
import { HEALTHS } from './health.js'

/** Rows kept in the timeline; older ones leave the DOM as new ones arrive. */
export const MAX_EVENT_ROWS = 300

/** Wait before opening the stream again after the controller refused or dropped it. */
const REOPEN_MS = 3000

/** Stream states shown in `data-stream` on the timeline. */
export type StreamState = 'connecting' | 'open' | 'retrying' | 'closed'

/** Keeps a class name to letters, digits and dashes, whatever the API sends. */
const cls = (s: string): string => s.replace(/[^a-z0-9-]/gi, '')

/**
 * The live event timeline, newest first: the recent events from `GET /v1/events`, then the stream from
 * `/v1/events/stream?since=<last>`. Every new event calls `onEvent` (the page refreshes its views on it). An event
 * already shown (same or older seq) is dropped, so a replay after reconnecting adds nothing twice.
 */
export class EventsView {
  private readonly api: Api
  private readonly table: HTMLTableElement
  private readonly tbody: HTMLTableSectionElement
  private readonly nameOf: (id: string) => string | undefined
  private readonly onEvent: (e: WeftEvent) => void
  private source: EventSource | null = null
  private reopenTimer: number | null = null
  private last = 0
  private stopped = false

  constructor (api: Api, table: HTMLTableElement, nameOf: (id: string) => string | undefined, onEvent: (e: WeftEvent) => void) {
    this.api = api
    this.table = table
    this.tbody = table.tBodies[0] ?? table.createTBody()
    this.nameOf = nameOf
    this.onEvent = onEvent
  }

  /** Loads the recent events and opens the stream; a failed load still opens the stream. */
  async start (): Promise<void> {
    try {
      const page = await this.api.get<EventPage>(`/v1/events?limit=${MAX_EVENT_ROWS}`)
      if (this.stopped) return
      this.tbody.replaceChildren(...page.events.slice(-MAX_EVENT_ROWS).reverse().map((e) => this.row(e)))
      this.last = Math.max(page.last, ...page.events.map((e) => e.seq))
      this.table.dataset.last = String(this.last)
    } catch {
      // The stream below replays from seq 0 and the page shows the connection's state.
    }
    if (!this.stopped) this.open()
  }

  /** Closes the stream for good (signed out). */
  stop (): void {
    this.stopped = true
    this.source?.close()
    this.source = null
    if (this.reopenTimer !== null) clearTimeout(this.reopenTimer)
    this.setState('closed')
  }

  private open (): void {
    this.setState('connecting')
    const es = new EventSource(`/v1/events/stream?since=${this.last}`)
    this.source = es
    es.addEventListener('open', () => this.setState('open'))
    es.addEventListener('weft', (ev) => this.receive((ev as MessageEvent<string>).data))
    es.addEventListener('error', () => {
      if (this.stopped || es.readyState !== EventSource.CLOSED) {
        if (!this.stopped) this.setState('retrying')
        return
      }
      // The browser gives up on an error status (a 401 after the session expired, a 5xx). Asking for the session
      // sends the operator to sign-in if that was the cause; otherwise the stream opens again shortly.
      this.setState('retrying')
      void this.api.get('/v1/session').catch(() => undefined)
      this.reopenTimer = window.setTimeout(() => { this.reopenTimer = null; if (!this.stopped) this.open() }, REOPEN_MS)
    })
  }

  private receive (data: string): void {
    let e: WeftEvent
    try {
      e = JSON.parse(data) as WeftEvent
    } catch {
      return
    }
    if (typeof e.seq !== 'number' || e.seq <= this.last) return
    this.last = e.seq
    this.tbody.prepend(this.row(e))
    while (this.tbody.rows.length > MAX_EVENT_ROWS) this.tbody.lastElementChild?.remove()
    this.table.dataset.last = String(this.last)
    this.onEvent(e)
  }

  private setState (s: StreamState): void {
    this.table.dataset.stream = s
  }

  private row (e: WeftEvent): HTMLTableRowElement {
    const tr = document.createElement('tr')
    tr.dataset.eventType = e.type
    tr.dataset.nodeId = e.nodeId ?? ''
    tr.dataset.seq = String(e.seq)
    const time = tr.insertCell()
    time.textContent = clockTime(e.at)
    time.title = dateTime(e.at)
    const type = document.createElement('span')
    type.className = `ev ev-${cls(e.type)}`
    type.textContent = e.type
    tr.insertCell().append(type)
    tr.insertCell().textContent = e.name ?? (e.nodeId === undefined ? '' : this.nameOf(e.nodeId) ?? e.nodeId)
    const change = tr.insertCell()
    if (e.from !== undefined || e.to !== undefined) {
      change.append(this.value(e.from), ' → ', this.value(e.to))
    }
    tr.insertCell().textContent = e.reason
    return tr
  }

  /** A from/to value; a health gets its colour. */
  private value (v: string | undefined): HTMLElement {
    const span = document.createElement('span')
    span.textContent = v ?? '—'
    if (v !== undefined && (HEALTHS as readonly string[]).includes(v)) span.className = `badge badge-${v}`
    return span
  }
}
