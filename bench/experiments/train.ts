/**
 * Building and training one run of the grid: the model is built once per optimizer, batch size
 * and backend (the learning rate is fed, not compiled), opened fresh for every run and trained
 * with `fit`, the test set evaluated after every epoch.
 */
import { join } from 'node:path';
import { buildDefinition } from '../../compiler/build.ts';
import { openBuiltModel } from '../../runtime/open-built-model.ts';
import { TARGET_OF_BACKEND } from '../../compiler/codegen/targets.ts';
import { lossReadInterval } from '../../cli/train-command.ts';
import type { Dataset } from '../../runtime/data/dataset.ts';
import { DivergenceError, fit } from '../../runtime/fit.ts';
import type { BackendKind } from '../../artifact/kernels.ts';
import type { Run } from './grid.ts';
import { EXPERIMENT_MODEL_FILE, EXPERIMENT_SEED, experimentModel } from './model.ts';
import type { EpochResult, RunResult } from './results.ts';
import { epochResult, runResult } from './results.ts';

/** The training and test images. */
export interface ExperimentData {
  readonly train: Dataset;
  readonly test: Dataset;
}

/** The folder a run's model is built into, under `root`: one per optimizer, batch size and backend. */
export function buildFolder(root: string, run: Run, backend: BackendKind): string {
  return join(root, `${run.optimizer}-b${run.batch}-${backend}`);
}

/** Builds the model a run trains into its folder under `root`; returns the folder. */
export async function buildRunModel(run: Run, backend: BackendKind, root: string): Promise<string> {
  const definition = experimentModel(run.batch, run.optimizer);
  const outDir = buildFolder(root, run, backend);
  await buildDefinition(definition, EXPERIMENT_MODEL_FILE, { targets: [TARGET_OF_BACKEND[backend]], outDir });
  return outDir;
}

/**
 * Trains a run on a fresh model opened from `outDir` for `epochs` epochs, calling `onEpoch`
 * after each. A run that diverges is a result: its epochs so far and why it stopped.
 */
export async function trainRun(
  run: Run,
  outDir: string,
  backend: BackendKind,
  data: ExperimentData,
  epochs: number,
  onEpoch: (epoch: EpochResult) => void,
): Promise<RunResult> {
  const model = await openBuiltModel(outDir, backend);
  const done: EpochResult[] = [];
  try {
    await fit(model, data.train, {
      epochs,
      validation: data.test,
      seed: EXPERIMENT_SEED,
      learningRate: run.learningRate,
      lossEvery: lossReadInterval(backend),
      callbacks: {
        onEpochEnd: (record) => {
          const epoch = epochResult(record);
          done.push(epoch);
          onEpoch(epoch);
        },
      },
    });
    return runResult(run, done);
  } catch (e) {
    if (e instanceof DivergenceError) return runResult(run, done, e.message);
    throw e;
  } finally {
    model.dispose();
  }
}
