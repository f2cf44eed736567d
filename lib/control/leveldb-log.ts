import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * LevelDB's own account of an open. LevelDB starts a fresh `LOG` in the database directory at every open
 * (the previous one becomes `LOG.old`), and while it replays its write-ahead log it skips what fails its
 * checksum, writing one line per skipped range ("... dropping 11807 bytes; Corruption: checksum mismatch")
 * and carrying on. Reading `LOG` right after an open is the only way to learn that it threw data away.
 */

/** At most this many lines are kept, so a badly damaged log cannot flood the controller's own log. */
const MAX_LINES = 20

/** The lines of `DIR/LOG` that report dropped bytes, corruption or errors (at most 20); [] when there is no LOG. */
export async function recoveryWarnings (dbDir: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(join(dbDir, 'LOG'), 'utf8')
  } catch {
    return []
  }
  return text.split('\n').filter(l => /dropping|corrupt|error/i.test(l)).slice(0, MAX_LINES).map(l => l.trim().slice(0, 400))
}

/** Bytes dropped, summed over the "dropping N bytes" lines. */
export function droppedBytes (lines: string[]): number {
  let n = 0
  for (const l of lines) {
    const m = /dropping (\d+) bytes/.exec(l)
    if (m !== null) n += Number(m[1])
  }
  return n
}
