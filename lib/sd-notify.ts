import { execFile } from 'node:child_process'
import type { Logger } from './log.js'

/**
 * Readiness for systemd's `Type=notify` (sd_notify(3)): the controller says READY=1 once it listens, the daemon
 * once its mesh runs, and each says STOPPING=1 when it begins to stop. Without NOTIFY_SOCKET nothing is sent.
 *
 * The message goes through `systemd-notify` rather than a socket of our own. Node has no unix datagram socket
 * (`dgram` is UDP only), and NOTIFY_SOCKET may name an abstract socket (`@...`) or a vsock; `systemd-notify`
 * speaks all of them and is on every host whose service manager sets NOTIFY_SOCKET. A message from a child
 * process needs `NotifyAccess=all` in the unit, and systemd drops one whose sender has already exited; so
 * `systemd-notify` is run without `--no-block`: it waits (sd_notify_barrier) until systemd has read the message.
 */

/** A state this service reports to its service manager. */
export type ServiceNotice = 'READY=1' | 'STOPPING=1'

/** The program and arguments that deliver one notice. */
export interface NotifyCommand {
  file: string
  args: string[]
}

/** How long `systemd-notify` may take, barrier included (it gives up on the barrier after 5 s itself). */
const NOTIFY_TIMEOUT_MS = 10_000

/** The command that tells the service manager `notice`, or null when none listens (NOTIFY_SOCKET unset or empty). */
export function notifyCommand (env: Readonly<Record<string, string | undefined>>, notice: ServiceNotice): NotifyCommand | null {
  const socket = env.NOTIFY_SOCKET
  if (socket === undefined || socket === '') return null
  return { file: 'systemd-notify', args: [notice] }
}

/**
 * Tells the service manager `notice` and resolves once it has read it; does nothing without NOTIFY_SOCKET. Never
 * rejects: a notice that cannot be sent is logged (`service.notify_failed`), and systemd's start timeout says the rest.
 */
export async function notifyService (notice: ServiceNotice, log: Logger, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  const cmd = notifyCommand(env, notice)
  if (cmd === null) return
  await new Promise<void>(resolve => {
    execFile(cmd.file, cmd.args, { timeout: NOTIFY_TIMEOUT_MS, env: { ...env } }, (err, _stdout, stderr) => {
      if (err !== null) {
        log.warn({ event: 'service.notify_failed', notice, reason: (stderr.trim() || err.message) },
          `could not tell systemd ${notice} (systemd-notify: ${stderr.trim() || err.message})`)
      }
      resolve()
    })
  })
}
