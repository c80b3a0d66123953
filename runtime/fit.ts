/**
 * Training, evaluation and prediction for any generated model on any dataset: `fit`,
 * `evaluate` and `predict`. Browser-safe; the progress bar writes to a stream it is given.
 *
 * - Batches: the kernels are compiled for a fixed batch size B. `fit` shuffles the examples
 *   with a seed each epoch and cuts the order into batches of B; the last, partial batch is
 *   completed with the first examples of the epoch's order (`lastBatch: 'fill'`, the default),
 *   so every example is trained on every epoch, or dropped (`'drop'`).
 * - The learning rate follows the model's schedule (ModelInstance.learningRate).
 * - `evaluate` and `predict` take any number of rows: the last batch is padded with zero rows,
 *   whose predictions are dropped; the loss is corrected for the padding exactly (see
 *   `evaluate`).
 */
import type { Dataset } from './data/dataset.ts';
import { checkDataset, splitDataset } from './data/dataset.ts';
import { createRng, shuffledIndices } from './init.ts';
import type { MetricName, Evaluation } from './metrics.ts';
import { defaultMetrics, MetricSums } from './metrics.ts';
import type { Artifact } from '../artifact/format.ts';
import type { Feeds, ModelInstance } from './model.ts';
import { DivergenceError, ModelRuntimeError } from './model.ts';
import type { ModelIO, TargetEncoding } from './model-io.ts';
import {
  checkFeatures, fillFeatures, fillTargets, metricPrediction, modelIO, programNamed, targetEncoding,
} from './model-io.ts';
import type { ProgressStream } from './progress.ts';
import type { EpochRecord, Monitor, TrainProgress } from './train-progress.ts';
import { MONITORS } from './train-progress.ts';
import { createProgressBar } from './progress.ts';
import { LR_HYPER } from '../dsl/spec.ts';

export type { Evaluation, MetricName };
export type { EpochRecord, Monitor, TrainProgress };
export { MONITORS };
export { DivergenceError, shuffledIndices };

/** Stop training when the monitored value has not improved for `patience` epochs. */
export interface EarlyStopping {
  /** Stop after this many epochs without improvement. */
  readonly patience: number;
  /** Default: `val_loss` with validation data, else `loss`. */
  readonly monitor?: Monitor | undefined;
  /** The least change that counts as an improvement (default 0). */
  readonly minDelta?: number | undefined;
  /** Put back the parameters of the best epoch when training stops (default false). */
  readonly restoreBest?: boolean | undefined;
}

/** One finished training step: `step` counts from 1 within the epoch's `steps`. */
export interface StepInfo {
  readonly epoch: number;
  readonly step: number;
  readonly steps: number;
  /** The step's loss, when it was read back (every `lossEvery` steps). */
  readonly loss?: number;
}

/** Called by `fit` after each step and epoch, and asked before each step whether to stop. */
export interface FitCallbacks {
  /** After each step (awaited). */
  readonly onStep?: ((info: StepInfo) => void | Promise<void>) | undefined;
  /** After each epoch with its record and the progress to save for a resume (awaited). */
  readonly onEpochEnd?: ((record: EpochRecord, progress: TrainProgress) => void | Promise<void>) | undefined;
  /** Checked before each step; true stops training (the epoch under way is not recorded). */
  readonly shouldStop?: (() => boolean) | undefined;
}

/** How `fit` trains: epochs, validation, batch order, learning rate, metrics, early stopping, callbacks. */
export interface FitOptions {
  /** The epoch to stop after, counting the epochs of a resumed run. */
  readonly epochs: number;
  /** Held-out data evaluated after each epoch, or a fraction of the training data to hold out. */
  readonly validation?: Dataset | number | undefined;
  /** Shuffle the examples each epoch (default true). */
  readonly shuffle?: boolean | undefined;
  /** Seed of the batch order and of a validation fraction (default: the model's seed). */
  readonly seed?: number | undefined;
  /** The last partial batch: completed with the epoch's first examples, or dropped. */
  readonly lastBatch?: 'fill' | 'drop' | undefined;
  /** Base learning rate of the schedule (default: the optimizer's). */
  readonly learningRate?: number | undefined;
  /** Validation metrics (default by task: accuracy for classes, mse and mae for values). */
  readonly metrics?: readonly MetricName[] | undefined;
  /** Which prediction metrics read, when the model has several. */
  readonly prediction?: string | undefined;
  readonly earlyStopping?: EarlyStopping | undefined;
  readonly callbacks?: FitCallbacks | undefined;
  /** Where the progress bar goes (e.g. process.stdout); none by default. */
  readonly progress?: ProgressStream | false | undefined;
  /**
   * Read the loss back every this many steps (default 1). A GPU keeps working ahead between
   * reads; the epoch's mean loss is taken over the steps that were read.
   */
  readonly lossEvery?: number | undefined;
  /** Continue a run from the progress saved with its checkpoint (already restored). */
  readonly resume?: TrainProgress | undefined;
  /**
   * Check every kernel's output for NaN and infinities, naming the first kernel (and its DSL
   * lines) that makes one. Slow: every output is read back.
   */
  readonly checkFinite?: boolean | undefined;
}

