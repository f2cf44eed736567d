/**
 * How the dashboard holds up with a large mesh: a controller on loopback with N nodes registered through the API
 * and heartbeating with SWIM reports (bench/controller/client.ts; no daemons), the page in Debian's Chromium
 * (test/e2e/browser.ts). Prints the time to the first complete render (table and matrix), and, over several
 * health changes, the time from the controller answering the reports that change a node's health to the page
 * showing it, with the page's own update and draw times. Saves screenshots in artifacts/ui/.
 *
 *   node dist/bench/ui.js [--nodes 200] [--changes 10]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startController } from '../lib/control/index.js'
import { silentLogger } from '../lib/log.js'
import type { ControllerInfo, SwimReport } from '../lib/wire/api.js'
import { TestBrowser, screenshot, waitForData } from '../test/e2e/browser.js'
import { ApiClient, forEachLimited, makeIdentity, type RegisteredNode } from './controller/client.js'

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '200' }, changes: { type: 'string', default: '10' } } })
const N = Number(values.nodes)
const CHANGES = Number(values.changes)

const dir = await mkdtemp(join(tmpdir(), 'weft-bench-ui-'))
const ctl = await startController({
  dataDir: join(dir, 'data'), listen: '127.0.0.1:0', log: silentLogger(), registerRatePerMin: 0, authFailuresPerMin: 1_000_000
})
const browser = await TestBrowser.launch()
try {
  const adminKey = (await readFile(ctl.adminKeyFile, 'utf8')).trim()
  const api = new ApiClient(ctl.url, 4)
  const info = await (await fetch(new URL('/v1/info', ctl.url))).json() as ControllerInfo
  const { token } = await api.createToken(adminKey, 3_600_000)
  const nodes: RegisteredNode[] = new Array(N)
  await forEachLimited(Array.from({ length: N }, (_, i) => i), 16, async i => { nodes[i] = await api.register(info, makeIdentity(i, 16), token, Date.now()) })

  // Every node reports every tenth node suspect, and node 1 dead at a third of the reporters (at the incarnation each
  // heartbeats, 1, so the fusion counts them), so the matrix has
  // cells of every kind; `victim` is the node whose health the changes below flip.
  const dead = new Set<string>()
  const report = (k: number): SwimReport => ({
    incarnation: 1,
    suspect: nodes.filter((_, i) => i % 10 === 5 && i !== k).map(n => ({ id: n.nodeId, incarnation: 1 })),
    dead: nodes.filter((n, i) => i !== k && (dead.has(n.nodeId) || (i === 1 && k % 3 === 0))).map(n => ({ id: n.nodeId, incarnation: 1 }))
  })
  const beatAll = async (): Promise<void> => {
    await forEachLimited(nodes, 32, async (n, k) => { await api.heartbeat(n, { endpoints: n.endpoints, listenPort: n.listenPort, swim: report(k) }) })
  }
  await beatAll()
  const beating = setInterval(() => { void beatAll().catch(() => {}) }, 2000)

  const { page, errors } = await browser.page({ width: 1600, height: 1000 })
  await page.goto(new URL('/ui/', ctl.url).href)
  await page.waitForSelector('body[data-state="sign-in"]')
  await page.fill('[data-testid="sign-in-key"]', adminKey)
  const signedAt = Date.now()
  await page.click('[data-testid="sign-in-submit"]')
  await waitForData(page, '[data-testid="nodes-table"]', 'rows', v => Number(v) === N, 30_000)
  await waitForData(page, '[data-testid="mesh-matrix"]', 'rows', v => Number(v) === N, 30_000)
  const firstPaintMs = Date.now() - signedAt
  const ui = async (): Promise<Record<string, number>> => await page.evaluate('({ ...window.weftUi })') as Record<string, number>
  const first = await ui()
  console.log(`weft bench ui: ${N} nodes, Chromium ${browser.browser.version()}`)
  console.log(`first render (table and matrix), from the page's start: ${Math.round(first.firstRenderMs!)} ms; from the sign-in click: ${firstPaintMs} ms`)
  await screenshot(page, `bench-${N}-nodes`)

  const victim = nodes[7]!
  const row = `[data-testid="nodes-table"] tr[data-node-id="${victim.nodeId}"]`
  const latencies: number[] = []
  const updates: number[] = []
  const renders: number[] = []
  const draws: number[] = []
  for (let c = 0; c < CHANGES; c++) {
    const want = dead.has(victim.nodeId) ? 'online' : 'mesh-lost'
    if (want === 'online') dead.delete(victim.nodeId); else dead.add(victim.nodeId)
    await beatAll()
    const t0 = Date.now()
    await waitForData(page, row, 'health', v => v === want, 10_000)
    latencies.push(Date.now() - t0)
    const s = await ui()
    updates.push(s.lastUpdateMs!)
    renders.push(s.lastRenderMs!)
    draws.push(s.lastMatrixDrawMs!)
  }
  console.log(`health change shown (controller answered -> the row's health changed), ${CHANGES} changes: ` +
    `p50 ${median(latencies)} ms, max ${Math.max(...latencies)} ms`)
  console.log(`page's update cycle (fetch /v1/nodes and /v1/mesh, render): p50 ${median(updates)} ms; table render p50 ${median(renders)} ms; ` +
    `matrix draw p50 ${median(draws)} ms`)
  await page.click('[data-tab="mesh"]')
  await waitForData(page, '[data-testid="mesh-matrix"]', 'drawnAt', v => v !== undefined, 10_000)
  await screenshot(page, `bench-${N}-mesh`)
  await page.click('[data-tab="history"]')
  await waitForData(page, '[data-testid="history"]', 'nodes', v => Number(v) === N, 15_000)
  await screenshot(page, `bench-${N}-history`)
  console.log(`page errors: ${errors.filter(e => !/401/.test(e)).length}; screenshots in artifacts/ui/bench-${N}-*.png`)
  clearInterval(beating)
  await api.close()
} finally {
  await browser.close()
  await ctl.close()
  await rm(dir, { recursive: true, force: true })
}

function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.floor((s.length - 1) / 2)]!)
}
