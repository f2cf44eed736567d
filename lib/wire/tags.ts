/**
 * Tags: the names an admin puts on nodes (`weft nodes tag`, `weft token create --tag`) and the access policy
 * selects nodes by (docs/policy.md). One grammar for the controller, the daemon and the policy document.
 */

/** Most tags one node or token carries. */
export const MAX_TAGS = 32

const TAG_RE = /^tag:[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

/** Whether `s` is a tag: `tag:` and a name of letters, digits, `-`, `_` and `.`, at most 63 long. */
export function isTag (s: unknown): s is string {
  return typeof s === 'string' && TAG_RE.test(s)
}

/** `list` checked, without duplicates, and sorted; or the reason it is not a tag list. */
export function checkTags (list: readonly unknown[]): { tags: string[] } | { error: string } {
  if (list.length > MAX_TAGS) return { error: `${list.length} tags; at most ${MAX_TAGS}` }
  for (const t of list) if (!isTag(t)) return { error: `"${String(t)}" is not a tag such as tag:web` }
  return { tags: [...new Set(list as string[])].sort() }
}