/** What `fit` returns: the history, how it ended, and the progress to save for a resume. */
export interface FitResult {
  /** Every epoch's record, those of the resumed run included. */
  readonly history: readonly EpochRecord[];
  /** Early stopping ended the run. */
  readonly stoppedEarly: boolean;
  /** `shouldStop` ended the run (inside an epoch, which is not recorded). */
  readonly interrupted: boolean;
  /** The progress after the last whole epoch (a stop inside an epoch is not resumable). */
  readonly progress: TrainProgress;
}

/** Steps per epoch for `examples` in batches of `batch`. */
export function stepsPerEpoch(examples: number, batch: number, lastBatch: 'fill' | 'drop'): number {
  return lastBatch === 'fill' ? Math.ceil(examples / batch) : Math.floor(examples / batch);
}

/**
 * The example indices of step `step`: a slice of `order`, completed from its start if short
 * (cyclically, when the whole order is shorter than a batch).
 */
export function batchRows(order: Uint32Array, step: number, batch: number): Uint32Array {
  const start = step * batch;
  const rows = order.subarray(start, Math.min(start + batch, order.length));
  if (rows.length === batch) return rows;
  const filled = new Uint32Array(batch);
  filled.set(rows);
  for (let r = rows.length; r < batch; r++) filled[r] = order[(r - rows.length) % order.length];
  return filled;
}

function rangeRows(start: number, end: number): Uint32Array {
  return Uint32Array.from({ length: end - start }, (_, r) => start + r);
}

// ---------------------------------------------------------------------------------------------
// predict

/**
 * What `predict` and `evaluate` need of a model: any generated model, predict-only builds
 * included (typed by its predictions).
 */
export interface Predicting<Predictions extends Feeds = Feeds> {
  readonly artifact: Artifact;
  predict(feeds: never): Promise<Predictions>;
}

/** Input data for `predict`: a dataset, or features row-major (a multiple of the input width). */
export type Features = Dataset | Float32Array;

function featuresOf(io: ModelIO, input: Features): Dataset {
  if (input instanceof Float32Array) {
    const width = io.features.width;
    if (input.length % width !== 0) {
      throw new ModelRuntimeError(
        `predict: ${input.length} values are not whole rows of ${width} features ("${io.features.name}")`,
      );
    }
    const count = input.length / width;
    return checkDataset(
      { count, x: input, xWidth: width, y: new Float32Array(count), yWidth: 1 },
      'predict input',
    );
  }
  checkFeatures(io.features, input, 'predict input');
  return input;
}

/**
 * The predictions for any number of rows: each prediction's values for all rows, row-major.
 * The model's predict batch is filled with rows; the last is padded with zeros, whose
 * predictions are dropped.
 */
export async function predict<Predictions extends Feeds = Feeds>(
  model: Predicting<Predictions>,
  input: Features,
): Promise<Predictions> {
  const instance = model as unknown as ModelInstance;
  const io = modelIO(model.artifact);
  const data = featuresOf(io, input);
  const rows = io.features.rows;
  const x = new Float32Array(rows * io.features.width);
  const out: Record<string, Float32Array> = Object.create(null);
  for (const p of io.predictions) out[p.name] = new Float32Array(data.count * p.width);
  for (let start = 0; start < data.count; start += rows) {
    const end = Math.min(start + rows, data.count);
    fillFeatures(data, rangeRows(start, end), x);
    const batch = await instance.predict({ [io.features.name]: x });
    for (const p of io.predictions) {
      out[p.name].set(batch[p.name].subarray(0, (end - start) * p.width), start * p.width);
    }
  }
  return out as Predictions;
}

