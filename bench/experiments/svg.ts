/**
 * One chart per table, hand-written SVG: test accuracy (linear axis) and test loss (log axis)
 * per epoch side by side, a line per run, axes with ticks, and a legend. Pure; the same results
 * give the same text.
 */
import type { Table } from './grid.ts';
import type { EpochResult, RunResult } from './results.ts';

/** A tick: where it is and what it says. */
export interface Tick {
  readonly value: number;
  readonly label: string;
}

/** An axis: its domain, whether it is logarithmic, and its ticks. */
export interface Axis {
  readonly min: number;
  readonly max: number;
  readonly log: boolean;
  readonly ticks: readonly Tick[];
}

/** 1, 2 or 5 times a power of ten, near `raw`: the step of a readable axis. */
export function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  return (residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10) * magnitude;
}

/** A linear axis over [lo, hi] with about `count` ticks at multiples of a nice step. */
export function linearAxis(lo: number, hi: number, count = 5): Axis {
  if (hi - lo < 1e-9) return linearAxis(lo - 0.05, hi + 0.05, count);
  const step = niceStep((hi - lo) / count);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: Tick[] = [];
  for (let k = first; k <= last; k++) ticks.push({ value: k * step, label: (k * step).toFixed(decimals) });
  return { min: first * step, max: last * step, log: false, ticks };
}

/** A number as a short tick label: 0.002, 20, 1e-7. */
function powerLabel(value: number): string {
  return String(Number(value.toPrecision(1)));
}

/** A logarithmic axis over whole decades around [lo, hi]; 2 and 5 ticks too when it spans at most two. */
export function logAxis(lo: number, hi: number): Axis {
  const first = Math.floor(Math.log10(lo) + 1e-9);
  const last = Math.max(first + 1, Math.ceil(Math.log10(hi) - 1e-9));
  const multiples = last - first <= 2 ? [1, 2, 5] : [1];
  const ticks: Tick[] = [];
  for (let d = first; d <= last; d++) {
    for (const m of multiples) {
      if (d < last || m === 1) ticks.push({ value: m * 10 ** d, label: powerLabel(m * 10 ** d) });
    }
  }
  return { min: 10 ** first, max: 10 ** last, log: true, ticks };
}

/** The epochs axis: 1 to the last epoch (at least 2), ticks at 1 and at multiples of a nice step. */
export function epochAxis(epochs: number): Axis {
  const max = Math.max(2, epochs);
  const step = Math.max(1, niceStep((max - 1) / 6));
  const ticks: Tick[] = [{ value: 1, label: '1' }];
  for (let e = step; e <= max; e += step) if (e > 1) ticks.push({ value: e, label: String(e) });
  return { min: 1, max, log: false, ticks };
}

/** Where `value` falls on `axis`, from 0 (min) to 1 (max). */
export function axisFraction(axis: Axis, value: number): number {
  return axis.log
    ? (Math.log10(value) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min))
    : (value - axis.min) / (axis.max - axis.min);
}

/** Text as XML character data or an attribute value. */
export function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Distinguishable colours (Okabe and Ito), one per run of a table. */
export const LINE_COLOURS: readonly string[] = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

/** A line of the chart: its legend, colour and epochs. */
interface Line {
  readonly label: string;
  readonly colour: string;
  readonly epochs: readonly EpochResult[];
}

interface Panel {
  readonly title: string;
  readonly value: (epoch: EpochResult) => number;
  /** Whether a value can be drawn on the panel's axis. */
  readonly drawable: (value: number) => boolean;
  readonly axis: (values: readonly number[]) => Axis;
}

const PANELS: readonly Panel[] = [
  {
    title: 'test accuracy',
    value: (e) => e.testAccuracy,
    drawable: Number.isFinite,
    axis: (values) => (values.length ? linearAxis(Math.min(...values), Math.min(1, Math.max(...values))) : linearAxis(0, 1)),
  },
  {
    title: 'test loss (log scale)',
    value: (e) => e.testLoss,
    drawable: (v) => Number.isFinite(v) && v > 0,
    axis: (values) => (values.length ? logAxis(Math.min(...values), Math.max(...values)) : logAxis(0.1, 1)),
  },
];

const PLOT = { width: 340, height: 240, left: 70, top: 60, gap: 110 } as const;
const LEGEND = { columns: 3, columnWidth: 270, rowHeight: 20, top: 50 } as const;
const WIDTH = PLOT.left + 2 * PLOT.width + PLOT.gap + 30;

function fixed(n: number): string {
  return n.toFixed(1);
}

