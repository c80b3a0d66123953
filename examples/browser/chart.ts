// Two live line charts on one canvas: the training loss per step and the test accuracy, both
// against epochs. Plain 2D canvas drawing, no chart library.

export interface Point {
  /** Epochs trained (fractional between epoch ends). */
  readonly x: number;
  readonly y: number;
}

export interface ChartData {
  readonly epochs: number;
  readonly loss: readonly Point[];
  readonly accuracy: readonly Point[];
}

interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

interface Panel {
  readonly title: string;
  readonly color: string;
  readonly points: readonly Point[];
  readonly xMax: number;
  readonly yTicks: readonly number[];
  /** An axis label. */
  readonly format: (y: number) => string;
  /** The latest value, in the title. */
  readonly formatValue: (y: number) => string;
  readonly dots: boolean;
}

const FONT = '12px system-ui, sans-serif';
const TITLE_FONT = 'bold 13px system-ui, sans-serif';
const MARGIN = { left: 44, right: 14, top: 28, bottom: 40 };
export const LOSS_COLOR = '#1f6feb';
export const ACCURACY_COLOR = '#d9480f';

/** Round axis maxima (times a power of ten) and how many intervals each divides into. */
const NICE_STEPS: readonly { max: number; intervals: number }[] = [
  { max: 1, intervals: 5 },
  { max: 2, intervals: 4 },
  { max: 2.5, intervals: 5 },
  { max: 5, intervals: 5 },
  { max: 10, intervals: 5 },
];

/** Ticks from 0 to a round number at or above `value`, e.g. 2.3 -> 0, 0.5, ..., 2.5. */
export function niceTicks(value: number): number[] {
  const target = value > 0 ? value : 1;
  const power = 10 ** Math.floor(Math.log10(target));
  const nice = NICE_STEPS.find((n) => n.max * power >= target * (1 - 1e-9)) ?? NICE_STEPS[4];
  const step = (nice.max * power) / nice.intervals;
  return Array.from({ length: nice.intervals + 1 }, (_, i) => i * step);
}

/** Decimals that tell apart ticks `step` apart. */
function decimalsFor(step: number): number {
  return Math.max(0, Math.min(3, -Math.floor(Math.log10(step) + 1e-9)));
}

/** Epochs to label on the x axis: about five round fractions or multiples of an epoch. */
function epochTicks(epochs: number): number[] {
  return niceTicks(epochs).filter((t) => t <= epochs + 1e-9);
}

function toCanvas(rect: Rect, panel: Panel, p: Point): [number, number] {
  const yMax = panel.yTicks[panel.yTicks.length - 1];
  const x = rect.left + (p.x / panel.xMax) * rect.width;
  const y = rect.top + rect.height - (Math.min(p.y, yMax) / yMax) * rect.height;
  return [x, y];
}

