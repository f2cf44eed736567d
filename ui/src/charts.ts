import { HeatmapChart, CustomChart } from 'echarts/charts'
import { DataZoomInsideComponent, GridComponent, TooltipComponent, VisualMapPiecewiseComponent } from 'echarts/components'
import * as echarts from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'

// Only what the two charts use is registered, which keeps the bundle to a fraction of full ECharts.
echarts.use([HeatmapChart, CustomChart, GridComponent, TooltipComponent, VisualMapPiecewiseComponent, DataZoomInsideComponent, CanvasRenderer])

/** ECharts with the page's charts, components and the canvas renderer registered. */
export { echarts }

/**
 * Creates a canvas chart in `el` and keeps it sized to the element; `dispose` undoes both. The canvas renderer draws
 * every cell into one bitmap, so a 200 x 200 matrix is one element in the DOM, not 40,000.
 */
export function createChart (el: HTMLElement): { chart: echarts.ECharts, dispose: () => void } {
  const chart = echarts.init(el, null, { renderer: 'canvas' })
  const observer = new ResizeObserver(() => chart.resize())
  observer.observe(el)
  return {
    chart,
    dispose: () => { observer.disconnect(); chart.dispose() },
  }
}
