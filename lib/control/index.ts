import { systemClock, type Clock } from '../clock.js'
import { createLogger, type Logger } from '../log.js'
import type { ControllerConfigInput } from './config.js'
import { Controller } from './controller.js'

export { Controller } from './controller.js'
export { DEFAULTS, resolve as resolveConfig, type ControllerConfig, type ControllerConfigInput } from './config.js'
export { AdminClient } from './admin-client.js'

/** A running controller as tests and benchmarks see it. */
export interface RunningController {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string
  /** The controller's X25519 public key (registration proofs are keyed by DH with it). */
  publicKey: string
  /** SHA-256 fingerprint of the served TLS certificate, `sha256:<hex>`; null without TLS. */
  tlsFingerprint: string | null
  /** Path of the admin key file in the data directory. */
  adminKeyFile: string
  /** The controller itself, for in-process inspection (sweep(), metrics, netmap). */
  controller: Controller
  close (): Promise<void>
}

/**
 * Starts a controller (listen defaults to DEFAULTS.listen; pass `listen: '127.0.0.1:0'` for a free port).
 * Rejects with ConfigError or DataDirError when the config or data directory cannot work.
 */
export async function startController (opts: ControllerConfigInput & { clock?: Clock, log?: Logger }): Promise<RunningController> {
  const { clock, log, ...config } = opts
  const controller = await Controller.start(config, { clock: clock ?? systemClock, log: log ?? createLogger({ level: config.logLevel }) })
  return {
    url: controller.url,
    publicKey: controller.publicKey,
    tlsFingerprint: controller.tlsFingerprint,
    adminKeyFile: `${controller.config.dataDir}/admin.key`,
    controller,
    close: async () => await controller.close()
  }
}
