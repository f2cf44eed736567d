import type { NodeStatus } from './api-types.js'
import { compareKeys, compareNames, nodeName } from './format.js'
import { COLUMNS, haystack, type CellContext, type Column } from './nodes-columns.js'

/** An action an admin asked for from a row's button. */
export type NodeAction = { kind: 'remove', node: NodeStatus } | { kind: 'approve', node: NodeStatus, route: string }

/** One rendered row: its element, its cells, what each cell shows now (to skip unchanged cells), its node. */
interface Row {
  tr: HTMLTableRowElement
  cells: HTMLTableCellElement[]
  html: string[]
  node: NodeStatus
  text: string
}

interface SortState { key: string, dir: 1 | -1 }

/**
 * The live nodes table. Rows are built once per node and kept by id; an update rewrites only the cells whose
 * HTML changed and reorders rows only when the sorted, filtered order changed, so a 200-row update touches a few
 * dozen cells and the filter, sort, focus and text selection survive it.
 */
export class NodesTable {
  private readonly table: HTMLTableElement
  private readonly tbody: HTMLTableSectionElement
  private readonly columns: Column[]
  private readonly admin: boolean
  private readonly rows = new Map<string, Row>()
  private readonly empty: HTMLTableRowElement
  private order: string[] = []
  private sort: SortState = { key: 'name', dir: 1 }
  private filter = ''
  private ctx: CellContext

  /** `signal` removes the listeners this table puts on elements that outlive it (the filter box, the tbody). */
  constructor (table: HTMLTableElement, filterInput: HTMLInputElement, admin: boolean, onAction: (a: NodeAction) => void, signal: AbortSignal) {
    this.table = table
    this.admin = admin
    this.columns = [...COLUMNS]
    this.ctx = { now: Date.now(), admin }
    this.tbody = table.tBodies[0] ?? table.createTBody()
    this.tbody.replaceChildren()
    this.empty = document.createElement('tr')
    this.empty.className = 'empty'
    this.empty.dataset.testid = 'nodes-empty'
    const td = this.empty.insertCell()
    td.colSpan = this.columns.length + (admin ? 1 : 0)
    this.buildHeader()
    this.filter = filterInput.value.trim().toLowerCase()
    filterInput.addEventListener('input', () => {
      this.filter = filterInput.value.trim().toLowerCase()
      this.arrange()
    }, { signal })
    this.tbody.addEventListener('click', (ev) => {
      const button = (ev.target as Element).closest<HTMLButtonElement>('button[data-action]')
      const tr = button?.closest<HTMLTableRowElement>('tr[data-node-id]')
      const row = tr === null || tr === undefined ? undefined : this.rows.get(tr.dataset.nodeId ?? '')
      if (button === null || row === undefined) return
      if (button.dataset.action === 'remove') onAction({ kind: 'remove', node: row.node })
      if (button.dataset.action === 'approve') onAction({ kind: 'approve', node: row.node, route: button.dataset.route ?? '' })
    }, { signal })
  }

