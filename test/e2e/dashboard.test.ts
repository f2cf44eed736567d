/**
 * The dashboard in a real browser (Debian's Chromium, browser.ts) against a live mesh of eight daemons with
 * wireguard-go in namespaces, its controller reached through a relay (sim/netns/relay.ts). Screenshots go to
 * artifacts/ui/.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { Page } from 'playwright-core'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { openRelay } from '../../sim/netns/relay.js'
import { openBrowser, screenshot, waitForData, waitForDataset } from './browser.js'

const N = 8
const VICTIM = 3
/** Node 6 advertises a subnet route, awaiting approval. */
const ROUTER = 6
const ROUTE = '192.0.2.0/24'
const mesh = await Mesh.create(N)
t.teardown(async () => {
  if (!t.passing()) process.stderr.write(`--- mesh state at failure ---\n${await mesh.diagnose()}\n`)
  await mesh.destroy()
})
for (let i = 0; i < N; i++) await mesh.startDaemon(i, { extra: i === ROUTER ? ['--advertise-routes', ROUTE] : [] })
await waitFor('a full mesh', async () => (await Promise.all(Array.from({ length: N }, async (_, i) => (await mesh.wgPeers(i)).length === N - 1)))
  .every(Boolean), 90_000)
const ids = await Promise.all(Array.from({ length: N }, async (_, i) => (await mesh.status(i)).node.id))
const adminKey = (await readFile(join(mesh.controllerDataDir, 'admin.key'), 'utf8')).trim()
const viewerKey = (await mesh.admin('token', 'create', '--viewer', '--description', 'dashboard test')).trim()

const target = new URL(mesh.controllerUrl)
const relay = await openRelay(mesh.world, { ns: mesh.world.names.controllerNs, host: target.hostname, port: Number(target.port) })
t.teardown(async () => { await relay.close() })
const browser = await openBrowser(t)

/** A fresh page (its own cookies) showing the sign-in form. */
async function signInPage (): Promise<{ page: Page, errors: string[] }> {
  const p = await browser.page()
  await p.page.goto(relay.url('/ui/'))
  await p.page.waitForSelector('body[data-state="sign-in"]', { timeout: 10_000 })
  return p
}

async function signIn (page: Page, key: string): Promise<void> {
  await page.fill('[data-testid="sign-in-key"]', key)
  await page.click('[data-testid="sign-in-submit"]')
}

/** Resolves once `count(selector)` is `n`; rejects after `ms`. */
async function count (page: Page, selector: string, n: number, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (await page.locator(selector).count() !== n) {
    if (Date.now() > end) throw new Error(`${selector}: not ${n} after ${ms} ms`)
    await page.waitForTimeout(50)
  }
}

let admin: Page

t.test('a wrong key is refused on the sign-in form', async (t) => {
  const { page } = await signInPage()
  await signIn(page, 'wa_not-the-key')
  await page.waitForSelector('[data-testid="sign-in-error"]:visible', { timeout: 10_000 })
  t.match(await page.textContent('[data-testid="sign-in-error"]'), /Wrong key/)
  t.equal(await page.getAttribute('body', 'data-state'), 'sign-in', 'still signing in')
  await page.context().close()
})

t.test('the admin signs in and sees every node of the mesh, online, in the table and the matrix', async (t) => {
  const p = await signInPage()
  admin = p.page
  await signIn(admin, adminKey)
  await admin.waitForSelector('body[data-state="console"]', { timeout: 10_000 })
  t.equal(await admin.getAttribute('[data-testid="console"]', 'data-role'), 'admin')
  await count(admin, '[data-testid="nodes-table"] tr[data-node-id][data-health="online"]', N, 30_000)
  const rows = await admin.$$eval('[data-testid="nodes-table"] tr[data-node-id]', trs => trs.map(tr => tr.getAttribute('data-node-id')))
  t.same([...rows].sort(), [...ids].sort(), 'one row per node')
  t.match(await admin.textContent(`[data-testid="nodes-table"] tr[data-node-id="${ids[VICTIM]!}"] td[data-column="name"]`), `node-${VICTIM}.weft.internal`)
  await waitForData(admin, '[data-testid="mesh-matrix"]', 'rows', v => v === String(N), 15_000)
  t.equal(await admin.getAttribute('[data-testid="mesh-matrix"]', 'data-dead-cells'), '0')
  const perf = await admin.evaluate('({ ...window.weftUi })') as { firstRenderMs: number }
  t.comment(`first render of ${N} nodes (table and matrix) ${Math.round(perf.firstRenderMs)} ms after the page's start`)
  t.comment(`screenshot: ${await screenshot(admin, 'dashboard-nodes')}`)
  t.same(p.errors.filter(e => !/401/.test(e)), [], 'no errors on the page')
})

