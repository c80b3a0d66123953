// Dependency-free progress bar. Imports nothing from node so it also runs in a browser.

/** The part of a writable stream the bar needs; `process.stdout` fits. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A progress bar's length, label, stream and width. */
export interface ProgressBarOptions {
  total: number;
  label: string;
  stream?: ProgressStream;
  /** Characters inside the brackets. */
  width?: number;
  /** Milliseconds clock, injectable for tests. */
  now?: () => number;
}

/** Named numbers a progress line shows. */
export type Metrics = Record<string, number>;

/** A progress bar: updated with the work done and metrics, finished once. */
export interface ProgressBar {
  update(done: number, metrics?: Metrics): void;
  finish(metrics?: Metrics): void;
}

/** Characters inside the bar's brackets. */
export const DEFAULT_BAR_WIDTH = 20;
/** Minimum time between TTY redraws, so per-batch updates cost almost nothing. */
export const REDRAW_INTERVAL_MS = 100;
/** Fractions at which a non-TTY stream gets a line, besides the final one. */
export const LOG_MILESTONES: readonly number[] = [0.25, 0.5, 0.75];

/** Erases from the cursor to the end of the line after a `\r` redraw. */
const CLEAR_TO_EOL = '\x1b[K';

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Fraction complete; an empty job counts as done. */
export function progressFraction(done: number, total: number): number {
  return total > 0 ? clamp01(done / total) : 1;
}

/** `[#####...............]` with `width` characters between the brackets. */
export function formatBar(done: number, total: number, width: number): string {
  const filled = Math.floor(progressFraction(done, total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** 12345 -> "12,345"; locale-independent so logs and tests are stable. */
export function groupThousands(value: number): string {
  const sign = value < 0 ? '-' : '';
  const digits = Math.abs(Math.round(value)).toString();
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** From this magnitude on, numbers are written in exponent notation rather than grouped digits. */
const EXPONENT_FROM = 1e9;

/** `1.1e+23`, `4.94e-324`: three significant digits at most, without trailing zeros. */
function exponential(value: number): string {
  return value.toExponential(2).replace(/\.?0+e/, 'e');
}

/** Integers up to `EXPONENT_FROM` grouped, larger magnitudes in exponent notation. */
function formatCount(value: number): string {
  return Number.isFinite(value) && Math.abs(value) >= EXPONENT_FROM ? exponential(value) : groupThousands(value);
}

/**
 * Integers and large values read best grouped, huge ones (a diverging loss) in exponent
 * notation so a line stays short; small fractions get 4 decimals, tiny ones an exponent.
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) || Math.abs(value) >= 1000) return formatCount(value);
  if (value !== 0 && Math.abs(value) < 1e-3) return exponential(value);
  return value.toFixed(4);
}

/**
 * A metric whose name is a unit rate (contains '/', e.g. "samples/s") reads as
 * "12,345 samples/s"; anything else as "loss 0.2345".
 */
export function formatMetric(name: string, value: number): string {
  return name.includes('/')
    ? `${formatCount(value)} ${name}`
    : `${name} ${formatNumber(value)}`;
}

/** `loss 0.1234 samples/s 1,234`: metrics for a progress line, each formatted by formatMetric. */
export function formatMetrics(metrics: Metrics = {}): string {
  return Object.entries(metrics)
    .map(([name, value]) => formatMetric(name, value))
    .join(' ');
}

/** What one progress line shows. */
export interface ProgressLine {
  label: string;
  done: number;
  total: number;
  width: number;
  metrics?: Metrics;
  /** Terminal width; the line is cut to fit so a redraw never wraps. */
  columns?: number;
}

/** `epoch 3/30 [##########..........] 50/100 loss 0.2345 12,345 samples/s` */
export function formatProgressLine(line: ProgressLine): string {
  const parts = [
    line.label,
    formatBar(line.done, line.total, line.width),
    `${line.done}/${line.total}`,
    formatMetrics(line.metrics),
  ].filter((part) => part.length > 0);
  const text = parts.join(' ');
  const limit = line.columns !== undefined && line.columns > 1 ? line.columns - 1 : Infinity;
  return text.length > limit ? text.slice(0, limit) : text;
}

/** Milestones newly crossed when progress moves from `before` to `after`. */
export function crossedMilestones(before: number, after: number): number[] {
  return LOG_MILESTONES.filter((mark) => before < mark && after >= mark);
}

/** Browser fallback: no stdout, so emit whole lines on the console. */
function consoleStream(): ProgressStream {
  return { write: (text: string) => console.log(text.replace(/\n$/, '')) };
}

function defaultStream(): ProgressStream {
  const proc = (globalThis as { process?: { stdout?: ProgressStream } }).process;
  return proc?.stdout ?? consoleStream();
}

function systemClock(): number {
  return globalThis.performance?.now() ?? Date.now();
}

/**
 * On a TTY, redraws one line in place (throttled); elsewhere writes a line only at
 * 25/50/75% and at finish, so CI logs stay short.
 */
export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  const stream = options.stream ?? defaultStream();
  const width = options.width ?? DEFAULT_BAR_WIDTH;
  const now = options.now ?? systemClock;
  const tty = stream.isTTY === true;
  let done = 0;
  let metrics: Metrics = {};
  let lastDraw = -Infinity;
  let finished = false;

  const render = (): string =>
    formatProgressLine({
      label: options.label,
      done,
      total: options.total,
      width,
      metrics,
      columns: tty ? stream.columns : undefined,
    });
  const redraw = (): void => {
    stream.write(`\r${render()}${CLEAR_TO_EOL}`);
    lastDraw = now();
  };

  return {
    update(nextDone: number, nextMetrics?: Metrics): void {
      if (finished) return;
      const before = progressFraction(done, options.total);
      done = nextDone;
      if (nextMetrics !== undefined) metrics = nextMetrics;
      if (tty) {
        if (now() - lastDraw >= REDRAW_INTERVAL_MS) redraw();
      } else {
        const crossed = crossedMilestones(before, progressFraction(done, options.total));
        // The complete line is finish()'s to write, with the final metrics.
        if (crossed.length > 0 && done < options.total) stream.write(`${render()}\n`);
      }
    },
    finish(finalMetrics?: Metrics): void {
      if (finished) return;
      finished = true;
      // finish() means the job completed, even if the last update() was skipped.
      done = Math.max(done, options.total);
      if (finalMetrics !== undefined) metrics = finalMetrics;
      if (tty) {
        redraw();
        stream.write('\n');
      } else {
        stream.write(`${render()}\n`);
      }
    },
  };
}
