/**
 * `npm run experiments` (bench/experiments.ts): the grid, the command line, the README's tables
 * and the charts on hand-made results, and one quick run end to end on the js backend.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GRADC_VERSION } from '../compiler/version.ts';
import type { Table } from '../bench/experiments/grid.ts';
import { BASE_RUN, experimentGrid, OPTIMIZERS, runId, scaledBatch } from '../bench/experiments/grid.ts';
import {
  experimentReadme, markdownTable, NO_FIGURE, ordinal, tableColumns, tableSection,
} from '../bench/experiments/markdown.ts';
import { experimentModel } from '../bench/experiments/model.ts';
import { experimentOptions, QUICK_RUN } from '../bench/experiments/options.ts';
import { DISSERTATION_BATCH_SIZE } from '../bench/experiments/reference.ts';
import type { EpochResult, ExperimentResults, RunResult } from '../bench/experiments/results.ts';
import { cpuModelOf, runResult } from '../bench/experiments/results.ts';
import { epochAxis, linearAxis, logAxis, tableChart } from '../bench/experiments/svg.ts';
import { scratchFolders } from './scratch.ts';
import type { XmlElement } from './xml.ts';
import { elementsNamed, parseXml, textOf } from './xml.ts';

const scratchDir = scratchFolders('experiments-test-');

/** The cells of a markdown table's line. */
function cells(line: string): string[] {
  return line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
}

/** The lines of the first markdown table in `text`. */
function tableLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('|'));
}

/** Epochs whose losses fall and accuracy rises. */
function epochs(count: number, start = 0.5): EpochResult[] {
  return Array.from({ length: count }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 2 / (i + 2),
    testLoss: 1.5 / (i + 2),
    testAccuracy: Math.min(0.99, start + 0.05 * i),
    seconds: 1.25,
  }));
}

/** The batch table of the full grid with hand-made results; the batch 60000 run is missing. */
function batchResults(): ExperimentResults {
  const grid = experimentGrid(['batch'], 60_000);
  const diverged = 'training diverged: the loss became NaN in epoch 3 at step 1';
  const runs: RunResult[] = grid.runs
    .slice(0, 3)
    .map((run, i) => (i === 2 ? runResult(run, epochs(2), diverged) : runResult(run, epochs(3, 0.6 + i / 10))));
  return {
    setup: { backend: 'c', epochs: 3, seed: 0, trainingExamples: 60_000, testExamples: 10_000, quick: false },
    machine: { cpu: 'Test CPU <8 cores> & more', cores: 8, node: 'v20.0.0', gradc: '0.1.0', date: '2024-01-02T03:04:05.000Z' },
    tables: grid.tables,
    runs,
  };
}

describe('the experiment grid', () => {
  it('trains the run the tables share (SGD, lr 0.01, batch 600) once: 12 runs for the three tables', () => {
    const grid = experimentGrid(['batch', 'lr', 'optimizer'], 60_000);
    expect(grid.tables.map((t) => t.id)).toEqual(['batch', 'lr', 'optimizer']);
    expect(grid.runs).toHaveLength(4 + 3 + 5);
    expect(new Set(grid.runs.map((r) => r.id)).size).toBe(grid.runs.length);
    const shared = runId(BASE_RUN);
    for (const table of grid.tables) expect(table.rows.filter((r) => r.run === shared)).toHaveLength(1);
    expect(grid.tables[0].rows.map((r) => r.setting)).toEqual(['60', '600', '6000', '60000']);
    expect(grid.tables[1].rows.map((r) => r.setting)).toEqual(['1', '0.1', '0.01', '0.001']);
    expect(grid.tables[2].rows.map((r) => r.setting)).toEqual([...OPTIMIZERS]);
  });

  it('scales every batch size to a smaller training set, so an epoch takes as many steps', () => {
    expect([60, 600, 6000, 60_000].map((b) => scaledBatch(b, 6000))).toEqual([6, 60, 600, 6000]);
    expect(scaledBatch(60, 500)).toBe(1);
    const grid = experimentGrid(['lr'], 6000);
    expect(grid.runs.map((r) => r.batch)).toEqual([60, 60, 60, 60]);
    expect(grid.tables[0].fixed).toBe('SGD, batch 60');
  });

  it('keeps the tables --only names, in the grid order', () => {
    expect(experimentGrid(['optimizer', 'batch'], 60_000).tables.map((t) => t.id)).toEqual(['batch', 'optimizer']);
  });

  it('declares a model for every optimizer that the DSL has', () => {
    for (const optimizer of ['sgd', 'momentum', 'nesterov', 'adam'] as const) {
      expect(experimentModel(600, optimizer).declare().optimizer).toBe(optimizer);
    }
  });
});

