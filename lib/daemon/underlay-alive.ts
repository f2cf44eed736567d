import type { Swim } from '../swim/swim.js'

/**
 * A member's alive heard over the underlay (an announcement's ping or ack, already authenticated): SWIM takes
 * it. Returns true when it revived a member we held dead at that very incarnation: the member does not know
 * it was buried, and our word reaches it only once both ends of the tunnel are back, so the caller tells it
 * over the underlay at once (Announcer.notifyDead) and it refutes. The daemon and `weft sim virtual` both run it.
 */
export function noteUnderlayAlive (swim: Pick<Swim, 'member' | 'noteAlive'>, now: number, id: string, incarnation: number,
  sig: Uint8Array): boolean {
  const before = swim.member(id)
  const revived = swim.noteAlive(now, id, incarnation, sig)
  return revived && before?.state === 'dead' && before.incarnation === incarnation
}
