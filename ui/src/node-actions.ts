import { ApiError, type Api } from './api.js'
import { confirmAction } from './confirm.js'
import { nodeName } from './format.js'
import type { NodeAction } from './nodes-table.js'

/** The confirmation sentence and button label for an action: what happens, in the operator's terms. */
export function describeAction (a: NodeAction): { text: string, ok: string } {
  const who = `${nodeName(a.node)} (${a.node.meshIp})`
  if (a.kind === 'remove') {
    return { text: `Remove ${who}? Its credential stops working and every daemon drops it.`, ok: 'Remove' }
  }
  if (a.route === 'exit') {
    return { text: `Approve ${who} as an exit node? Daemons that choose it then send their internet traffic through it.`, ok: 'Approve exit node' }
  }
  return { text: `Approve route ${a.route} via ${who}? Every daemon then routes ${a.route} through this node.`, ok: 'Approve route' }
}

/**
 * Carries out the admin's row actions: confirm, call the API, show its error sentence if it fails, and ask for
 * a refresh when it succeeds.
 */
export class NodeActions {
  private readonly api: Api
  private readonly dialog: HTMLDialogElement
  private readonly showError: (message: string | null) => void
  private readonly onDone: () => void

  constructor (api: Api, dialog: HTMLDialogElement, showError: (message: string | null) => void, onDone: () => void) {
    this.api = api
    this.dialog = dialog
    this.showError = showError
    this.onDone = onDone
  }

  /** Runs one action after the operator confirms it; never rejects. */
  async run (a: NodeAction): Promise<void> {
    if (this.dialog.open) return
    const { text, ok } = describeAction(a)
    if (!await confirmAction(this.dialog, text, ok)) return
    this.showError(null)
    const path = `/v1/nodes/${encodeURIComponent(a.node.id)}`
    try {
      if (a.kind === 'remove') await this.api.delete(path)
      else await this.api.post(`${path}/routes`, { approve: [a.route] })
      this.onDone()
    } catch (err) {
      const what = a.kind === 'remove' ? `Removing ${nodeName(a.node)}` : `Approving ${a.route} on ${nodeName(a.node)}`
      const message = err instanceof ApiError ? err.message : String(err)
      this.showError(`${what} failed: ${message}`)
    }
  }
}