describe('the command line', () => {
  it('defaults to the full grid on the C backend into docs/experiments', () => {
    expect(experimentOptions([])).toEqual({
      backend: 'c', epochs: 30, quick: false, only: ['batch', 'lr', 'optimizer'], outDir: 'docs/experiments',
      trainLimit: undefined, testLimit: undefined, help: false,
    });
  });

  it('--quick trains 2 epochs on a subset; explicit flags win', () => {
    expect(experimentOptions(['--quick'])).toMatchObject({ ...QUICK_RUN, quick: true });
    expect(experimentOptions(['--quick', '--epochs', '3', '--train-limit', '100', '--only', 'lr,batch', '--backend', 'js', '--out', 'x']))
      .toMatchObject({ epochs: 3, trainLimit: 100, testLimit: 1000, only: ['batch', 'lr'], backend: 'js', outDir: 'x' });
  });

  it('refuses a bad flag with one line naming it', () => {
    expect(() => experimentOptions(['--only', 'momentum'])).toThrow('--only takes batch, lr, optimizer (comma-separated), got "momentum"');
    expect(() => experimentOptions(['--backend', 'tpu'])).toThrow('--backend takes c, js, webgpu, cuda, got "tpu"');
    expect(() => experimentOptions(['--epochs', '0'])).toThrow('--epochs needs a positive integer, got "0"');
    expect(() => experimentOptions(['--frobnicate'])).toThrow(/--frobnicate/);
  });
});

