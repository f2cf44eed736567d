import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { answers, listNodes, prepare, registerOne, type Answers, type Target } from './client.js'
import { Ledger, type LedgerCheck } from './ledger.js'
import { StartFailed, startChild, type ControllerChild } from './process.js'
import { mountTmpfs } from './tmpfs.js'

/**
 * The fault scenarios, one round each. Every round starts from a fresh data directory and ends with the
 * controller restarted and its node list compared with every registration it acknowledged.
 *
 * - disk-full: fill the tmpfs under the data directory, register until writes are refused, free the
 *   space, wait until a registration is accepted again, register 20 more, stop the controller (SIGKILL
 *   on even rounds, SIGTERM on odd), start it again, check, register 30 more and check again.
 * - full-kill: as disk-full, but SIGKILL while the disk is still full, try a start while it is full,
 *   free the space, start, check, register 20 more, SIGKILL, start and check again.
 * - kill: `kills` times on one data directory, a burst of registrations (32 in flight) and a SIGKILL
 *   after a random number of acknowledgements, then a start and a check.
 */

/** Scenario names. */
export const SCENARIOS = ['disk-full', 'full-kill', 'kill'] as const
export type ScenarioName = typeof SCENARIOS[number]

/** Knobs of a campaign. */
export interface CampaignOptions {
  /** Size of each round's tmpfs, KiB. */
  tmpfsKiB: number
  /** Registrations per burst in the kill scenario. */
  burst: number
  /** SIGKILLs per round in the kill scenario. */
  kills: number
  /** Random numbers in [0, 1), seeded. */
  random: () => number
}

/** What one round saw. */
export interface RoundResult {
  /** The worst of the round's checks (every check covers every acknowledgement before it). */
  check: LedgerCheck
  answers: Answers
  /** Where the store failed first (`store.error`'s stage), for the disk scenarios. */
  stage: string | null
  /** From freeing the space to the first acknowledged registration, ms. */
  recoverMs: number | null
  /** Whether a start while the disk was still full came up or was refused (full-kill). */
  startWhileFull: 'started' | 'refused' | null
}

/** Runs one round of `name`. */
export async function runRound (name: ScenarioName, o: CampaignOptions, round: number): Promise<RoundResult> {
  switch (name) {
    case 'disk-full': return await diskFull(o, round, false)
    case 'full-kill': return await diskFull(o, round, true)
    case 'kill': return await kills(o)
    default: { const never: never = name; throw new Error(`unknown scenario ${String(never)}`) }
  }
}

function worst (checks: LedgerCheck[]): LedgerCheck {
  return checks.reduce((a, b) => ({
    acknowledged: Math.max(a.acknowledged, b.acknowledged),
    lost: Math.max(a.lost, b.lost),
    moved: Math.max(a.moved, b.moved),
    reissued: Math.max(a.reissued, b.reissued),
    duplicateIps: Math.max(a.duplicateIps, b.duplicateIps)
  }))
}

async function checkAfterStart (dataDir: string, ledger: Ledger, checks: LedgerCheck[]): Promise<ControllerChild> {
  const c = await startChild(dataDir)
  checks.push(ledger.check(await listNodes(c)))
  return c
}

async function diskFull (o: CampaignOptions, round: number, killWhileFull: boolean): Promise<RoundResult> {
  const fs = await mountTmpfs(o.tmpfsKiB)
  const dataDir = join(fs.dir, 'data')
  const filler = join(fs.dir, 'filler')
  let c: ControllerChild | null = null
  try {
    c = await startChild(dataDir)
    const prepared = await prepare(c.url, c.adminKey)
    let target: Target = prepared.target
    const ledger = new Ledger()
    const tally = answers()
    const checks: LedgerCheck[] = []
    for (let i = 0; i < 10; i++) await registerOne(target, prepared.token, ledger, tally)
    // Leave 0 to 3 free pages, so that the database write and the guard write each get to fail first.
    const free = await statfs(fs.dir)
    await writeFile(filler, Buffer.alloc(Math.max(0, free.bavail * free.bsize - (round % 4) * free.bsize)))
    let refused = 0
    let attempts = 0
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (refused < 8 && attempts++ < 3000) if (await registerOne(target, prepared.token, ledger, tally) !== 200) refused++
    }))
    const stage = (c.logs.find(e => e.event === 'store.error')?.stage as string | undefined) ?? null
    let recoverMs: number | null = null
    let startWhileFull: RoundResult['startWhileFull'] = null
    if (killWhileFull) {
      await c.kill('SIGKILL')
      c = null
      try {
        const early = await startChild(dataDir, 15_000)
        startWhileFull = 'started'
        await early.kill('SIGKILL')
      } catch (err) {
        if (!(err instanceof StartFailed)) throw err
        startWhileFull = 'refused'
      }
      await rm(filler)
      c = await checkAfterStart(dataDir, ledger, checks)
      target = { ...target, url: c.url }
    } else {
      await rm(filler)
      const t0 = performance.now()
      while (performance.now() - t0 < 60_000) {
        if (await registerOne(target, prepared.token, ledger, tally) === 200) { recoverMs = performance.now() - t0; break }
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }
    for (let i = 0; i < 20; i++) await registerOne(target, prepared.token, ledger, tally)
    await c.kill(killWhileFull || round % 2 === 0 ? 'SIGKILL' : 'SIGTERM')
    c = await checkAfterStart(dataDir, ledger, checks)
    // New nodes after the restart: a forgotten node's IP handed out again would show as re-issued.
    target = { ...target, url: c.url }
    for (let i = 0; i < 30; i++) await registerOne(target, prepared.token, ledger, tally)
    checks.push(ledger.check(await listNodes(c)))
    return { check: worst(checks), answers: tally, stage, recoverMs, startWhileFull }
  } finally {
    await c?.kill('SIGKILL')
    await rm(filler, { force: true })
    await fs.remove()
  }
}

async function kills (o: CampaignOptions): Promise<RoundResult> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-faults-'))
  const dataDir = join(dir, 'data')
  let c: ControllerChild | null = null
  try {
    c = await startChild(dataDir)
    const prepared = await prepare(c.url, c.adminKey)
    let target: Target = prepared.target
    const ledger = new Ledger()
    const tally = answers()
    const checks: LedgerCheck[] = []
    for (let k = 0; k < o.kills; k++) {
      const running: ControllerChild = c!
      const killAfter = 1 + Math.floor(o.random() * o.burst * 0.8)
      let acked = 0
      let started = 0
      let killed = false
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (!killed && started++ < o.burst) {
          if (await registerOne(target, prepared.token, ledger, tally) === 200 && ++acked >= killAfter && !killed) {
            killed = true
            void running.kill('SIGKILL')
          }
        }
      }))
      await running.kill('SIGKILL')
      c = await checkAfterStart(dataDir, ledger, checks)
      target = { ...target, url: c.url }
    }
    return { check: worst(checks), answers: tally, stage: null, recoverMs: null, startWhileFull: null }
  } finally {
    await c?.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
}
