import type { History } from './api-types.js'
import { createChart, echarts } from './charts.js'
import { dateTime, duration, esc } from './format.js'
import { HEALTHS, healthColour } from './health.js'
import { barValue, historyBars, type Bars } from './history-bars.js'

/** The ranges the operator picks from, in ms. */
export const RANGES: Record<string, number> = { '1h': 3600_000, '24h': 86400_000, '7d': 7 * 86400_000 }

/** Height of one node's row in px: 200 nodes make a chart the page scrolls through, each row still hoverable. */
const ROW_PX = 14
const CHROME_PX = 70

interface RenderItemParams { coordSys: { x: number, y: number, width: number, height: number } }
interface RenderItemApi {
  value: (dim: number) => number | string
  coord: (v: number[]) => number[]
  size?: (v: number[]) => number | number[]
}

/**
 * The uptime bars: one row per node, its health over the chosen range as coloured rectangles on a time axis
 * (an ECharts custom series), so "was it flapping last night" has an answer. The container carries `data-nodes`,
 * `data-range`, `data-from` and `data-to` of the history it shows.
 */
export class HistoryView {
  private readonly container: HTMLElement
  private chart: { chart: echarts.ECharts, dispose: () => void } | null = null
  private bars: Bars = { names: [], bars: [] }
  private latest: History | null = null
  private visible = false
  private dirty = false

  constructor (container: HTMLElement, legend: HTMLElement) {
    this.container = container
    legend.replaceChildren(...HEALTHS.map((h) => {
      const item = document.createElement('span')
      item.className = `badge badge-${h}`
      item.textContent = h
      return item
    }))
  }

  /** Takes a history answer for the range named `range`; draws it if the view is on screen. */
  update (h: History, range: string): void {
    this.latest = h
    this.bars = historyBars(h)
    const d = this.container.dataset
    d.nodes = String(h.nodes.length)
    d.range = range
    d.from = String(h.from)
    d.to = String(h.to)
    d.bars = String(this.bars.bars.length)
    this.dirty = true
    if (this.visible) this.draw()
  }

  /** Shows or hides the chart; it is created the first time it is shown. */
  setVisible (visible: boolean): void {
    this.visible = visible
    if (visible) this.draw()
  }

  dispose (): void {
    this.chart?.dispose()
    this.chart = null
  }

  private draw (): void {
    const h = this.latest
    if (h === null || (!this.dirty && this.chart !== null)) return
    this.container.style.height = `${Math.max(160, this.bars.names.length * ROW_PX + CHROME_PX)}px`
    if (this.chart === null) {
      this.chart = createChart(this.container)
      this.chart.chart.setOption(this.baseOption())
    } else {
      this.chart.chart.resize()
    }
    // A merge keeps the operator's zoom across the refreshes.
    this.chart.chart.setOption({
      xAxis: { min: h.from, max: h.to },
      yAxis: { data: this.bars.names },
      series: [{ data: this.bars.bars.map(barValue) }],
    })
    this.dirty = false
  }

  private baseOption (): echarts.EChartsCoreOption {
    return {
      animation: false,
      grid: { left: 170, right: 24, top: 30, bottom: 40 },
      tooltip: { trigger: 'item', confine: true, formatter: (p: unknown) => this.tooltip((p as { dataIndex: number }).dataIndex) },
      dataZoom: [{ type: 'inside', xAxisIndex: 0, filterMode: 'weakFilter' }],
      xAxis: { type: 'time', position: 'top', splitLine: { show: true } },
      yAxis: {
        type: 'category',
        inverse: true,
        data: [],
        axisTick: { show: false },
        axisLabel: { width: 160, overflow: 'truncate', fontSize: 10, interval: 0 },
      },
      series: [{
        type: 'custom',
        renderItem: (params: RenderItemParams, api: RenderItemApi) => renderBar(params, api),
        encode: { x: [0, 1], y: 3 },
        data: [],
        clip: true,
      }],
    }
  }

  private tooltip (i: number): string {
    const b = this.bars.bars[i]
    if (b === undefined) return ''
    const name = esc(this.bars.names[b.row])
    const span = `${esc(dateTime(b.start))} – ${esc(dateTime(b.end))} (${esc(duration(b.end - b.start))})`
    const reason = b.reason === '' ? '' : `<br>${esc(b.reason)}`
    return `<strong>${name}</strong> <span class="badge badge-${esc(b.health)}">${esc(b.health)}</span><br>${span}${reason}`
  }
}

/** Draws one bar as a rectangle from its start to its end on its node's row, clipped to the grid. */
function renderBar (params: RenderItemParams, api: RenderItemApi): unknown {
  const row = api.value(3) as number
  const from = api.coord([api.value(0) as number, row])
  const to = api.coord([api.value(1) as number, row])
  const size = api.size?.([0, 1])
  const height = (Array.isArray(size) ? size[1]! : ROW_PX) * 0.7
  const shape = echarts.graphic.clipRectByRect(
    { x: from[0]!, y: from[1]! - height / 2, width: Math.max(to[0]! - from[0]!, 1), height },
    params.coordSys
  )
  if (shape === undefined) return null
  return { type: 'rect', shape, style: { fill: healthColour(HEALTHS[api.value(2) as number] ?? '') } }
}