describe('the README', () => {
  it('writes a markdown table whose every line has the columns of its header', () => {
    const text = markdownTable(
      [{ header: 'a', align: 'left' }, { header: 'b', align: 'right' }],
      [['x|y', '1'], ['z', '2']],
    );
    expect(text.split('\n')).toEqual(['| a | b |', '|---|---:|', '| x\\|y | 1 |', '| z | 2 |']);
  });

  it("puts the dissertation's figures beside gradc's, a dash where either has none", () => {
    const results = batchResults();
    const lines = tableLines(tableSection(results.tables[0], results.runs));
    const columns = tableColumns(results.tables[0]);
    expect(lines).toHaveLength(2 + 4);
    for (const line of lines) expect(cells(line)).toHaveLength(columns.length);
    expect(cells(lines[1])).toEqual(['---', ...Array(columns.length - 1).fill('---:')]);
    const reported = DISSERTATION_BATCH_SIZE.rows['60'];
    // Batch 60: first epoch 0.5 accuracy, losses 2/2 and 1.5/2; last (third) epoch 0.6.
    expect(cells(lines[2])).toEqual([
      '60', String(reported.accuracyFirstEpoch), '0.6000', String(reported.accuracyLastEpoch), '0.7000',
      String(reported.lossFirstEpoch), '1.00 / 0.750', String(reported.lossLastEpoch), '0.500 / 0.375',
      String(reported.trainingSeconds), '3.8',
    ]);
    expect(cells(lines[4])[0]).toBe('6000 (diverged in epoch 3)');
    expect(cells(lines[4])[10]).toBe('2.5');
    // The batch 60000 run is not in the results: gradc's cells are dashes.
    expect(cells(lines[5]).filter((_, i) => i % 2 === 0 && i > 0)).toEqual(Array(5).fill(NO_FIGURE));
  });

  it('describes the machine and the setup, with a section and a chart per table; the same results give the same text', () => {
    const results = batchResults();
    const text = experimentReadme(results);
    expect(text).toBe(experimentReadme(structuredClone(results)));
    expect(text).toContain('## Batch size (SGD, learning rate 0.01)');
    expect(text).toContain('![Batch size: test accuracy and test loss per epoch](batch.svg)');
    expect(text).toContain('Test CPU <8 cores> & more, 8 cores, Node v20.0.0, gradc 0.1.0, 2024-01-02T03:04:05.000Z');
    expect(text).toContain("its last epoch is the 30th, gradc's the 3rd");
    expect(text).not.toContain('quick run');
    expect([1, 2, 3, 4, 11, 12, 13, 21, 102].map(ordinal)).toEqual(['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '102nd']);
  });
});

describe('the charts', () => {
  it('chooses readable ticks', () => {
    expect(linearAxis(0.52, 0.97).ticks.map((t) => t.label)).toEqual(['0.5', '0.6', '0.7', '0.8', '0.9', '1.0']);
    expect(logAxis(0.012, 2.4).ticks.map((t) => t.label)).toEqual(['0.01', '0.1', '1', '10']);
    expect(logAxis(0.3, 2.4).ticks.map((t) => t.label)).toEqual(['0.1', '0.2', '0.5', '1', '2', '5', '10']);
    expect(epochAxis(30).ticks.map((t) => t.value)).toEqual([1, 5, 10, 15, 20, 25, 30]);
    expect(epochAxis(2).ticks.map((t) => t.value)).toEqual([1, 2]);
    expect(epochAxis(1).max).toBe(2);
  });

  it('draws valid SVG: two panels with a line per run inside the plot, ticks, a legend and escaped text', () => {
    const results = batchResults();
    const table: Table = results.tables[0];
    const text = tableChart(table, results.runs, results.setup.epochs);
    expect(text).toBe(tableChart(table, structuredClone(results.runs), results.setup.epochs));
    const svg = parseXml(text);
    expect(svg.name).toBe('svg');
    expect(svg.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    const [width, height] = [Number(svg.attributes.width), Number(svg.attributes.height)];
    expect(svg.attributes.viewBox).toBe(`0 0 ${width} ${height}`);
    const panels = elementsNamed(svg, 'g').filter((g) => g.attributes.class === 'panel');
    expect(panels).toHaveLength(2);
    for (const panel of panels) {
      // Three runs have epochs; the missing fourth draws no line.
      const lines = elementsNamed(panel, 'polyline');
      expect(lines.map((l) => l.attributes.points.split(' ').length)).toEqual([3, 3, 2]);
      for (const point of lines.flatMap((l) => l.attributes.points.split(' '))) {
        const [x, y] = point.split(',').map(Number);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(height);
      }
      const ticks = elementsNamed(panel, 'line').filter((l) => l.attributes.class === 'tick');
      expect(ticks.length).toBeGreaterThanOrEqual(6);
    }
    const legend = elementsNamed(svg, 'g').find((g) => g.attributes.class === 'legend') as XmlElement;
    expect(elementsNamed(legend, 'text').map(textOf)).toEqual([
      'batch size 60', 'batch size 600', 'batch size 6000 (diverged)', 'batch size 60000',
    ]);
    const title = elementsNamed(svg, 'title').map(textOf);
    expect(title).toEqual(['Batch size: test accuracy and test loss per epoch (SGD, learning rate 0.01)']);
  });

  it('reads only well-formed XML', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/<\/g> expected/);
    expect(() => parseXml('<svg a="1" a="2"/>')).toThrow(/repeated/);
    expect(() => parseXml('<svg>a & b</svg>')).toThrow(/bare "&"/);
    expect(() => parseXml('<svg/><svg/>')).toThrow(/after the root/);
    expect(textOf(parseXml('<a>x &amp; <b>y</b></a>'))).toBe('x & y');
  });

  it('reads the CPU model from /proc/cpuinfo', () => {
    expect(cpuModelOf('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n')).toBe('AMD EPYC 7B13');
    expect(cpuModelOf('processor : 0\n')).toBeUndefined();
  });
});

describe('npm run experiments --quick', () => {
  it('trains the learning-rate table on the js backend and writes results.json, README.md and the chart', () => {
    const out = scratchDir();
    const args = ['--quick', '--only', 'lr', '--backend', 'js', '--train-limit', '1200', '--test-limit', '500', '--out', out];
    const started = Date.now();
    const run = spawnSync('npm', ['run', '--silent', 'experiments', '--', ...args], { encoding: 'utf8' });
    console.log(`quick learning-rate table on js: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
    expect(results.setup).toEqual({ backend: 'js', epochs: 2, seed: 0, trainingExamples: 1200, testExamples: 500, quick: true });
    expect(results.machine).toMatchObject({ node: process.version, gradc: GRADC_VERSION });
    expect(results.machine.cpu).not.toBe('');
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(new Date(results.machine.date).toISOString()).toBe(results.machine.date);
    expect(results.tables.map((t) => t.id)).toEqual(['lr']);
    // Batch 600 scaled to 1,200 images: 12.
    expect(results.runs.map((r) => r.id)).toEqual(['sgd-b12-lr1', 'sgd-b12-lr0.1', 'sgd-b12-lr0.01', 'sgd-b12-lr0.001']);
    for (const r of results.runs) {
      expect(r.epochs.length).toBe(r.diverged === undefined ? 2 : r.epochs.length);
      expect(r.trainingSeconds).toBeCloseTo(r.epochs.reduce((s, e) => s + e.seconds, 0), 9);
      for (const e of r.epochs) {
        expect(e.testAccuracy).toBeGreaterThanOrEqual(0);
        expect(e.testAccuracy).toBeLessThanOrEqual(1);
        expect(e.seconds).toBeGreaterThan(0);
      }
    }
    // Below learning rate 1, the losses fall and the accuracy rises.
    for (const r of results.runs.filter((run) => run.learningRate < 1)) {
      const [first, last] = r.epochs;
      expect(last.trainLoss).toBeLessThan(first.trainLoss);
      expect(last.testLoss).toBeLessThan(first.testLoss);
      expect(last.testAccuracy).toBeGreaterThan(first.testAccuracy);
    }
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    expect(readme).toContain('This is a quick run');
    expect(tableLines(readme)).toHaveLength(2 + 4);
    const chart = parseXml(readFileSync(join(out, 'lr.svg'), 'utf8'));
    expect(elementsNamed(chart, 'polyline').length).toBeGreaterThanOrEqual(2 * 3);
  });
});
