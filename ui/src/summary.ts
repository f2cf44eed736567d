import type { NodeStatus } from './api-types.js'
import { HEALTHS } from './health.js'

/** Counts nodes by health; every known health is present, zero included. */
export function countByHealth (nodes: readonly NodeStatus[]): Map<string, number> {
  const counts = new Map<string, number>(HEALTHS.map((h) => [h, 0]))
  for (const n of nodes) counts.set(n.health, (counts.get(n.health) ?? 0) + 1)
  return counts
}

/**
 * The counts at the top of the console: the total and one coloured count per health (`removed` only when some
 * node has it). Each count is a `[data-summary-health]` element with its number in `data-count`.
 */
export function renderSummary (el: HTMLElement, nodes: readonly NodeStatus[]): void {
  const counts = countByHealth(nodes)
  const items: HTMLElement[] = []
  const total = document.createElement('span')
  total.className = 'count total'
  total.dataset.summaryTotal = String(nodes.length)
  total.textContent = `${nodes.length} nodes`
  items.push(total)
  for (const [health, count] of counts) {
    if (health === 'removed' && count === 0) continue
    const item = document.createElement('span')
    item.className = `count badge badge-${health.replace(/[^a-z-]/g, '')}${count === 0 ? ' zero' : ''}`
    item.dataset.summaryHealth = health
    item.dataset.count = String(count)
    item.textContent = `${count} ${health}`
    items.push(item)
  }
  const text = items.map((i) => i.textContent).join('|')
  if (el.dataset.renderedText !== text) {
    el.replaceChildren(...items)
    el.dataset.renderedText = text
  }
}
