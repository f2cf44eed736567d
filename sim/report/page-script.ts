/** The report page's own script: what the browser runs after chart.js to draw charts.ts's configs. */
import { MARK_ROWS, MARK_ROW_PX } from './charts.js'

/** Line colours of the marks by kind: a fault, the end of one, a milestone. */
export const MARK_COLOUR = { fault: '#c2185b', recovery: '#00796b', milestone: '#666666' } as const

/**
 * Hands each chart's config to chart.js. Its only functions: tooltip texts by chart id, and the `marks` plugin,
 * which draws each chart's options.plugins.marks (charts.ts MarksOptions): bands shaded under the data, then one
 * vertical line per mark with its label above the plot area, in the first of MARK_ROWS rows it fits in, faults
 * placed first (a label that fits in none is left out; its line stays).
 */
export const PAGE_SCRIPT = `
const specs = JSON.parse(document.getElementById('data').textContent);
Chart.defaults.animation = false;
const MARK_ROWS = ${MARK_ROWS}, MARK_ROW_PX = ${MARK_ROW_PX};
const MARK_STYLE = { fault: ['${MARK_COLOUR.fault}', []], recovery: ['${MARK_COLOUR.recovery}', [6, 4]], milestone: ['${MARK_COLOUR.milestone}', [2, 3]] };
Chart.register({
  id: 'marks',
  beforeDatasetsDraw (chart, _args, o) {
    const { ctx, chartArea: a, scales: { x } } = chart;
    ctx.save();
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'bottom';
    for (const b of o.bands || []) {
      const l = Math.max(a.left, x.getPixelForValue(b.from)), r = Math.min(a.right, x.getPixelForValue(b.to));
      if (r <= l) continue;
      ctx.fillStyle = 'rgba(194, 24, 91, 0.08)';
      ctx.fillRect(l, a.top, r - l, a.bottom - a.top);
      ctx.fillStyle = '${MARK_COLOUR.fault}';
      ctx.fillText(b.label, l + 4, a.bottom - 3);
    }
    ctx.restore();
  },
  afterDatasetsDraw (chart, _args, o) {
    const { ctx, chartArea: a, scales: { x } } = chart;
    ctx.save();
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1.5;
    const rows = Array.from({ length: MARK_ROWS }, () => []);
    const shown = [];
    for (const m of o.marks || []) {
      const px = x.getPixelForValue(m.x);
      if (px < a.left - 1 || px > a.right + 1) continue;
      const [colour, dash] = MARK_STYLE[m.kind] || MARK_STYLE.milestone;
      ctx.strokeStyle = colour;
      ctx.setLineDash(dash);
      ctx.beginPath(); ctx.moveTo(px, a.top - 2); ctx.lineTo(px, a.bottom); ctx.stroke();
      shown.push({ m, px, colour });
    }
    // Faults take label rows first, then milestones, then ends.
    const rank = { fault: 0, milestone: 1, recovery: 2 };
    shown.sort((p, q) => (rank[p.m.kind] ?? 1) - (rank[q.m.kind] ?? 1) || p.px - q.px);
    for (const { m, px, colour } of shown) {
      const w = ctx.measureText(m.label).width;
      const left = Math.max(a.left, Math.min(px - 2, a.right - w)), right = left + w;
      const row = rows.findIndex(r => r.every(([l, rr]) => right + 6 < l || left > rr + 6));
      if (row < 0) continue;
      rows[row].push([left, right]);
      ctx.fillStyle = colour;
      ctx.fillText(m.label, left, a.top - 4 - row * MARK_ROW_PX);
    }
    ctx.restore();
  }
});
const tips = {
  health: c => c.raw.y + ', ' + c.raw.x[0].toFixed(1) + '-' + c.raw.x[1].toFixed(1) + ' s: ' + c.dataset.label
};
for (const s of specs) {
  if (tips[s.id] !== undefined) s.config.options.plugins.tooltip = { callbacks: { label: tips[s.id] } };
  new Chart(document.getElementById(s.id), s.config);
}
`
