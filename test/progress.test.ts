import { describe, expect, it } from 'vitest';
import {
  createProgressBar,
  crossedMilestones,
  formatBar,
  formatMetric,
  formatMetrics,
  formatNumber,
  formatProgressLine,
  groupThousands,
  progressFraction,
  REDRAW_INTERVAL_MS,
} from '../runtime/progress.ts';
import type { ProgressStream } from '../runtime/progress.ts';

/** A stream that records writes, plus a clock the test advances by hand. */
function fakeStream(isTTY: boolean, columns?: number): ProgressStream & { output: string[] } {
  const output: string[] = [];
  return { isTTY, columns, output, write: (text: string) => output.push(text) };
}

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 0;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('pure formatting', () => {
  it('formats the bar', () => {
    expect(formatBar(0, 100, 10)).toBe('[..........]');
    expect(formatBar(50, 100, 10)).toBe('[#####.....]');
    expect(formatBar(99, 100, 10)).toBe('[#########.]');
    expect(formatBar(100, 100, 10)).toBe('[##########]');
    expect(formatBar(250, 100, 4)).toBe('[####]');
    expect(formatBar(-3, 100, 4)).toBe('[....]');
    expect(formatBar(0, 0, 4)).toBe('[####]');
  });

  it('computes fractions, clamped', () => {
    expect(progressFraction(1, 4)).toBe(0.25);
    expect(progressFraction(5, 4)).toBe(1);
    expect(progressFraction(Number.NaN, 4)).toBe(0);
  });

  it('groups thousands without locale', () => {
    expect(groupThousands(0)).toBe('0');
    expect(groupThousands(999)).toBe('999');
    expect(groupThousands(12345)).toBe('12,345');
    expect(groupThousands(1234567.6)).toBe('1,234,568');
    expect(groupThousands(-1000)).toBe('-1,000');
  });

  it('formats numbers', () => {
    expect(formatNumber(0.23449)).toBe('0.2345');
    expect(formatNumber(3)).toBe('3');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1234.5)).toBe('1,235');
    expect(formatNumber(0.00001234)).toBe('1.23e-5');
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });

  it('prints huge and tiny losses readably, in a few characters', () => {
    expect(formatNumber(1.1e23)).toBe('1.1e+23');
    expect(formatNumber(-1.1e23)).toBe('-1.1e+23');
    expect(formatNumber(1e300)).toBe('1e+300');
    expect(formatNumber(Number.MAX_VALUE)).toBe('1.8e+308');
    expect(formatNumber(123456789)).toBe('123,456,789');
    expect(formatNumber(1234567890)).toBe('1.23e+9');
    expect(formatNumber(1e-30)).toBe('1e-30');
    expect(formatNumber(5e-324)).toBe('4.94e-324');
    expect(formatNumber(-Infinity)).toBe('-Infinity');
    expect(formatMetric('samples/s', 1e25)).toBe('1e+25 samples/s');
    // Every magnitude a float takes fits in 12 characters ("-123,456,789", "-1.23e-308").
    for (let exponent = -324; exponent <= 308; exponent++) {
      for (const value of [1.23456 * 10 ** exponent, -9.87654 * 10 ** exponent]) {
        expect(formatNumber(value).length, String(value)).toBeLessThanOrEqual(12);
      }
    }
    const line = formatProgressLine({ label: 'epoch 1/1', done: 1, total: 2, width: 20, metrics: { loss: 1.1e23, 'samples/s': 12345 } });
    expect(line).toBe('epoch 1/1 [##########..........] 1/2 loss 1.1e+23 12,345 samples/s');
  });

  it('formats metrics; rates put the unit after the value', () => {
    expect(formatMetric('loss', 0.2345)).toBe('loss 0.2345');
    expect(formatMetric('samples/s', 12345.4)).toBe('12,345 samples/s');
    expect(formatMetrics({ loss: 0.2345, 'samples/s': 12345 })).toBe(
      'loss 0.2345 12,345 samples/s',
    );
    expect(formatMetrics({})).toBe('');
    expect(formatMetrics()).toBe('');
  });

  it('formats a whole line', () => {
    const line = formatProgressLine({
      label: 'epoch 3/30',
      done: 50,
      total: 100,
      width: 20,
      metrics: { loss: 0.2345, 'samples/s': 12345 },
    });
    expect(line).toBe('epoch 3/30 [##########..........] 50/100 loss 0.2345 12,345 samples/s');
  });

  it('cuts the line to the terminal width', () => {
    const line = formatProgressLine({ label: 'x', done: 1, total: 2, width: 40, columns: 20 });
    expect(line).toHaveLength(19);
    expect(line.startsWith('x [####')).toBe(true);
  });

  it('finds crossed milestones', () => {
    expect(crossedMilestones(0, 0.2)).toEqual([]);
    expect(crossedMilestones(0.2, 0.25)).toEqual([0.25]);
    expect(crossedMilestones(0.25, 0.3)).toEqual([]);
    expect(crossedMilestones(0, 1)).toEqual([0.25, 0.5, 0.75]);
  });
});

