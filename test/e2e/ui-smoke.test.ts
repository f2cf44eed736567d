import t from 'tap'
import { existsSync, statSync } from 'node:fs'
import { Mesh, waitFor } from '../../sim/cluster.js'
import { openRelay } from '../../sim/netns/relay.js'
import { processStartTime } from '../../sim/netns/procs.js'
import { groupAlive, openBrowser, screenshot } from './browser.js'

const mesh = await Mesh.create(2)
t.teardown(async () => { await mesh.destroy() })
await mesh.startDaemon(0)
await mesh.startDaemon(1)
await waitFor('both daemons answering', async () => (await mesh.tryStatus(0)) !== null && (await mesh.tryStatus(1)) !== null, 30_000, 200)

const target = new URL(mesh.controllerUrl)
const relay = await openRelay(mesh.world, { ns: mesh.world.names.controllerNs, host: target.hostname, port: Number(target.port) })
t.teardown(async () => { await relay.close() })

const browser = await openBrowser(t)
t.comment(`chromium ${browser.browser.version()} launched and connected in ${browser.launchMs} ms`)

t.test('the controller serves the dashboard to a browser on the host, through the relay', async t => {
  const { page, errors } = await browser.page()
  const res = await page.goto(relay.url('/ui/'), { waitUntil: 'load' })
  t.equal(res?.status(), 200, 'GET /ui/ answers 200')
  t.match(await page.title(), /Weft/, 'its <title> names Weft')
  const shot = await screenshot(page, 'smoke-sign-in')
  t.ok(existsSync(shot) && statSync(shot).size > 1000, `screenshot saved: ${shot}`)
  if (errors.length > 0) t.comment(`page reported: ${errors.join('; ')}`)
})

t.test('closing the browser ends its processes', async t => {
  const pids = browser.processes()
  t.ok(pids.includes(browser.pid), `chromium runs until closed (${pids.length} processes)`)
  await browser.close()
  t.notOk(groupAlive(browser.pid), `chromium (pid ${browser.pid}) and the processes of its group are gone`)
  t.same(pids.filter(p => processStartTime(p) !== null), [], 'so are its crash handlers')
})