  /** Shows `nodes` as of the controller's `now`; returns how many rows are visible. */
  update (nodes: NodeStatus[], now: number): number {
    this.ctx = { now, admin: this.admin }
    const seen = new Set<string>()
    for (const n of nodes) {
      seen.add(n.id)
      const row = this.rows.get(n.id) ?? this.createRow(n)
      this.fillRow(row, n)
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) { row.tr.remove(); this.rows.delete(id) }
    }
    this.table.dataset.rows = String(this.rows.size)
    return this.arrange()
  }

  private buildHeader (): void {
    const thead = this.table.tHead ?? this.table.createTHead()
    const tr = document.createElement('tr')
    for (const col of this.columns) {
      const th = document.createElement('th')
      th.scope = 'col'
      th.dataset.column = col.key
      if (col.sort !== null) {
        const button = document.createElement('button')
        button.type = 'button'
        button.className = 'sort'
        button.textContent = col.label
        button.addEventListener('click', () => this.sortBy(col.key))
        th.append(button)
      } else {
        th.textContent = col.label
      }
      tr.append(th)
    }
    if (this.admin) {
      const th = document.createElement('th')
      th.scope = 'col'
      th.dataset.column = 'actions'
      th.textContent = 'Actions'
      tr.append(th)
    }
    thead.replaceChildren(tr)
    this.markSort()
  }

  private sortBy (key: string): void {
    this.sort = this.sort.key === key ? { key, dir: this.sort.dir === 1 ? -1 : 1 } : { key, dir: 1 }
    this.markSort()
    this.arrange()
  }

  private markSort (): void {
    for (const th of this.table.tHead?.querySelectorAll<HTMLTableCellElement>('th[data-column]') ?? []) {
      if (th.dataset.column === this.sort.key) th.setAttribute('aria-sort', this.sort.dir === 1 ? 'ascending' : 'descending')
      else th.removeAttribute('aria-sort')
    }
    this.table.dataset.sort = `${this.sort.key}:${this.sort.dir === 1 ? 'asc' : 'desc'}`
  }

  private createRow (n: NodeStatus): Row {
    const tr = document.createElement('tr')
    tr.dataset.nodeId = n.id
    const cells = this.columns.map((col) => {
      const td = tr.insertCell()
      td.dataset.column = col.key
      return td
    })
    if (this.admin) {
      const td = tr.insertCell()
      td.dataset.column = 'actions'
      td.innerHTML = '<button type="button" class="small danger" data-action="remove">Remove</button>'
    }
    const row: Row = { tr, cells, html: cells.map(() => ''), node: n, text: '' }
    this.rows.set(n.id, row)
    return row
  }

  private fillRow (row: Row, n: NodeStatus): void {
    row.node = n
    row.text = haystack(n)
    for (let i = 0; i < this.columns.length; i++) {
      const html = this.columns[i]!.cell(n, this.ctx)
      if (html !== row.html[i]) { row.cells[i]!.innerHTML = html; row.html[i] = html }
    }
    const d = row.tr.dataset
    setData(d, 'health', n.health)
    setData(d, 'name', nodeName(n))
    setData(d, 'control', n.control.fresh ? 'fresh' : 'stale')
    setData(d, 'channel', n.control.channelOpen ? 'open' : 'closed')
    setData(d, 'meshAlive', String(n.mesh.alive))
    setData(d, 'meshSuspect', String(n.mesh.suspect))
    setData(d, 'meshDead', String(n.mesh.dead))
  }

  /** Puts the visible rows in sorted order, touching the DOM only when the order changed; returns the visible count. */
  private arrange (): number {
    const col = this.columns.find((c) => c.key === this.sort.key)
    const key = col?.sort ?? ((n: NodeStatus) => nodeName(n))
    const dir = this.sort.dir
    const visible = [...this.rows.values()].filter((r) => this.filter === '' || r.text.includes(this.filter))
    const keyed = visible.map((r) => ({ r, k: key(r.node), name: nodeName(r.node) }))
    keyed.sort((a, b) => compareKeys(a.k, b.k) * dir || compareNames(a.name, b.name))
    const order = keyed.map((x) => x.r.node.id)
    if (order.length === 0) {
      this.empty.cells[0]!.textContent = this.rows.size === 0 ? 'No nodes yet.' : 'No node matches the filter.'
      if (this.order.length !== 0 || this.tbody.firstChild !== this.empty) this.tbody.replaceChildren(this.empty)
    } else if (!sameOrder(order, this.order) || this.tbody.firstChild === this.empty) {
      this.tbody.replaceChildren(...keyed.map((x) => x.r.tr))
    }
    this.order = order
    this.table.dataset.visibleRows = String(order.length)
    return order.length
  }
}

function setData (d: DOMStringMap, key: string, value: string): void {
  if (d[key] !== value) d[key] = value
}

function sameOrder (a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
