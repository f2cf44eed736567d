import { readFile } from 'node:fs/promises'
import { systemClock } from '../lib/clock.js'
import { checkBackup, parseBackup, restoreBackup } from '../lib/control/backup.js'
import { writeFileAtomic } from '../lib/daemon/atomic-file.js'
import { ConfigError } from '../lib/errors.js'
import { createLogger } from '../lib/log.js'
import { ADMIN_FLAGS, ADMIN_USAGE, adminClient } from './admin-flags.js'
import { parseFlags, type Command } from './cli.js'

const BACKUP_USAGE = `Usage: weft controller backup --out FILE [flags]

Takes a backup of the running controller's store through its admin API: every record (nodes, IPs,
credentials' hashes, tokens' hashes, the access policy), read at one moment while writes go on. FILE is
written with mode 0600. The controller and admin keys are not in it: keep DATA/controller.key and
DATA/admin.key with it (docs/operations.md, "Back up and restore").

  --out FILE                   where to write the backup
${ADMIN_USAGE}`

const RESTORE_USAGE = `Usage: weft controller restore --data DIR FILE

Writes the backup FILE into DIR, an empty data directory, as the store a controller started with
--data DIR serves. Copy controller.key and admin.key of the backed-up controller into DIR first (or
after): the store names the keys it was made with, and a controller refuses other ones.

  --data DIR   the data directory to restore into (its db/ must not exist)
`

/** `weft controller backup`: writes the backup and says what it holds. */
export const backup: Command = {
  summary: 'back up the running controller\'s store to a file',
  async run (argv) {
    const p = parseFlags(argv, { out: { type: 'string' }, ...ADMIN_FLAGS }, BACKUP_USAGE)
    if (p === null) return 0
    const v = p.values
    if (v.out === undefined) throw new ConfigError(`--out FILE is required\n\n${BACKUP_USAGE}`)
    const b = await (await adminClient(v)).backup()
    const { summary } = checkBackup(b, 'the controller\'s answer')
    await writeFileAtomic(v.out, JSON.stringify(b) + '\n', 0o600)
    process.stdout.write(`backed up ${summary.nodes} nodes, ${summary.tokens} tokens, ` +
      `${summary.policyVersion === null ? 'no access policy' : `access policy v${summary.policyVersion}`} (${b.records.length} records, ` +
      `store ${b.storeId}, read at ${b.createdAt}) to ${v.out}\n`)
    return 0
  }
}

/** `weft controller restore`: writes a backup into an empty data directory. */
export const restore: Command = {
  summary: 'restore a backup into an empty controller data directory',
  async run (argv) {
    const p = parseFlags(argv, { data: { type: 'string' } }, RESTORE_USAGE, true)
    if (p === null) return 0
    const dir = p.values.data
    const file = p.positionals[0]
    if (dir === undefined || file === undefined || p.positionals.length !== 1) {
      throw new ConfigError(`--data DIR and one backup FILE are required\n\n${RESTORE_USAGE}`)
    }
    let text: string
    try { text = await readFile(file, 'utf8') } catch (err) { throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`) }
    const checked = parseBackup(text, file)
    const b = checked.backup
    const s = await restoreBackup({ dataDir: dir, backup: checked, clock: systemClock, log: createLogger({ level: 'warn', name: 'weft-controller' }) })
    process.stdout.write(`restored ${s.nodes} nodes, ${s.tokens} tokens, ` +
      `${s.policyVersion === null ? 'no access policy' : `access policy v${s.policyVersion}`} from ${file} (read at ${b.createdAt}) into ${dir}\n` +
      `next: copy controller.key and admin.key of that controller into ${dir} (mode 0600), then start weft controller --data ${dir}\n`)
    return 0
  }
}
