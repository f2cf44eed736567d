/**
 * The controller's check of the node hostnames a policy uses (Policy.nodeNames: group members, rule and test
 * sources and destinations). parsePolicy takes any such name for a node, having no list of nodes; the
 * controller, which has one, refuses a name no node has, since a typo would otherwise match nothing and fail
 * silently. Pure: no IO.
 */
import { PolicyError } from '../errors.js'
import type { Policy } from './document.js'

/**
 * Throws PolicyError at the first node hostname of `p` that `hostnames` does not hold, with the hostname that
 * differs only in case when there is one.
 */
export function checkNodeNames (p: Policy, hostnames: ReadonlySet<string>): void {
  for (const u of p.nodeNames) {
    if (hostnames.has(u.name)) continue
    const lower = u.name.toLowerCase()
    const near = [...hostnames].find(h => h.toLowerCase() === lower)
    throw new PolicyError(`"${u.name}" is not the hostname of any node, nor a group, tag or host` +
      (near !== undefined ? ` (names are matched exactly; a node is called "${near}")` : ''), u.at)
  }
}