function drawGrid(ctx: CanvasRenderingContext2D, rect: Rect, panel: Panel): void {
  ctx.strokeStyle = '#e4e7eb';
  ctx.fillStyle = '#57606a';
  ctx.font = FONT;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const tick of panel.yTicks) {
    const [, y] = toCanvas(rect, panel, { x: 0, y: tick });
    ctx.beginPath();
    ctx.moveTo(rect.left, Math.round(y) + 0.5);
    ctx.lineTo(rect.left + rect.width, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillText(panel.format(tick), rect.left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const xTicks = epochTicks(panel.xMax);
  const xDecimals = decimalsFor(xTicks[1] ?? 1);
  const xLabel = (epoch: number) => String(Number(epoch.toFixed(xDecimals)));
  for (const epoch of xTicks) {
    const [x] = toCanvas(rect, panel, { x: epoch, y: 0 });
    ctx.beginPath();
    ctx.moveTo(Math.round(x) + 0.5, rect.top);
    ctx.lineTo(Math.round(x) + 0.5, rect.top + rect.height);
    ctx.stroke();
    ctx.fillText(xLabel(epoch), x, rect.top + rect.height + 6);
  }
  ctx.fillText('epochs', rect.left + rect.width / 2, rect.top + rect.height + 22);
  ctx.strokeStyle = '#8c959f';
  ctx.strokeRect(rect.left + 0.5, rect.top + 0.5, rect.width, rect.height);
}

function drawTitle(ctx: CanvasRenderingContext2D, rect: Rect, panel: Panel): void {
  ctx.font = TITLE_FONT;
  ctx.fillStyle = '#24292f';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'bottom';
  ctx.fillText(panel.title, rect.left, rect.top - 8);
  const last = panel.points.at(-1);
  if (!last) return;
  ctx.fillStyle = panel.color;
  ctx.textAlign = 'right';
  ctx.fillText(panel.formatValue(last.y), rect.left + rect.width, rect.top - 8);
}

function drawLine(ctx: CanvasRenderingContext2D, rect: Rect, panel: Panel): void {
  ctx.strokeStyle = panel.color;
  ctx.fillStyle = panel.color;
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  ctx.beginPath();
  panel.points.forEach((p, i) => {
    const [x, y] = toCanvas(rect, panel, p);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  if (!panel.dots && panel.points.length > 1) return;
  for (const p of panel.points) {
    const [x, y] = toCanvas(rect, panel, p);
    ctx.beginPath();
    ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawPanel(ctx: CanvasRenderingContext2D, rect: Rect, panel: Panel): void {
  drawGrid(ctx, rect, panel);
  drawTitle(ctx, rect, panel);
  ctx.save();
  ctx.beginPath();
  ctx.rect(rect.left - 4, rect.top - 4, rect.width + 8, rect.height + 8);
  ctx.clip();
  drawLine(ctx, rect, panel);
  ctx.restore();
}

function lossPanel(data: ChartData): Panel {
  const yTicks = niceTicks(Math.max(0, ...data.loss.map((p) => p.y)));
  const decimals = decimalsFor(yTicks[1]);
  return {
    title: 'training loss (per step)',
    color: LOSS_COLOR,
    points: data.loss,
    xMax: data.epochs,
    yTicks,
    format: (y) => y.toFixed(decimals),
    formatValue: (y) => y.toFixed(3),
    dots: false,
  };
}

function accuracyPanel(data: ChartData): Panel {
  return {
    title: 'test accuracy',
    color: ACCURACY_COLOR,
    points: data.accuracy,
    xMax: data.epochs,
    yTicks: niceTicks(1),
    format: (y) => `${Math.round(100 * y)}%`,
    formatValue: (y) => `${(100 * y).toFixed(2)}%`,
    dots: true,
  };
}

/** Sizes the canvas to its CSS box (at the device pixel ratio) and returns a cleared context. */
function prepareCanvas(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a 2D canvas');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  return ctx;
}

/** Draws both panels side by side, each with its axes, grid, curve and latest value. */
export function drawChart(canvas: HTMLCanvasElement, data: ChartData): void {
  const ctx = prepareCanvas(canvas);
  const half = canvas.clientWidth / 2;
  const height = canvas.clientHeight - MARGIN.top - MARGIN.bottom;
  const panelRect = (offset: number): Rect => ({
    left: offset + MARGIN.left,
    top: MARGIN.top,
    width: half - MARGIN.left - MARGIN.right,
    height,
  });
  drawPanel(ctx, panelRect(0), lossPanel(data));
  drawPanel(ctx, panelRect(half), accuracyPanel(data));
}

/** Redraws at most once per animation frame, however often `request` is called. */
export function createChartPainter(canvas: HTMLCanvasElement): {
  request(data: ChartData): void;
  now(data: ChartData): void;
} {
  let pending: ChartData | undefined;
  const paint = () => {
    if (pending) drawChart(canvas, pending);
    pending = undefined;
  };
  return {
    request(data) {
      if (pending === undefined) requestAnimationFrame(paint);
      pending = data;
    },
    now(data) {
      pending = undefined;
      drawChart(canvas, data);
    },
  };
}
