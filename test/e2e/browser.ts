/**
 * A headless browser for the dashboard's tests: Debian's Chromium (scripts/ensure-deps.sh installs it) driven
 * by playwright-core, which never downloads a browser of its own. Each launch is a browser process of its
 * own that the test's teardown ends, checked by pid; screenshots go to artifacts/ui/ at the repository root,
 * where CI picks them up.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core'

/** Debian's Chromium launcher (it execs /usr/lib/chromium/chromium, so the pid stays the browser's). */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/** Where screenshots go: artifacts/ui/ at the repository root (git ignores artifacts/). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../artifacts/ui/', import.meta.url))

/**
 * Chromium's flags here: root cannot use its sandbox; there is no GPU; a container's /dev/shm (64 MiB under
 * Docker) is too small for its shared memory, and the launcher's own check for that (/etc/chromium.d/dev-shm)
 * fails on machines where /dev/shm is mounted twice. Playwright adds its usual automation flags.
 */
export const CHROMIUM_ARGS: readonly string[] = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']

/** What a page saw go wrong: console errors and uncaught exceptions, in order. */
export interface TestPage { page: Page, errors: string[] }

/** Options of TestBrowser.launch. */
export interface LaunchOptions {
  /** How long the launch may take, in ms. Default: 30 s, far above the fraction of a second it takes on an idle machine. */
  timeoutMs?: number
}

/** A running Chromium; always `close()` it (openBrowser registers that with the test). */
export class TestBrowser {
  private closed = false
  private readonly onExit: () => void

  private constructor (readonly browser: Browser, private readonly server: BrowserServer, readonly pid: number,
    private readonly configDir: string, readonly launchMs: number) {
    // A test process that dies without its teardown still takes the browser with it.
    this.onExit = () => { try { process.kill(-pid, 'SIGKILL') } catch { /* already gone */ } }
    process.on('exit', this.onExit)
  }

  /**
   * Starts Chromium headless and connects to it. Its configuration directory (XDG_CONFIG_HOME) is a fresh
   * temporary one: nothing lands in root's home, and the crash handlers, which leave the browser's process
   * group, carry it in their arguments, so close() can find them.
   */
  static async launch (o: LaunchOptions = {}): Promise<TestBrowser> {
    const t0 = Date.now()
    const configDir = mkdtempSync(join(tmpdir(), 'weft-chromium-'))
    let server: BrowserServer | undefined
    try {
      server = await chromium.launchServer({
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: [...CHROMIUM_ARGS],
        env: { ...process.env, XDG_CONFIG_HOME: configDir },
        host: '127.0.0.1',
        timeout: o.timeoutMs ?? 30_000
      })
      const pid = server.process().pid
      if (pid === undefined) throw new Error(`${CHROMIUM_PATH} did not start`)
      const browser = await chromium.connect(server.wsEndpoint(), { timeout: o.timeoutMs ?? 30_000 })
      return new TestBrowser(browser, server, pid, configDir, Date.now() - t0)
    } catch (err) {
      await server?.kill()
      rmSync(configDir, { recursive: true, force: true })
      throw err
    }
  }

  /**
   * A page in a fresh context (its own cookies, so each page signs in on its own), 1280x800, recording
   * console errors and uncaught exceptions.
   */
  async page (viewport = { width: 1280, height: 800 }): Promise<TestPage> {
    const context = await this.browser.newContext({ viewport })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
    page.on('pageerror', e => errors.push(`exception: ${e.message}`))
    return { page, errors }
  }

  /** Pids of this browser's live processes: its process group (renderers, GPU, utilities) and its crash handlers. */
  processes (): number[] {
    return liveProcesses(this.pid, `--database=${this.configDir}/`)
  }

  /**
   * Ends the browser and resolves once every one of its processes is gone (SIGKILL for those left after a
   * 5 s graceful close), then removes its configuration directory. Idempotent.
   */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.race([
      (async () => { await this.browser.close(); await this.server.close() })().catch(() => {}),
      new Promise(resolve => setTimeout(resolve, 5000))
    ])
    if (groupAlive(this.pid)) await this.server.kill().catch(() => {})
    const kill = Date.now() + 5000
    const until = kill + 5000
    let left: number[]
    while ((left = this.processes()).length > 0) {
      if (Date.now() > until) throw new Error(`chromium (pid ${this.pid}) still has processes after close: ${left.join(' ')}`)
      if (Date.now() > kill) for (const p of left) { try { process.kill(p, 'SIGKILL') } catch { /* gone */ } }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    process.off('exit', this.onExit)
    rmSync(this.configDir, { recursive: true, force: true })
  }
}

/** Launches a browser whose close is registered with `t`'s teardown (tap), so it ends however the test does. */
export async function openBrowser (t: { teardown: (fn: () => unknown) => void }, o: LaunchOptions = {}): Promise<TestBrowser> {
  const b = await TestBrowser.launch(o)
  t.teardown(async () => { await b.close() })
  return b
}

/** Saves a full-page PNG of `page` as artifacts/ui/`name`.png (name reduced to [A-Za-z0-9._-]); resolves with its path. */
export async function screenshot (page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  const path = join(ARTIFACTS_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/**
 * Live (not zombie) processes in process group `pgid`, or whose command line has an argument starting with
 * `argPrefix`. Playwright starts Chromium as a group leader, so the group is the browser and what it started.
 */
export function liveProcesses (pgid: number, argPrefix?: string): number[] {
  const out: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    let stat: string
    try { stat = readFileSync(`/proc/${p}/stat`, 'utf8') } catch { continue }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (rest[0] === 'Z' || rest[0] === 'X') continue
    if (Number(rest[2]) === pgid) { out.push(Number(p)); continue }
    if (argPrefix === undefined) continue
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').some(a => a.startsWith(argPrefix))) out.push(Number(p))
    } catch { /* gone */ }
  }
  return out
}

/** True while a live process runs in process group `pgid`. */
export function groupAlive (pgid: number): boolean {
  return liveProcesses(pgid).length > 0
}

/**
 * Resolves once the `dataset` of the element of `page` at `selector` (camel-case keys; empty when there is no such
 * element) satisfies `pass`; rejects after `ms`. Read from outside through the browser's protocol, not with eval
 * in the page, which the dashboard's Content-Security-Policy forbids.
 */
export async function waitForDataset (page: Page, selector: string, pass: (d: Record<string, string>) => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    const d = await page.$eval(selector, el => ({ ...(el as unknown as { dataset: Record<string, string> }).dataset })).catch(() => ({}))
    if (pass(d)) return
    if (Date.now() > end) throw new Error(`${selector}: data ${JSON.stringify(d)} after ${ms} ms`)
    await page.waitForTimeout(20)
  }
}

/** waitForDataset on one attribute `attr` (camel case): its value, or undefined without one. */
export async function waitForData (page: Page, selector: string, attr: string, pass: (v: string | undefined) => boolean, ms: number): Promise<void> {
  await waitForDataset(page, selector, d => pass(d[attr]), ms)
}
