import type { MeshMatrix } from './api-types.js'
import { createChart, type echarts } from './charts.js'
import { nodeName } from './format.js'
import { CELL_LABELS, cellSentence, countCells, halfBroken, heatmapData } from './mesh-analysis.js'

/** Cell colours by value: alive, suspect, dead, itself, no report. */
const CELL_COLOURS = ['#2e9d5b', '#e39a1a', '#d64541', '#3b4650', '#dfe3e8']

/** At most this many half-broken nodes are listed; the rest are counted. */
const HALF_BROKEN_SHOWN = 50

/** Past this many nodes the axis labels no longer fit beside their rows; the tooltip names each cell instead. */
const MAX_LABELLED = 60

/**
 * The mesh view: the N x N heatmap of who holds whom alive, suspect or dead (rows: reporter, columns: target) and
 * the list of half-broken nodes. The container's data- attributes describe the latest matrix whether or not the
 * chart is on screen; the chart draws only while visible, and skips a matrix identical to the one it shows.
 *
 * Alive is the grid's background colour and the heatmap draws only the other cells: in a healthy mesh of 200 nodes
 * that is a few hundred rectangles instead of 40,000, which keeps a redraw to a few milliseconds. The tooltip
 * therefore comes from the pointer's position (any cell, drawn or not), not from the element under it.
 */
export class MeshView {
  private readonly container: HTMLElement
  private readonly list: HTMLElement
  private readonly onDrawn: (ms: number) => void
  private chart: { chart: echarts.ECharts, dispose: () => void } | null = null
  private visible = false
  private latest: MeshMatrix | null = null
  private names: string[] = []
  private drawn = ''
  private pointer: [number, number] | null = null

  /** `onDrawn` hears how long each heatmap draw took. */
  constructor (container: HTMLElement, list: HTMLElement, onDrawn: (ms: number) => void) {
    this.container = container
    this.list = list
    this.onDrawn = onDrawn
  }

  /** Takes the latest matrix; draws it if the view is on screen. */
  update (m: MeshMatrix): void {
    this.latest = m
    this.names = m.nodes.map(nodeName)
    const d = this.container.dataset
    d.rows = String(m.rows.length)
    d.deadCells = String(countCells(m.rows, 'd'))
    d.suspectCells = String(countCells(m.rows, 's'))
    d.at = String(m.at)
    this.renderList(m)
    if (this.visible) this.draw()
  }

  /** Shows or hides the chart; it is created the first time it is shown, when its element has a size. */
  setVisible (visible: boolean): void {
    this.visible = visible
    if (visible) this.draw()
  }

  dispose (): void {
    this.chart?.dispose()
    this.chart = null
  }

  private draw (): void {
    const m = this.latest
    if (m === null) return
    const key = m.nodes.map((n) => n.id).join(',') + '\n' + m.rows.join('\n')
    if (this.chart !== null && key === this.drawn) return
    const t0 = performance.now()
    if (this.chart === null) this.chart = this.create()
    const labels = this.names.length <= MAX_LABELLED
    this.chart.chart.setOption({
      grid: labels ? { left: 150, bottom: 150 } : { left: 40, bottom: 40 },
      xAxis: { data: this.names, axisLabel: { show: labels }, nameGap: labels ? 130 : 15 },
      yAxis: { data: this.names, axisLabel: { show: labels }, nameGap: labels ? 135 : 15 },
      series: [{ data: heatmapData(m.rows, 'a') }],
    })
    this.drawn = key
    this.container.dataset.drawnAt = String(m.at)
    this.onDrawn(performance.now() - t0)
    if (this.pointer !== null) this.hover(...this.pointer)
  }

  private create (): { chart: echarts.ECharts, dispose: () => void } {
    const c = createChart(this.container)
    c.chart.setOption(this.baseOption())
    const zr = c.chart.getZr()
    zr.on('mousemove', (e: { offsetX: number, offsetY: number }) => this.hover(e.offsetX, e.offsetY))
    zr.on('globalout', () => { this.pointer = null; c.chart.dispatchAction({ type: 'hideTip' }) })
    return c
  }

