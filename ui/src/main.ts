/**
 * The controller's live dashboard: sign-in, then the nodes table, the mesh matrix, the event timeline and the
 * uptime history, kept live from `/v1` (the routes in the dashboard contract).
 *
 * Hooks for browser tests. These attributes and `window.weftUi` are the page's test interface; they keep their
 * names and meanings as the page changes.
 *
 * Page state
 * - `body[data-state]`: `loading`, `sign-in` or `console`.
 * - `[data-testid="sign-in"]`: the form; `input[name="key"]` (`data-testid="sign-in-key"`), `[data-testid="sign-in-submit"]`,
 *   `[data-testid="sign-in-error"]` (shown with "Wrong key." on a 401).
 * - `[data-testid="console"]`, `data-role` = `admin` | `viewer`; `[data-testid="role"]` reads `admin` or `viewer (read-only)`;
 *   `[data-testid="sign-out"]`; `[data-testid="conn-status"]` with `data-state` = `live` | `error` (its text is the problem).
 * - `[data-testid="action-error"]`: the API's sentence when an action fails (hidden otherwise).
 * - Tabs: buttons `[data-tab="nodes|mesh|events|history"]` with `aria-selected`; panels `[data-section="..."]`; the URL
 *   hash selects one (`/ui/#mesh`).
 * - `[data-testid="summary"]`: `[data-summary-total]` (node count) and one `[data-summary-health="<health>"]` per health
 *   with `data-count`.
 *
 * Event rows and half-broken items carry `data-node-id` too: scope a row selector to its table or list.
 *
 * Nodes (`[data-testid="nodes-table"]`, `data-rows` = nodes, `data-visible-rows` = after the filter, `data-sort` = `key:asc|desc`)
 * - Each row `tr[data-node-id]` with `data-health`, `data-name`, `data-control` (`fresh|stale`), `data-channel` (`open|closed`),
 *   `data-mesh-alive`, `data-mesh-suspect`, `data-mesh-dead`; each cell `td[data-column]` (name, hostname, meshIp, tags,
 *   routes, version, health, control, mesh, lastSeen, connectedSince, endpoints, actions).
 * - Header buttons `th[data-column] button.sort` sort (again: reverse); the sorted `th` has `aria-sort`.
 * - `[data-testid="nodes-filter"]`: the filter box; `tr[data-testid="nodes-empty"]` when nothing shows.
 * - Admin only: `button[data-action="remove"]` per row, `button[data-action="approve"][data-route="<cidr>|exit"]` per route
 *   awaiting approval; routes are `.route[data-route-state="approved|awaiting|idle"]`. A viewer's page has no `[data-action]`.
 * - `dialog[data-testid="confirm-dialog"]` asks first: `[data-confirm-text]`, `button[data-testid="confirm-ok"]`, `button[data-testid="confirm-cancel"]`.
 *
 * Mesh
 * - `[data-testid="mesh-matrix"]` (the heatmap's container, one canvas): `data-rows`, `data-dead-cells`, `data-suspect-cells`,
 *   `data-at` (the matrix's `at`), updated on every refresh whichever tab is shown; `data-drawn-at` once the chart drew it.
 * - `[data-testid="half-broken"]`, `data-count`; each `li[data-node-id]` with `data-dead`, `data-suspect`, `data-alive`.
 *
 * Events
 * - `[data-testid="events"]` (table), `data-stream` = `connecting|open|retrying|closed`, `data-last` = newest seq shown;
 *   rows `tr[data-event-type][data-node-id][data-seq]`, newest first, at most 300.
 *
 * History
 * - `[data-testid="history"]`: `data-nodes`, `data-bars`, `data-range` (`1h|24h|7d`), `data-from`, `data-to`; filled
 *   once the History tab is shown. Range buttons `[data-range-option="1h|24h|7d"]` with `aria-pressed`.
 *
 * `window.weftUi` (perf.ts; a new object at each sign-in): `firstRenderMs` (performance.now() when the first nodes table and matrix were rendered),
 * `lastUpdateMs` (last update cycle, fetches included), `lastRenderMs`, `lastMatrixDrawMs`, `updates`, `failedUpdates`,
 * `nodes`, `historyFetches`, `streamEvents`. The performance mark `weft-ui-first-render` marks the first render.
 */
import { Api } from './api.js'
import type { SessionInfo } from './api-types.js'
import { Dashboard } from './dashboard.js'
import { resetStats } from './perf.js'
import { probeSession, SignInForm } from './session.js'

const consoleRoot = document.querySelector<HTMLElement>('[data-testid="console"]')!
const signInView = document.querySelector<HTMLElement>('[data-testid="sign-in-view"]')!
let dashboard: Dashboard | null = null

function setState (state: 'loading' | 'sign-in' | 'console'): void {
  document.body.dataset.state = state
}

function signedIn (s: SessionInfo): void {
  dashboard?.stop()
  api.setCsrf(s.csrf)
  signIn.hide()
  setState('console')
  dashboard = new Dashboard(api, consoleRoot, s, resetStats(), () => signedOut(null))
  dashboard.start()
}

function signedOut (message: string | null): void {
  if (document.body.dataset.state === 'sign-in') return
  dashboard?.stop()
  dashboard = null
  api.setCsrf(null)
  consoleRoot.hidden = true
  setState('sign-in')
  signIn.show(message)
}

const api = new Api(() => signedOut('Your session has ended; sign in again.'))
const signIn = new SignInForm(signInView, api, signedIn)

resetStats()
setState('loading')
probeSession(api).then(
  (s) => { if (s === null) signedOut(null); else signedIn(s) },
  (err: unknown) => signedOut(`Cannot reach the controller: ${err instanceof Error ? err.message : String(err)}`)
)
