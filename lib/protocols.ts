import { ANNOUNCE_VERSION } from './daemon/announce-codec.js'
import { WIRE_VERSION } from './swim/codec.js'
import { API_VERSION } from './wire/api.js'
import { PROOF_VERSION } from './wire/proof.js'

/**
 * Every protocol version this build speaks, for `weft version`: two builds interoperate when these match
 * (docs/api.md, docs/protocol.md).
 */
export const PROTOCOL_VERSIONS = {
  /** Controller HTTP API, the path prefix of every route. */
  api: API_VERSION,
  /** SWIM packet envelope (lib/swim/codec.ts). */
  swimWire: WIRE_VERSION,
  /** Underlay announcement between daemons (lib/daemon/announce-codec.ts). */
  underlayAnnouncement: ANNOUNCE_VERSION,
  /** Registration proof of key possession (lib/wire/proof.ts). */
  registrationProof: PROOF_VERSION
} as const