// ---------------------------------------------------------------------------------------------
// evaluate

/** What `evaluate` computes: the loss (default) and which metrics. */
export interface EvaluateOptions {
  /** Evaluate the model's loss as well (default true; it runs the evaluate program). */
  readonly loss?: boolean | undefined;
  /** Default by task: accuracy for classes, mse and mae for values. */
  readonly metrics?: readonly MetricName[] | undefined;
  /** Which prediction metrics read, when the model has several. */
  readonly prediction?: string | undefined;
}

/**
 * The model's loss and metrics on `data`, any number of rows.
 *
 * The loss is the evaluate program's (the model's loss, forward only), over batches of B rows.
 * A last batch of r < B rows is padded with B - r zero rows and a batch of zero rows is
 * evaluated too: for a loss that averages per-example terms and adds terms that do not depend
 * on the data (every loss of gradc's DSL, with weight penalties), the mean over the n examples
 * is then exactly (sum of full batches' losses x B + last x B - (B - r) x zeros) / n.
 */
export async function evaluate(model: Predicting, data: Dataset, options: EvaluateOptions = {}): Promise<Evaluation> {
  const instance = model as unknown as ModelInstance;
  checkDataset(data, 'evaluation data');
  if (data.count === 0) throw new ModelRuntimeError('evaluate: the data holds no examples');
  const io = modelIO(model.artifact);
  checkFeatures(io.features, data, 'evaluation data');
  const prediction = metricPrediction(model.artifact, io, options.prediction);
  const metrics = new MetricSums(data, options.metrics ?? defaultMetrics(data), prediction.width);
  const x = new Float32Array(io.features.rows * io.features.width);
  for (let start = 0; start < data.count; start += io.features.rows) {
    const rows = rangeRows(start, Math.min(start + io.features.rows, data.count));
    fillFeatures(data, rows, x);
    const predictions = await instance.predict({ [io.features.name]: x });
    metrics.add(predictions[prediction.name], rows);
  }
  const withLoss = options.loss !== false && programNamed(model.artifact, 'evaluate') !== undefined && io.train;
  const loss = withLoss ? await evaluateLoss(instance, io.train!, data) : undefined;
  return { ...(loss !== undefined ? { loss } : {}), ...metrics.result() };
}

async function evaluateLoss(model: ModelInstance, train: NonNullable<ModelIO['train']>, data: Dataset): Promise<number> {
  const encoding = targetEncoding(train.target, data, 'evaluation data');
  const batch = train.features.rows;
  const x = new Float32Array(batch * train.features.width);
  const y = new Float32Array(batch * train.target.width);
  const feeds = { [train.features.name]: x, [train.target.name]: y };
  let sum = 0;
  let lastRows = 0;
  for (let start = 0; start < data.count; start += batch) {
    const rows = rangeRows(start, Math.min(start + batch, data.count));
    fillBatch(data, rows, x, y, train.target.width, encoding);
    sum += (await model.evaluateLoss(feeds)) * batch;
    lastRows = rows.length;
  }
  if (lastRows < batch) {
    // The padding's share of the last batch, measured on a batch of padding rows alone.
    x.fill(0);
    y.fill(0);
    sum -= (batch - lastRows) * (await model.evaluateLoss(feeds));
  }
  return sum / data.count;
}

function fillBatch(
  data: Dataset,
  rows: ArrayLike<number>,
  x: Float32Array,
  y: Float32Array,
  width: number,
  encoding: TargetEncoding,
): void {
  fillFeatures(data, rows, x);
  fillTargets(data, rows, y, width, encoding);
}

// ---------------------------------------------------------------------------------------------
// fit

/** A resume must continue the run it was saved from: same seed, data and batches. */
function checkResume(progress: TrainProgress, run: Omit<TrainProgress, 'epochsDone' | 'stepsDone' | 'best' | 'epochsSinceBest' | 'history'>): void {
  for (const key of ['seed', 'examples', 'batch', 'lastBatch', 'shuffle', 'monitor'] as const) {
    if (progress[key] !== run[key]) {
      throw new ModelRuntimeError(
        `cannot resume: the checkpoint's run had ${key} ${String(progress[key])}, this one has ` +
          `${String(run[key])} (a resumed run must repeat the saved run's batches)`,
      );
    }
  }
}

