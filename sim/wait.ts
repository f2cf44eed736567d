/** Waits until `cond` holds, polling every `everyMs`; throws naming `what` after `timeoutMs`. */
export async function waitFor (what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    if (await cond()) return Date.now() - t0
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
