/**
 * What the training-throughput benchmarks share: contenders measured in alternating rounds
 * (single runs vary by ±20% on a shared machine, so every contender runs once per round and the
 * table reports medians and ranges), gradc's own contenders, and the table with ratios.
 */
import { join } from 'node:path';
import { buildAndOpen } from '../cli/build-and-open.ts';
import type { BackendKind } from '../artifact/kernels.ts';
import type { ModelInstance } from '../runtime/model.ts';
import { syntheticMnistBatch } from './synthetic.ts';

/** The reference MLP's layers, input first. */
export const MLP_LAYERS: readonly number[] = [784, 250, 250, 10];

export interface Measurement {
  readonly name: string;
  readonly samplesPerSecond: number;
}

/** One side of a comparison: each `run()` is one measurement of untimed warm-up then timed steps. */
export interface Contender {
  readonly name: string;
  run(): Promise<Measurement>;
}

/** Warm-up (untimed) and timed training steps of one measurement. */
export interface StepCounts {
  readonly warmup: number;
  readonly steps: number;
}

/** A row of the table: the median of a contender's rounds and their range. */
export interface Summary {
  readonly name: string;
  readonly samplesPerSecond: number;
  readonly min: number;
  readonly max: number;
  readonly runs: readonly number[];
}

/** How the ratio column reads: each row against `reference`, or `reference` against each row. */
export interface RatioColumn {
  readonly reference: string;
  readonly referenceOverRow: boolean;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarize(name: string, runs: readonly number[]): Summary {
  return { name, samplesPerSecond: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs };
}

/**
 * Runs every contender once per round, in the same order each round; logs each measurement.
 * Where node runs with --expose-gc (npm run bench does), the heap is collected before each
 * measurement, so no contender pays for the garbage of the one before it.
 */
export async function runRounds(contenders: readonly Contender[], rounds: number): Promise<Summary[]> {
  const runs = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const collect = (globalThis as { gc?: () => void }).gc;
  for (let round = 1; round <= rounds; round++) {
    for (const contender of contenders) {
      collect?.();
      const { samplesPerSecond } = await contender.run();
      runs.get(contender.name)!.push(samplesPerSecond);
      console.log(`round ${round}: ${contender.name.padEnd(10)} ${Math.round(samplesPerSecond)} samples/s`);
    }
  }
  return [...runs].map(([name, values]) => summarize(name, values));
}

/** The ratio of `row` in `column` ('-' when the reference did not run). */
function ratioOf(row: Summary, table: readonly Summary[], column: RatioColumn): string {
  const reference = table.find((r) => r.name === column.reference);
  if (!reference) return '-';
  const ratio = column.referenceOverRow
    ? reference.samplesPerSecond / row.samplesPerSecond
    : row.samplesPerSecond / reference.samplesPerSecond;
  return `${ratio.toFixed(2)}x`;
}

export function ratioHeading(column: RatioColumn): string {
  return column.referenceOverRow ? `${column.reference} / it` : `vs ${column.reference}`;
}

/** The table's lines: median samples/s, the range over the rounds, and the ratio column. */
export function formatTable(table: readonly Summary[], column: RatioColumn): string[] {
  const heading = ratioHeading(column);
  const width = Math.max(13, heading.length);
  const lines = [
    `${'contender'.padEnd(12)} ${'samples/s'.padStart(10)} ${'range'.padStart(15)} ${heading.padStart(width)}`,
  ];
  for (const row of table) {
    const range = `${Math.round(row.min)}-${Math.round(row.max)}`;
    const median = Math.round(row.samplesPerSecond).toString();
    lines.push(`${row.name.padEnd(12)} ${median.padStart(10)} ${range.padStart(15)} ${ratioOf(row, table, column).padStart(width)}`);
  }
  return lines;
}

/**
 * Builds `modelFile` for `backend` at `batch` (into .cache/bench/, a folder per batch: a model
 * stays open while the next batch's is built) and opens it.
 */
export async function openGradcModel(modelFile: string, backend: BackendKind, batch: number): Promise<ModelInstance> {
  const name = modelFile.replace(/^.*\//, '').replace(/\.ts$/, '');
  const outDir = join('.cache', 'bench', `${name}-${backend}-b${batch}`);
  return (await buildAndOpen(modelFile, { backend, batch, outDir })).model;
}

/**
 * gradc training `model` (built for `batch`) on one synthetic MNIST batch. The batch is uploaded
 * once, by the first untimed step (so there is one even with no warm-up), and stays in the
 * model's input buffers, as the peers keep their batch tensors.
 */
export function gradcContender(backend: BackendKind, model: ModelInstance, batch: number, counts: StepCounts): Contender {
  const feeds = syntheticMnistBatch(batch, 1);
  const name = `gradc-${backend}`;
  return {
    name,
    async run() {
      await model.trainStep(feeds);
      for (let i = 1; i < counts.warmup; i++) await model.trainStep();
      const started = performance.now();
      for (let i = 0; i < counts.steps; i++) await model.trainStep();
      const seconds = (performance.now() - started) / 1000;
      return { name, samplesPerSecond: (counts.steps * batch) / seconds };
    },
  };
}