describe('createProgressBar on a TTY', () => {
  it('redraws one line in place, throttled, and ends with a newline', () => {
    const stream = fakeStream(true);
    const clock = fakeClock();
    const bar = createProgressBar({ total: 100, label: 'epoch 1/2', stream, width: 10, ...clock });
    bar.update(10, { loss: 1 });
    bar.update(20, { loss: 0.9 }); // within the throttle window: skipped
    clock.advance(REDRAW_INTERVAL_MS);
    bar.update(50, { loss: 0.5 });
    bar.finish({ loss: 0.25 });
    expect(stream.output).toEqual([
      '\repoch 1/2 [#.........] 10/100 loss 1\x1b[K',
      '\repoch 1/2 [#####.....] 50/100 loss 0.5000\x1b[K',
      '\repoch 1/2 [##########] 100/100 loss 0.2500\x1b[K',
      '\n',
    ]);
  });

  it('fits the terminal columns', () => {
    const stream = fakeStream(true, 12);
    const bar = createProgressBar({ total: 10, label: 'long label here', stream });
    bar.finish();
    expect(stream.output[0]).toBe('\rlong label \x1b[K');
  });

  it('keeps the last metrics when finish gets none, and ignores calls after finish', () => {
    const stream = fakeStream(true);
    const bar = createProgressBar({ total: 4, label: 'e', stream, width: 4, now: () => 0 });
    bar.update(4, { acc: 0.5 });
    bar.finish();
    bar.update(1);
    bar.finish();
    expect(stream.output).toEqual([
      '\re [####] 4/4 acc 0.5000\x1b[K',
      '\re [####] 4/4 acc 0.5000\x1b[K',
      '\n',
    ]);
  });
});

describe('createProgressBar off a TTY', () => {
  it('prints only at the 25/50/75% marks and at finish, without carriage returns', () => {
    const stream = fakeStream(false);
    const bar = createProgressBar({ total: 100, label: 'train', stream, width: 4 });
    for (let done = 1; done <= 100; done++) bar.update(done, { loss: 1 / done });
    bar.finish({ loss: 0.01, 'samples/s': 5000 });
    expect(stream.output).toEqual([
      'train [#...] 25/100 loss 0.0400\n',
      'train [##..] 50/100 loss 0.0200\n',
      'train [###.] 75/100 loss 0.0133\n',
      'train [####] 100/100 loss 0.0100 5,000 samples/s\n',
    ]);
  });

  it('prints one line for a jump across several marks', () => {
    const stream = fakeStream(false);
    const bar = createProgressBar({ total: 10, label: 'x', stream, width: 2 });
    bar.update(9);
    bar.finish();
    expect(stream.output).toEqual(['x [#.] 9/10\n', 'x [##] 10/10\n']);
  });

  it('writes to process.stdout by default', () => {
    const bar = createProgressBar({ total: 1, label: 'default stream' });
    expect(() => bar.update(0)).not.toThrow();
  });
});

describe('progress bar off a terminal, complete before finish', () => {
  it('leaves the complete line to finish(), written once', async () => {
    const { createProgressBar } = await import('../runtime/progress.ts');
    const lines: string[] = [];
    const bar = createProgressBar({ total: 30, label: 'epoch 1/1', stream: { write: (t) => lines.push(t) } });
    for (const step of [10, 20, 30]) bar.update(step, { loss: 1 });
    bar.finish({ loss: 0.5 });
    expect(lines.filter((l) => l.includes('30/30'))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/30\/30 loss 0\.5/);
  });
});