function monitored(monitor: Monitor, record: EpochRecord): number | undefined {
  if (monitor === 'loss') return record.loss;
  const key = monitor.slice('val_'.length) as keyof Evaluation;
  return record.validation?.[key];
}

/** Whether `value` improves on `best` by more than `minDelta` (accuracy up, the rest down). */
function improves(monitor: Monitor, value: number, best: number | null, minDelta: number): boolean {
  if (best === null) return true;
  return monitor === 'val_accuracy' ? value > best + minDelta : value < best - minDelta;
}

function checkFiniteLoss(loss: number, epoch: number, step: number, lossEvery: number): void {
  if (Number.isFinite(loss)) return;
  const where = lossEvery > 1 ? `by step ${step} (the loss is read every ${lossEvery} steps)` : `at step ${step}`;
  throw new DivergenceError(
    `training diverged: the loss became ${loss} in epoch ${epoch} ${where}; lower the learning ` +
      'rate, or train with checkFinite (gradc train --check-finite) to find the DSL line that ' +
      'made the first NaN or infinity',
  );
}

/**
 * Trains `model` on `data` until epoch `epochs`, evaluating on the validation data after each
 * epoch. With `resume`, it first replays the saved run's shuffles, so the batch order, the
 * schedule and early stopping continue as if it had never stopped.
 */
