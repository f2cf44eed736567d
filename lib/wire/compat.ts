/**
 * Whether a node and a controller can work together: the same API (its path prefix) and the same registration
 * proof. A mismatch is refused with a sentence saying which versions differ and what to upgrade, before any
 * request the other side would misread; SWIM and underlay packets of another version are dropped and counted
 * by their codecs (lib/swim/codec.ts, lib/daemon/announce-codec.ts).
 */
import { ControllerError } from '../errors.js'
import { WEFT_VERSION } from '../version.js'
import { API_VERSION, type ControllerProtocols } from './api.js'
import { PROOF_VERSION } from './proof.js'

/** What this build speaks, as a controller announces it in `GET /v1/info`. */
export function ownProtocols (): ControllerProtocols {
  return { api: API_VERSION, registrationProof: PROOF_VERSION, weft: WEFT_VERSION }
}

/**
 * Throws ControllerError when the controller at `url`, announcing `theirs`, speaks an API or a registration
 * proof this node does not. A controller that announces nothing predates the check and is taken as it is.
 */
export function checkControllerProtocols (theirs: ControllerProtocols | undefined, url: string): void {
  if (theirs === undefined) return
  const ours = ownProtocols()
  const differ: string[] = []
  if (theirs.api !== ours.api) differ.push(`API ${theirs.api} (this node: ${ours.api})`)
  if (theirs.registrationProof !== ours.registrationProof) differ.push(`registration proof ${theirs.registrationProof} (this node: ${ours.registrationProof})`)
  if (differ.length === 0) return
  throw new ControllerError(`the controller at ${url} (Weft ${theirs.weft}) speaks ${differ.join(' and ')}; this node runs Weft ${ours.weft}. ` +
    'Upgrade the older of the two so that both speak the same versions (`weft version` lists them)')
}
