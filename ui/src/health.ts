import type { Health } from './api-types.js'

/** Every health, worst first: the order of the summary, of the history legend and of sorting by health. */
export const HEALTHS: readonly Health[] = ['offline', 'mesh-lost', 'control-lost', 'online', 'left', 'removed']

/** Colours of the health badges and the history bars; style.css uses the same values for `.badge-<health>`. */
export const HEALTH_COLOURS: Record<Health, string> = {
  online: '#2e9d5b',
  offline: '#d64541',
  'control-lost': '#e39a1a',
  'mesh-lost': '#8e5bd1',
  left: '#9aa3ad',
  removed: '#5d6670',
}

/** What each health means, for badge tooltips. */
export const HEALTH_MEANINGS: Record<Health, string> = {
  online: 'the controller hears from it and its peers do not hold it dead',
  offline: 'the controller does not hear from it and its peers hold it dead',
  'control-lost': 'its peers see it alive but the controller does not hear from it',
  'mesh-lost': 'the controller hears from it but its peers hold it dead',
  left: 'it left gracefully',
  removed: 'an admin removed it',
}

/** Rank of a health in HEALTHS (worst is 0); an unknown value sorts last. */
export function healthRank (h: string): number {
  const i = HEALTHS.indexOf(h as Health)
  return i < 0 ? HEALTHS.length : i
}

/** The colour for a health, grey for a value this page does not know. */
export function healthColour (h: string): string {
  return HEALTH_COLOURS[h as Health] ?? '#9aa3ad'
}