  /** Shows the sentence for the cell under the pointer, or hides the tooltip outside the matrix. */
  private hover (x: number, y: number): void {
    const chart = this.chart?.chart
    const m = this.latest
    if (chart === undefined || m === null) return
    this.pointer = [x, y]
    const inside = chart.containPixel({ gridIndex: 0 }, [x, y])
    const cell = inside ? chart.convertFromPixel({ gridIndex: 0 }, [x, y]) as number[] : null
    const target = cell === null ? -1 : Math.round(cell[0]!)
    const reporter = cell === null ? -1 : Math.round(cell[1]!)
    if (target < 0 || reporter < 0 || reporter >= m.rows.length || target >= m.nodes.length) {
      chart.dispatchAction({ type: 'hideTip' })
      return
    }
    // A string tooltip is HTML-escaped by ECharts, so node names go in as they are.
    chart.dispatchAction({ type: 'showTip', x, y, tooltip: cellSentence(m.rows, this.names, reporter, target) })
  }

  private baseOption (): echarts.EChartsCoreOption {
    return {
      animation: false,
      grid: { left: 150, right: 24, top: 48, bottom: 150, show: true, backgroundColor: CELL_COLOURS[0], borderWidth: 0 },
      tooltip: { triggerOn: 'none', confine: true, transitionDuration: 0 },
      xAxis: {
        type: 'category',
        name: 'target',
        nameLocation: 'middle',
        nameGap: 130,
        data: [],
        splitArea: { show: false },
        axisLabel: { rotate: 90, width: 120, overflow: 'truncate', fontSize: 10 },
      },
      yAxis: {
        type: 'category',
        name: 'reporter',
        nameLocation: 'middle',
        nameGap: 135,
        inverse: true,
        data: [],
        axisLabel: { width: 125, overflow: 'truncate', fontSize: 10 },
      },
      visualMap: {
        type: 'piecewise',
        dimension: 2,
        orient: 'horizontal',
        left: 'center',
        top: 0,
        // A static legend: alive is the background, so hiding a category by clicking it could not hide alive.
        selectedMode: false,
        pieces: CELL_LABELS.map((label, value) => ({ value, label, color: CELL_COLOURS[value] })),
      },
      dataZoom: [
        { type: 'inside', xAxisIndex: 0 },
        { type: 'inside', yAxisIndex: 0 },
      ],
      series: [{
        type: 'heatmap',
        data: [],
        // One pass, not chunks over several frames: a refresh repaints the matrix without a partial frame.
        progressive: 0,
        emphasis: { disabled: true },
        itemStyle: { borderWidth: 0 },
        silent: true,
      }],
    }
  }

  private renderList (m: MeshMatrix): void {
    const broken = halfBroken(m)
    this.list.dataset.count = String(broken.length)
    const items = broken.slice(0, HALF_BROKEN_SHOWN).map((v) => {
      const node = m.nodes[v.index]!
      const li = document.createElement('li')
      li.dataset.nodeId = node.id
      li.dataset.dead = String(v.dead)
      li.dataset.suspect = String(v.suspect)
      li.dataset.alive = String(v.alive)
      const name = document.createElement('strong')
      name.textContent = nodeName(node)
      const counts = document.createElement('span')
      counts.className = 'muted'
      counts.textContent = `${v.dead} dead · ${v.suspect} suspect · ${v.alive} alive`
      li.append(name, counts)
      return li
    })
    if (broken.length > HALF_BROKEN_SHOWN) {
      const more = document.createElement('li')
      more.className = 'muted'
      more.textContent = `and ${broken.length - HALF_BROKEN_SHOWN} more`
      items.push(more)
    }
    if (items.length === 0) {
      const none = document.createElement('li')
      none.className = 'muted'
      none.textContent = 'None: every reporter agrees about every node.'
      items.push(none)
    }
    this.list.replaceChildren(...items)
  }
}
