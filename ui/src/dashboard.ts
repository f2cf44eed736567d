import { ApiError, type Api } from './api.js'
import type { ControllerInfo, History, MeshMatrix, NodeList, SessionInfo } from './api-types.js'
import { EventsView } from './events.js'
import { nodeName } from './format.js'
import { HistoryView, RANGES } from './history.js'
import { MeshView } from './mesh-matrix.js'
import { NodeActions } from './node-actions.js'
import { NodesTable } from './nodes-table.js'
import type { WeftUiStats } from './perf.js'
import { endSession } from './session.js'
import { renderSummary } from './summary.js'
import { Tabs, type Tab } from './tabs.js'

/**
 * The table and matrix refresh at least this often, and sooner after an event. A SWIM report that changes who
 * suspects whom is no event of the timeline, so the matrix shows it at the next poll: a second up to
 * SMALL_MESH_NODES nodes; above that, where each poll fetches megabytes, every 3 s.
 */
export const POLL_MS = 1000
/** Above this many nodes the page polls every LARGE_MESH_POLL_MS. */
export const SMALL_MESH_NODES = 500
export const LARGE_MESH_POLL_MS = 3000
/** Events arriving within this window share one refresh. */
export const EVENT_COALESCE_MS = 250
/** The history refreshes at most this often by itself; picking a range fetches at once. */
export const HISTORY_MIN_MS = 10_000

/** The element of `root` matching `selector`; the page's HTML and this code ship together, so a miss is a bug. */
function $<T extends Element = HTMLElement> (root: ParentNode, selector: string): T {
  const el = root.querySelector<T>(selector)
  if (el === null) throw new Error(`index.html has no ${selector}`)
  return el
}

/**
 * The signed-in console: wires the views to the API and keeps them live. One instance per session; `stop` ends
 * its timers, stream and listeners, after which nothing it started touches the page.
 */
export class Dashboard {
  private readonly api: Api
  private readonly root: HTMLElement
  private readonly stats: WeftUiStats
  private readonly onSignedOut: () => void
  private readonly abort = new AbortController()
  private readonly table: NodesTable
  private readonly mesh: MeshView
  private readonly history: HistoryView
  private readonly events: EventsView
  private readonly actions: NodeActions
  private readonly tabs: Tabs
  private readonly summary: HTMLElement
  private readonly status: HTMLElement
  private readonly actionError: HTMLElement
  private readonly names = new Map<string, string>()
  private stopped = false
  private inFlight = false
  private pending = false
  private pollTimer: number | null = null
  private soonTimer: number | null = null
  /** Controller clock minus browser clock, from the matrix's `at`; relative times use the controller's now. */
  private offsetMs = 0
  private range = '24h'
  private historyInFlight = false
  private historyAgain = false
  private historyFetchedAt = -Infinity