t.test('kill -9 of a node: the table and the matrix show it within 5 s, without a reload, and the event says why', async (t) => {
  let navigations = 0
  admin.on('framenavigated', () => { navigations++ })
  const victim = ids[VICTIM]!
  const t0 = Date.now()
  await mesh.crash(VICTIM)
  await waitForData(admin, `[data-testid="nodes-table"] tr[data-node-id="${victim}"]`, 'health', v => v !== undefined && v !== 'online', 5000)
  const tableMs = Date.now() - t0
  // The matrix changes with the first reporter that suspects it (amber), then turns dead (red).
  await waitForDataset(admin, '[data-testid="mesh-matrix"]', d => Number(d.deadCells) + Number(d.suspectCells) > 0, 5000 - Math.min(tableMs, 4999))
  const matrixMs = Date.now() - t0
  t.ok(matrixMs <= 5000, 'both within 5 s')
  await waitForData(admin, '[data-testid="mesh-matrix"]', 'deadCells', v => Number(v) > 0, 15_000)
  t.comment(`after kill -9: the table showed ${await admin.getAttribute(`tr[data-node-id="${victim}"]`, 'data-health')} in ${tableMs} ms, ` +
    `the matrix a suspect or dead cell in ${matrixMs} ms and a dead one in ${Date.now() - t0} ms`)
  t.equal(navigations, 0, 'without reloading the page')
  const event = `[data-testid="events"] tr[data-event-type="health"][data-node-id="${victim}"]`
  await admin.waitForSelector(event, { state: 'attached', timeout: 10_000 })
  t.match(await admin.textContent(event), /controller lost it|peers hold it dead|peers see it/, 'with the fusion\'s reason')
  await admin.click('[data-tab="mesh"]')
  t.comment(`screenshot: ${await screenshot(admin, 'dashboard-mesh-after-kill')}`)
  await admin.click('[data-tab="events"]')
  t.comment(`screenshot: ${await screenshot(admin, 'dashboard-events')}`)
})

t.test('the history shows a bar per node, the killed one changing', async (t) => {
  await admin.click('[data-tab="history"]')
  await waitForData(admin, '[data-testid="history"]', 'nodes', v => Number(v) === N, 15_000)
  t.ok(Number(await admin.getAttribute('[data-testid="history"]', 'data-bars')) > N, 'more bars than nodes: the killed node\'s health changed')
  t.comment(`screenshot: ${await screenshot(admin, 'dashboard-history')}`)
})

t.test('a viewer sees the mesh but cannot remove a node', async (t) => {
  const { page } = await signInPage()
  await signIn(page, viewerKey)
  await page.waitForSelector('body[data-state="console"]', { timeout: 10_000 })
  t.equal(await page.getAttribute('[data-testid="console"]', 'data-role'), 'viewer')
  await count(page, '[data-testid="nodes-table"] tr[data-node-id]', N, 15_000)
  t.equal(await page.locator('[data-action]').count(), 0, 'no remove or approve buttons')
  const status = await page.evaluate(async (id) => {
    const s = await (await fetch('/v1/session')).json() as { csrf: string }
    return (await fetch(`/v1/nodes/${id}`, { method: 'DELETE', headers: { 'x-weft-csrf': s.csrf } })).status
  }, ids[0]!)
  t.equal(status, 403, 'and the API refuses its session a removal')
  t.comment(`screenshot: ${await screenshot(page, 'dashboard-viewer')}`)
  await page.context().close()
})

t.test('the admin removes a node after confirming; cancelling changes nothing', async (t) => {
  await admin.click('[data-tab="nodes"]')
  const gone = ids[N - 1]!
  const row = `[data-testid="nodes-table"] tr[data-node-id="${gone}"]`
  await admin.click(`${row} button[data-action="remove"]`)
  await admin.waitForSelector('[data-testid="confirm-dialog"][open]', { timeout: 5000 })
  t.match(await admin.textContent('[data-confirm-text]'), new RegExp(`node-${N - 1}`))
  await admin.click('[data-testid="confirm-cancel"]')
  t.equal(await admin.locator(row).count(), 1, 'cancelled: still there')
  await admin.click(`${row} button[data-action="remove"]`)
  await admin.click('[data-testid="confirm-ok"]')
  await admin.waitForSelector(row, { state: 'detached', timeout: 10_000 })
  t.match(await mesh.admin('nodes', 'list'), new RegExp(`^(?![\\s\\S]*${gone})`), 'the controller removed it')
  await admin.waitForSelector(`[data-testid="events"] tr[data-event-type="remove"][data-node-id="${gone}"]`, { state: 'attached', timeout: 10_000 })
})

t.test('the admin approves an advertised route after confirming', async (t) => {
  const approve = `[data-testid="nodes-table"] tr[data-node-id="${ids[ROUTER]!}"] button[data-action="approve"][data-route="${ROUTE}"]`
  await admin.waitForSelector(approve, { timeout: 20_000 })
  await admin.click(approve)
  await admin.waitForSelector('[data-testid="confirm-dialog"][open]', { timeout: 5000 })
  t.match(await admin.textContent('[data-confirm-text]'), new RegExp(ROUTE.replace(/\./g, '\\.')))
  await admin.click('[data-testid="confirm-ok"]')
  await admin.waitForSelector(approve, { state: 'detached', timeout: 10_000 })
  await waitFor('the controller to hold the route approved', async () => !(await mesh.admin('routes', 'list')).includes('awaiting approval'), 10_000)
  t.pass('approved')
})

t.test('signing out ends the session', async (t) => {
  await admin.click('[data-testid="sign-out"]')
  await admin.waitForSelector('body[data-state="sign-in"]', { timeout: 10_000 })
  await admin.reload()
  await admin.waitForSelector('body[data-state="sign-in"]', { timeout: 10_000 })
  t.equal(await admin.evaluate(async () => (await fetch('/v1/nodes')).status), 401, 'the cookie no longer reads anything')
})
