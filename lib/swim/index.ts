/** Public surface of the SWIM core: what the daemon and the simulator import. */
export { Swim, type SwimOptions } from './swim.js'
export {
  meshConfig, lanConfig, localConfig, resolve as resolveSwimConfig, DEFAULTS as SWIM_DEFAULTS, DEFAULT_PRESET, PRESETS, PRESET_NAMES,
  type PresetName, type SwimConfig
} from './config.js'
export { SeededRandom, shuffle, sample, type Random } from './random.js'
export type { MemberState } from './state.js'
export { DROP_REASONS, type SwimEvent, type SwimEventType, type SwimStats, type MemberInfo, type Transmit, type ControlHint, type DropReason } from './types.js'
export { WIRE_VERSION } from './codec.js'
export { MAX_INCARNATION, isIncarnation, restartIncarnation } from './incarnation.js'
export { SIGNATURE_BYTES, claimMessage, type ClaimAuth, type SignedClaim } from './claims.js'