function panelSvg(panel: Panel, lines: readonly Line[], epochs: Axis, x0: number): string[] {
  const drawn = (line: Line) => line.epochs.filter((e) => panel.drawable(panel.value(e)));
  const values = lines.flatMap((line) => drawn(line).map(panel.value));
  const axis = panel.axis(values);
  const px = (epoch: number) => x0 + axisFraction(epochs, epoch) * PLOT.width;
  const py = (value: number) => PLOT.top + (1 - axisFraction(axis, value)) * PLOT.height;
  const bottom = PLOT.top + PLOT.height;
  const out = [
    `  <g class="panel">`,
    `    <text x="${fixed(x0 + PLOT.width / 2)}" y="${PLOT.top - 12}" text-anchor="middle" font-weight="bold">${xmlText(panel.title)}</text>`,
  ];
  for (const t of axis.ticks) {
    const y = fixed(py(t.value));
    out.push(`    <line class="grid" x1="${fixed(x0)}" y1="${y}" x2="${fixed(x0 + PLOT.width)}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`    <line class="tick" x1="${fixed(x0 - 5)}" y1="${y}" x2="${fixed(x0)}" y2="${y}" stroke="#000"/>`);
    out.push(`    <text x="${fixed(x0 - 8)}" y="${y}" text-anchor="end" dominant-baseline="middle">${xmlText(t.label)}</text>`);
  }
  for (const t of epochs.ticks) {
    const x = fixed(px(t.value));
    out.push(`    <line class="tick" x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#000"/>`);
    out.push(`    <text x="${x}" y="${bottom + 18}" text-anchor="middle">${xmlText(t.label)}</text>`);
  }
  out.push(`    <line class="axis" x1="${fixed(x0)}" y1="${PLOT.top}" x2="${fixed(x0)}" y2="${bottom}" stroke="#000"/>`);
  out.push(`    <line class="axis" x1="${fixed(x0)}" y1="${bottom}" x2="${fixed(x0 + PLOT.width)}" y2="${bottom}" stroke="#000"/>`);
  out.push(`    <text x="${fixed(x0 + PLOT.width / 2)}" y="${bottom + 36}" text-anchor="middle">epoch</text>`);
  for (const line of lines) {
    const points = drawn(line).map((e) => [fixed(px(e.epoch)), fixed(py(panel.value(e)))] as const);
    if (points.length === 0) continue;
    const path = points.map(([x, y]) => `${x},${y}`).join(' ');
    out.push(`    <polyline points="${path}" fill="none" stroke="${line.colour}" stroke-width="2"/>`);
    for (const [x, y] of points) out.push(`    <circle cx="${x}" cy="${y}" r="2.5" fill="${line.colour}"/>`);
  }
  out.push('  </g>');
  return out;
}

function legendSvg(lines: readonly Line[], top: number): string[] {
  const out = ['  <g class="legend">'];
  lines.forEach((line, i) => {
    const x = PLOT.left + (i % LEGEND.columns) * LEGEND.columnWidth;
    const y = top + Math.floor(i / LEGEND.columns) * LEGEND.rowHeight;
    out.push(`    <line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${line.colour}" stroke-width="3"/>`);
    out.push(`    <text x="${x + 30}" y="${y}" dominant-baseline="middle">${xmlText(line.label)}</text>`);
  });
  out.push('  </g>');
  return out;
}

/** A run's name in a table's legend: `batch size 60`, `learning rate 0.1`, `Adam (0.9, 0.999)`. */
export function legendLabel(table: Table, label: string, run: RunResult | undefined): string {
  const name = table.id === 'optimizer' ? label : `${table.varies} ${label}`;
  return run?.diverged !== undefined ? `${name} (diverged)` : name;
}

/** The chart of one table: test accuracy and test loss per epoch of each of its runs. */
export function tableChart(table: Table, runs: readonly RunResult[], epochs: number): string {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const lines: Line[] = table.rows.map((row, i) => {
    const run = byId.get(row.run);
    return { label: legendLabel(table, row.label, run), colour: LINE_COLOURS[i % LINE_COLOURS.length], epochs: run?.epochs ?? [] };
  });
  const legendTop = PLOT.top + PLOT.height + LEGEND.top;
  const height = legendTop + Math.ceil(lines.length / LEGEND.columns) * LEGEND.rowHeight + 10;
  const title = `${table.title}: test accuracy and test loss per epoch (${table.fixed})`;
  const epochAxisOf = epochAxis(epochs);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      'font-family="sans-serif" font-size="12">',
    `  <title>${xmlText(title)}</title>`,
    `  <rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `  <text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${xmlText(title)}</text>`,
    ...PANELS.flatMap((panel, i) => panelSvg(panel, lines, epochAxisOf, PLOT.left + i * (PLOT.width + PLOT.gap))),
    ...legendSvg(lines, legendTop),
    '</svg>',
    '',
  ].join('\n');
}