  constructor (api: Api, root: HTMLElement, session: SessionInfo, stats: WeftUiStats, onSignedOut: () => void) {
    this.api = api
    this.root = root
    this.stats = stats
    this.onSignedOut = onSignedOut
    const signal = this.abort.signal
    const admin = session.role === 'admin'
    root.dataset.role = session.role
    $(root, '[data-testid="role"]').textContent = admin ? 'admin' : 'viewer (read-only)'
    $(root, '[data-testid="controller-url"]').textContent = location.origin
    this.summary = $(root, '[data-testid="summary"]')
    this.status = $(root, '[data-testid="conn-status"]')
    this.actionError = $(root, '[data-testid="action-error"]')
    this.actionError.addEventListener('click', () => this.showActionError(null), { signal })
    this.showActionError(null)
    this.actions = new NodeActions(api, $<HTMLDialogElement>(root, '[data-testid="confirm-dialog"]'), (m) => this.showActionError(m), () => this.refreshSoon())
    this.table = new NodesTable(
      $<HTMLTableElement>(root, '[data-testid="nodes-table"]'),
      $<HTMLInputElement>(root, '[data-testid="nodes-filter"]'),
      admin,
      (a) => { void this.actions.run(a) },
      signal
    )
    this.mesh = new MeshView($(root, '[data-testid="mesh-matrix"]'), $(root, '[data-testid="half-broken"]'), (ms) => { stats.lastMatrixDrawMs = ms })
    this.history = new HistoryView($(root, '[data-testid="history"]'), $(root, '[data-testid="history-legend"]'))
    this.events = new EventsView(api, $<HTMLTableElement>(root, '[data-testid="events"]'), (id) => this.names.get(id), () => {
      this.stats.streamEvents++
      this.refreshSoon()
    })
    for (const button of root.querySelectorAll<HTMLButtonElement>('[data-range-option]')) {
      button.addEventListener('click', () => this.setRange(button.dataset.rangeOption ?? '24h'), { signal })
    }
    this.markRange()
    $(root, '[data-testid="sign-out"]').addEventListener('click', () => { void this.signOut() }, { signal })
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.refreshSoon() }, { signal })
    this.tabs = new Tabs(root, (tab) => this.onTab(tab), signal)
  }

  /** Shows the console and starts the live updates. */
  start (): void {
    this.root.hidden = false
    void this.refresh()
    void this.events.start()
    void this.api.get<ControllerInfo>('/v1/info').then((info) => {
      const v = info.protocols?.weft
      if (!this.stopped && v !== undefined) $(this.root, '[data-testid="controller-version"]').textContent = `v${v}`
    }, () => undefined)
  }

  /** Stops every timer, the stream and the listeners, and hides the console. */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    this.abort.abort()
    if (this.pollTimer !== null) clearTimeout(this.pollTimer)
    if (this.soonTimer !== null) clearTimeout(this.soonTimer)
    this.events.stop()
    this.mesh.dispose()
    this.history.dispose()
    this.root.hidden = true
  }

  /** Refreshes the table and the matrix shortly; events in a burst share one refresh. */
  refreshSoon (): void {
    if (this.stopped || this.soonTimer !== null) return
    this.soonTimer = window.setTimeout(() => { this.soonTimer = null; void this.refresh() }, EVENT_COALESCE_MS)
  }

  /** One update cycle: fetch nodes and matrix together, render both, then maybe the history. Never overlaps itself. */
  private async refresh (): Promise<void> {
    if (this.stopped) return
    if (this.inFlight) { this.pending = true; return }
    if (this.pollTimer !== null) { clearTimeout(this.pollTimer); this.pollTimer = null }
    if (document.hidden && this.stats.firstRenderMs !== null) { this.schedule(); return }
    this.inFlight = true
    const t0 = performance.now()
    try {
      const [list, matrix] = await Promise.all([this.api.get<NodeList>('/v1/nodes'), this.api.get<MeshMatrix>('/v1/mesh')])
      if (this.stopped) return
      const t1 = performance.now()
      this.offsetMs = matrix.at - Date.now()
      this.names.clear()
      for (const n of list.nodes) this.names.set(n.id, nodeName(n))
      renderSummary(this.summary, list.nodes)
      this.table.update(list.nodes, Date.now() + this.offsetMs)
      this.mesh.update(matrix)
      const t2 = performance.now()
      const s = this.stats
      s.updates++
      s.nodes = list.nodes.length
      s.lastRenderMs = t2 - t1
      s.lastUpdateMs = t2 - t0
      if (s.firstRenderMs === null) {
        s.firstRenderMs = t2
        performance.mark('weft-ui-first-render')
      }
      this.setStatus(null)
    } catch (err) {
      if (this.stopped) return
      this.stats.failedUpdates++
      this.setStatus(err instanceof ApiError ? err.message : String(err))
    } finally {
      this.inFlight = false
      if (!this.stopped) {
        if (this.pending) { this.pending = false; this.refreshSoon() }
        this.schedule()
      }
    }
    void this.loadHistory(false)
  }

  private schedule (): void {
    if (this.stopped) return
    if (this.pollTimer !== null) clearTimeout(this.pollTimer)
    const every = this.stats.nodes > SMALL_MESH_NODES ? LARGE_MESH_POLL_MS : POLL_MS
    this.pollTimer = window.setTimeout(() => { this.pollTimer = null; void this.refresh() }, every)
  }

  /** Fetches the history while its tab is shown, at most every HISTORY_MIN_MS unless `now` (a new range). */
  private async loadHistory (now: boolean): Promise<void> {
    if (this.stopped || this.tabs?.current !== 'history') return
    if (this.historyInFlight) { this.historyAgain ||= now; return }
    if (!now && performance.now() - this.historyFetchedAt < HISTORY_MIN_MS) return
    this.historyInFlight = true
    this.historyFetchedAt = performance.now()
    const range = this.range
    const since = Math.round(Date.now() + this.offsetMs - (RANGES[range] ?? RANGES['24h']!))
    try {
      const h = await this.api.get<History>(`/v1/history?since=${since}`)
      this.stats.historyFetches++
      if (!this.stopped && range === this.range) this.history.update(h, range)
    } catch (err) {
      if (!this.stopped) this.setStatus(`history: ${err instanceof ApiError ? err.message : String(err)}`)
    } finally {
      this.historyInFlight = false
      if (this.historyAgain || range !== this.range) { this.historyAgain = false; void this.loadHistory(true) }
    }
  }

  private setRange (range: string): void {
    if (!(range in RANGES) || range === this.range) return
    this.range = range
    this.markRange()
    void this.loadHistory(true)
  }

  private markRange (): void {
    for (const button of this.root.querySelectorAll<HTMLButtonElement>('[data-range-option]')) {
      button.setAttribute('aria-pressed', String(button.dataset.rangeOption === this.range))
    }
  }

  private onTab (tab: Tab): void {
    this.mesh.setVisible(tab === 'mesh')
    this.history.setVisible(tab === 'history')
    if (tab === 'history') void this.loadHistory(false)
  }

  private async signOut (): Promise<void> {
    try {
      await endSession(this.api)
    } catch (err) {
      this.showActionError(`Signing out failed: ${err instanceof ApiError ? err.message : String(err)}`)
      return
    }
    this.onSignedOut()
  }

  private setStatus (problem: string | null): void {
    this.status.dataset.state = problem === null ? 'live' : 'error'
    this.status.textContent = problem === null ? 'live' : problem
    this.status.title = problem === null ? `updates every ${POLL_MS / 1000} s and on every event` : problem
  }

  private showActionError (message: string | null): void {
    this.actionError.hidden = message === null
    this.actionError.textContent = message ?? ''
  }
}
