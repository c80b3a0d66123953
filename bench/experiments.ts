/**
 * `npm run experiments`: the dissertation's reference experiment (MLP 784-250-250-10 on MNIST)
 * trained by gradc for its three tables (batch size, learning rate, optimizer), written to
 * docs/experiments/ as results.json, README.md and one SVG chart per table. The outputs are
 * written again after every run, so an interrupted experiment keeps the runs it finished.
 *
 *   npm run experiments                      # the whole grid, 30 epochs each, C backend
 *   npm run experiments -- --quick           # 2 epochs on a tenth of the training set
 *   npm run experiments -- --only lr --backend js --out /tmp/lr
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GRADC_VERSION } from '../compiler/version.ts';
import { writeAtomically } from '../artifact/atomic-file.ts';
import { loadMnist, mnistDataset } from '../runtime/data/mnist.ts';
import type { Run } from './experiments/grid.ts';
import { experimentGrid } from './experiments/grid.ts';
import { experimentReadme, formatAccuracy, formatLoss, formatSeconds } from './experiments/markdown.ts';
import { experimentModel, EXPERIMENT_SEED } from './experiments/model.ts';
import type { ExperimentOptions } from './experiments/options.ts';
import { experimentOptions, USAGE } from './experiments/options.ts';
import type { EpochResult, ExperimentResults, RunResult } from './experiments/results.ts';
import { describeMachine } from './experiments/results.ts';
import { tableChart } from './experiments/svg.ts';
import type { ExperimentData } from './experiments/train.ts';
import { buildFolder, buildRunModel, trainRun } from './experiments/train.ts';

/** Where the runs' models are built. */
const BUILD_ROOT = join('.cache', 'experiments');

/** Writes results.json, README.md and each table's chart into `dir`. */
function writeOutputs(dir: string, results: ExperimentResults): void {
  mkdirSync(dir, { recursive: true });
  writeAtomically(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeAtomically(join(dir, 'README.md'), experimentReadme(results));
  for (const table of results.tables) {
    writeAtomically(join(dir, `${table.id}.svg`), tableChart(table, results.runs, results.setup.epochs));
  }
}

function epochLine(run: Run, epochs: number, e: EpochResult): string {
  return `${run.id} epoch ${e.epoch}/${epochs}: train loss ${formatLoss(e.trainLoss)}, test loss ` +
    `${formatLoss(e.testLoss)}, test accuracy ${formatAccuracy(e.testAccuracy)} (${formatSeconds(e.seconds)} s)`;
}

async function runExperiment(options: ExperimentOptions): Promise<void> {
  const mnist = loadMnist({ trainLimit: options.trainLimit, testLimit: options.testLimit });
  const data: ExperimentData = { train: mnistDataset(mnist.train), test: mnistDataset(mnist.test) };
  const grid = experimentGrid(options.only, data.train.count);
  // Every run's model is declared before anything trains: one that cannot be stops the
  // experiment now, not after the runs before it.
  for (const run of grid.runs) experimentModel(run.batch, run.optimizer);
  const started = new Date();
  const base = {
    setup: {
      backend: options.backend,
      epochs: options.epochs,
      seed: EXPERIMENT_SEED,
      trainingExamples: data.train.count,
      testExamples: data.test.count,
      quick: options.quick,
    },
    machine: describeMachine(GRADC_VERSION, started),
    tables: grid.tables,
  };
  const builds = new Map<string, Promise<string>>();
  const runs: RunResult[] = [];
  for (const [i, run] of grid.runs.entries()) {
    console.log(`run ${i + 1}/${grid.runs.length}: ${run.id}`);
    // Runs that differ only in their learning rate share a build.
    const folder = buildFolder(BUILD_ROOT, run, options.backend);
    if (!builds.has(folder)) builds.set(folder, buildRunModel(run, options.backend, BUILD_ROOT));
    const outDir = await builds.get(folder)!;
    const report = (e: EpochResult) => console.log(epochLine(run, options.epochs, e));
    const result = await trainRun(run, outDir, options.backend, data, options.epochs, report);
    if (result.diverged !== undefined) console.log(`${run.id}: ${result.diverged}`);
    runs.push(result);
    writeOutputs(options.outDir, { ...base, runs });
  }
  const seconds = (Date.now() - started.getTime()) / 1000;
  console.log(`${grid.runs.length} runs in ${formatSeconds(seconds)} s; wrote ${options.outDir}/`);
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    const options = experimentOptions(argv);
    if (options.help) {
      console.log(USAGE);
      return 0;
    }
    await runExperiment(options);
    return 0;
  } catch (e) {
    console.error(`experiments: ${(e as Error).message}`);
    return 1;
  }
}

process.exit(await main(process.argv.slice(2)));
