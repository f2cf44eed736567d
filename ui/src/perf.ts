/**
 * Figures the page publishes as `window.weftUi` for browser tests and for an operator's console. Times are ms from
 * `performance.now()` (navigation start is 0).
 */
export interface WeftUiStats {
  /** When the first complete update (nodes table and mesh matrix) finished, from navigation start; null before. */
  firstRenderMs: number | null
  /** Duration of the last update cycle: both fetches and the rendering. */
  lastUpdateMs: number | null
  /** Of that, the time spent rendering (table, summary, matrix). */
  lastRenderMs: number | null
  /** Duration of the last heatmap draw (only while the Mesh tab is shown); null before one. */
  lastMatrixDrawMs: number | null
  /** Update cycles completed since sign-in. */
  updates: number
  /** Update cycles that failed (controller unreachable, error status). */
  failedUpdates: number
  /** Nodes in the table after the last update. */
  nodes: number
  /** History fetches since sign-in. */
  historyFetches: number
  /** Events received from the stream since sign-in. */
  streamEvents: number
}

declare global {
  interface Window { weftUi: WeftUiStats }
}

/** Fresh figures, published on `window.weftUi`. */
export function resetStats (): WeftUiStats {
  const stats: WeftUiStats = {
    firstRenderMs: null,
    lastUpdateMs: null,
    lastRenderMs: null,
    lastMatrixDrawMs: null,
    updates: 0,
    failedUpdates: 0,
    nodes: 0,
    historyFetches: 0,
    streamEvents: 0,
  }
  window.weftUi = stats
  return stats
}