export async function fit(model: ModelInstance, data: Dataset, options: FitOptions): Promise<FitResult> {
  const io = modelIO(model.artifact);
  if (!io.train) throw new ModelRuntimeError(`${model.artifact.name} has no train program (a predict-only build)`);
  const { features, target } = io.train;
  const seed = options.seed ?? options.resume?.seed ?? model.artifact.seed;
  checkDataset(data, 'training data');
  const split = typeof options.validation === 'number' ? splitDataset(data, options.validation, seed) : undefined;
  const train = split?.train ?? data;
  const validation = split?.validation ?? (options.validation as Dataset | undefined);
  checkFeatures(features, train, 'training data');
  const encoding = targetEncoding(target, train, 'training data');
  if (train.count === 0) throw new ModelRuntimeError('fit: the training data holds no examples');
  if (validation) {
    checkDataset(validation, 'validation data');
    if (validation.count === 0) throw new ModelRuntimeError('fit: the validation data holds no examples');
    checkFeatures(features, validation, 'validation data');
    targetEncoding(target, validation, 'validation data');
    // The metrics are checked now, not after the first epoch.
    const prediction = metricPrediction(model.artifact, io, options.prediction);
    new MetricSums(validation, options.metrics ?? defaultMetrics(validation), prediction.width);
  }
  const batch = features.rows;
  const lastBatch = options.lastBatch ?? 'fill';
  const shuffle = options.shuffle ?? true;
  const steps = stepsPerEpoch(train.count, batch, lastBatch);
  if (steps === 0) {
    throw new ModelRuntimeError(`${train.count} training examples do not fill one batch of ${batch} (lastBatch 'drop')`);
  }
  if (options.resume && options.earlyStopping?.restoreBest) {
    // The best weights are kept in memory, not in the checkpoint: they would not survive.
    throw new ModelRuntimeError('fit: restoreBest cannot continue a resumed run (the best weights are not in the checkpoint)');
  }
  const early = options.earlyStopping;
  const monitor: Monitor = early?.monitor ?? (validation ? 'val_loss' : 'loss');
  if (monitor !== 'loss' && !validation) {
    throw new ModelRuntimeError(`early stopping on ${monitor} needs validation data`);
  }
  const rng = createRng(seed);
  const run = { seed, examples: train.count, batch, lastBatch, shuffle, monitor } as const;
  if (options.resume) {
    checkResume(options.resume, run);
    if (shuffle) for (let e = 0; e < options.resume.epochsDone; e++) shuffledIndices(train.count, rng);
    model.stepsTaken = options.resume.stepsDone;
  }
  if (options.learningRate !== undefined) model.setHyper(LR_HYPER, options.learningRate);
  const x = new Float32Array(batch * features.width);
  const y = new Float32Array(batch * target.width);
  const feeds = { [features.name]: x, [target.name]: y };
  const history: EpochRecord[] = [...(options.resume?.history ?? [])];
  let best = options.resume?.best ?? null;
  let sinceBest = options.resume?.epochsSinceBest ?? 0;
  let bestWeights: Awaited<ReturnType<ModelInstance['weights']>> | undefined;
  const progress = (): TrainProgress => ({
    ...run,
    epochsDone: history.length,
    stepsDone: model.stepsTaken,
    best,
    epochsSinceBest: sinceBest,
    history: [...history],
  });
  let lastWholeEpoch = progress();
  const finish = async (stoppedEarly: boolean, interrupted = false): Promise<FitResult> => {
    if (stoppedEarly && bestWeights) model.loadWeights(bestWeights);
    return { history, stoppedEarly, interrupted, progress: lastWholeEpoch };
  };
  if (early && sinceBest >= early.patience) return finish(true);
  const lossEvery = options.lossEvery ?? 1;
  const callbacks = options.callbacks ?? {};
  for (let epoch = history.length + 1; epoch <= options.epochs; epoch++) {
    const order = shuffle ? shuffledIndices(train.count, rng) : rangeRows(0, train.count);
    const bar = options.progress
      ? createProgressBar({ total: steps, label: `epoch ${epoch}/${options.epochs}`, stream: options.progress })
      : undefined;
    const started = globalThis.performance.now();
    let lossSum = 0;
    let lossCount = 0;
    let lr: number | null = null;
    for (let step = 0; step < steps; step++) {
      if (callbacks.shouldStop?.()) return finish(false, true);
      lr = model.learningRate ?? null;
      fillBatch(train, batchRows(order, step, batch), x, y, target.width, encoding);
      const read = (step + 1) % lossEvery === 0 || step + 1 === steps;
      if (options.checkFinite) {
        await model.checkedTrainStep(feeds, `epoch ${epoch}, step ${step + 1}`);
      } else {
        model.enqueueTrainStep(feeds);
      }
      if (!read) {
        await callbacks.onStep?.({ epoch, step: step + 1, steps });
        continue;
      }
      const loss = await model.lastLoss();
      checkFiniteLoss(loss, epoch, step + 1, lossEvery);
      lossSum += loss;
      lossCount++;
      const seconds = (globalThis.performance.now() - started) / 1000;
      bar?.update(step + 1, { loss: lossSum / lossCount, 'samples/s': ((step + 1) * batch) / seconds });
      await callbacks.onStep?.({ epoch, step: step + 1, steps, loss });
    }
    const seconds = (globalThis.performance.now() - started) / 1000;
    const evaluation = validation
      ? await evaluate(model, validation, { metrics: options.metrics, prediction: options.prediction })
      : undefined;
    if (evaluation?.loss !== undefined && !Number.isFinite(evaluation.loss)) {
      throw new DivergenceError(`training diverged: the validation loss became ${evaluation.loss} after epoch ${epoch}`);
    }
    const record: EpochRecord = {
      epoch,
      loss: lossSum / lossCount,
      learningRate: lr,
      seconds,
      samplesPerSecond: (steps * batch) / seconds,
      ...(evaluation ? { validation: evaluation } : {}),
    };
    bar?.finish({ loss: record.loss, ...prefixed(evaluation), 'samples/s': record.samplesPerSecond });
    history.push(record);
    const value = monitored(monitor, record);
    let stop = false;
    if (value !== undefined && improves(monitor, value, best, early?.minDelta ?? 0)) {
      best = value;
      sinceBest = 0;
      if (early?.restoreBest) bestWeights = await model.weights();
    } else if (early && ++sinceBest >= early.patience) {
      stop = true;
    }
    lastWholeEpoch = progress();
    await callbacks.onEpochEnd?.(record, lastWholeEpoch);
    if (stop) return finish(true);
  }
  return finish(false);
}

/** `{ loss: 0.1, accuracy: 0.9 }` -> `{ 'val loss': 0.1, 'val accuracy': 0.9 }` for the bar. */
function prefixed(evaluation: Evaluation | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(evaluation ?? {})) out[`val ${key}`] = value;
  return out;
}
