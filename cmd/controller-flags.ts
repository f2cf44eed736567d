import { loadControllerTrust, type ControllerTrust } from '../lib/client/trust.js'

/** Flags of every command that talks to the controller: which certificate to trust. */
export const CONTROLLER_TRUST_FLAGS = {
  'controller-ca': { type: 'string' },
  'controller-fingerprint': { type: 'string' }
} as const

/** Usage lines for CONTROLLER_TRUST_FLAGS. */
export const CONTROLLER_TRUST_USAGE = `  --controller-ca FILE          PEM file of the CA (or the controller's self-signed certificate) to trust
                                for an https:// controller (env WEFT_CONTROLLER_CA; default: the system's CAs)
  --controller-fingerprint FP   pin the controller's certificate: sha256:<64 hex>, as the controller prints
                                at start (env WEFT_CONTROLLER_FINGERPRINT)`

/** The ControllerTrust the flags (or their env fallbacks) ask for. */
export function controllerTrust (v: { 'controller-ca'?: string, 'controller-fingerprint'?: string }): ControllerTrust {
  const caFile = v['controller-ca'] ?? nonEmpty(process.env.WEFT_CONTROLLER_CA)
  const fingerprint = v['controller-fingerprint'] ?? nonEmpty(process.env.WEFT_CONTROLLER_FINGERPRINT)
  return loadControllerTrust({ ...(caFile !== undefined ? { caFile } : {}), ...(fingerprint !== undefined ? { fingerprint } : {}) })
}

function nonEmpty (s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s
}
