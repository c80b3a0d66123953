/**
 * The training loop for classifiers: shuffled mini-batches from a seed, the scheduled learning
 * rate, a progress bar per epoch, and a history of loss and accuracy per epoch.
 */
import type { ModelInstance } from './model.ts';
import { ModelRuntimeError } from './model.ts';
import { programIOShape } from './artifact.ts';
import { createRng } from './init.ts';
import { learningRateAt } from './lr-schedule.ts';
import type { ProgressStream } from './progress.ts';
import { createProgressBar } from './progress.ts';

/** n examples: features row-major (n x features) and integer class labels. */
export interface ClassificationSplit {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

export interface EpochRecord {
  readonly epoch: number;
  /** Mean training loss over the epoch's batches. */
  readonly trainLoss: number;
  readonly testLoss: number;
  readonly testAccuracy: number;
  readonly seconds: number;
  readonly samplesPerSecond: number;
  readonly learningRate: number;
}

/**
 * Where training stands after a whole epoch: with the parameters and optimizer states, what a
 * checkpoint records so that a resumed run continues exactly where the saved one stopped (the
 * same batch order, learning rate and early-stopping count, and the history so far).
 */
export interface TrainProgress {
  readonly epochsDone: number;
  /** Steps taken over all epochs: the position in the learning-rate schedule. */
  readonly stepsDone: number;
  /** The batch-order seed; the shuffles of the epochs done are replayed from it. */
  readonly seed: number;
  /** Training examples and batch size, which fix the steps per epoch. */
  readonly examples: number;
  readonly batch: number;
  /** Best test loss so far (null before the first epoch) and epochs since it improved. */
  readonly bestTestLoss: number | null;
  readonly epochsSinceBest: number;
  readonly history: readonly EpochRecord[];
}

export interface TrainOptions {
  /** The epoch to stop after, counting the epochs of a resumed run. */
  readonly epochs: number;
  /** Seed of the batch order (default: the model's seed). */
  readonly seed?: number;
  /** Base learning rate (default: the optimizer's). */
  readonly learningRate?: number;
  /** Where the progress bar goes; false for none. */
  readonly progress?: ProgressStream | false;
  /** Called after each epoch with its record and the progress to save for a resume. */
  readonly onEpoch?: (record: EpochRecord, progress: TrainProgress) => void | Promise<void>;
  /** Continue a run from the progress saved with its checkpoint (already restored). */
  readonly resume?: TrainProgress;
  /** Stop when the test loss has not improved for this many epochs. */
  readonly patience?: number;
  /**
   * Read the loss back every this many steps (default 1). A GPU keeps working ahead between
   * reads; the epoch's mean loss is taken over the steps that were read.
   */
  readonly lossEvery?: number;
  /** Checked before each step; returning true stops training after the current epoch's step. */
  readonly shouldStop?: () => boolean;
  /** Called after each step (awaited), with the loss when that step's loss was read back. */
  readonly onStep?: (info: StepInfo) => void | Promise<void>;
}

/** One finished training step: `step` counts from 1 within the epoch's `steps`. */
export interface StepInfo {
  readonly epoch: number;
  readonly step: number;
  readonly steps: number;
  readonly loss?: number;
}

export interface TrainResult {
  /** Every epoch's record, those of the resumed run included. */
  readonly history: readonly EpochRecord[];
  readonly stoppedEarly: boolean;
  /** The progress after the last whole epoch (a stop inside an epoch is not resumable). */
  readonly progress: TrainProgress;
}

/** Fisher–Yates shuffle of 0..n-1. */
export function shuffledIndices(n: number, rng: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** The names a classifier model uses: features input, one-hot label input, probabilities. */
export interface ClassifierIO {
  readonly features: string;
  readonly labels: string;
  readonly probabilities: string;
  readonly batch: number;
  readonly featureSize: number;
  readonly classes: number;
}

export function classifierIO(model: ModelInstance): ClassifierIO {
  const { artifact } = model;
  const features = artifact.data.find((d) => artifact.predictData.includes(d.name));
  const labels = artifact.data.find((d) => !artifact.predictData.includes(d.name));
  const probabilities = artifact.predictions[0];
  if (!features || !labels || !probabilities || features.shape.length !== 2 || labels.shape.length !== 2) {
    throw new ModelRuntimeError(
      `${artifact.name} is not a classifier: it needs a [batch, features] input, a [batch, classes] ` +
        'one-hot label input used only by the loss, and a prediction',
    );
  }
  return {
    features: features.name,
    labels: labels.name,
    probabilities,
    batch: features.shape[0],
    featureSize: features.shape[1],
    classes: labels.shape[1],
  };
}

/** The data must have the model's feature count and only labels it can represent. */
function checkSplit(io: ClassifierIO, split: ClassificationSplit, what: string): void {
  const features = split.images.length / Math.max(1, split.count);
  if (features !== io.featureSize) {
    throw new ModelRuntimeError(
      `the model's input "${io.features}" takes ${io.featureSize} features per example, ` +
        `the ${what} data has ${features}`,
    );
  }
  const largest = split.labels.reduce((a, b) => Math.max(a, b), 0);
  if (largest >= io.classes) {
    throw new ModelRuntimeError(
      `the model's labels "${io.labels}" have ${io.classes} classes, the ${what} data has label ${largest}`,
    );
  }
}

function fillBatch(
  io: Pick<ClassifierIO, 'featureSize' | 'classes'>,
  split: ClassificationSplit,
  indices: ArrayLike<number>,
  x: Float32Array,
  y: Float32Array,
): void {
  x.fill(0);
  y.fill(0);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    x.set(split.images.subarray(i * io.featureSize, (i + 1) * io.featureSize), r * io.featureSize);
    y[r * io.classes + split.labels[i]] = 1;
  }
}

/** What evaluation needs: a model that predicts (a predict-only one too). */
export type PredictingModel = Pick<ModelInstance, 'artifact' | 'predict'>;

/**
 * The predict side of a classifier: its one data input and first prediction, with the shapes
 * predict is fed and returns (the predict batch, which may differ from the training batch).
 */
export function predictorIO(model: PredictingModel): Omit<ClassifierIO, 'labels'> {
  const { artifact } = model;
  const probabilities = artifact.predictions[0];
  const features = artifact.predictData.length === 1 ? artifact.predictData[0] : undefined;
  const x = features === undefined ? undefined : programIOShape(artifact, 'predict', features);
  const p = probabilities === undefined ? undefined : programIOShape(artifact, 'predict', `predict:${probabilities}`);
  if (features === undefined || !x || !p || x.length !== 2 || p.length !== 2 || p[0] !== x[0]) {
    throw new ModelRuntimeError(
      `${artifact.name} is not a classifier: predict needs one [batch, features] input and ` +
        'returns [batch, classes] probabilities first',
    );
  }
  return { features, probabilities: probabilities!, batch: x[0], featureSize: x[1], classes: p[1] };
}

/** Accuracy and mean cross-entropy of the predictions; the last batch is zero-padded. */
export async function evaluateClassifier(
  model: PredictingModel,
  split: ClassificationSplit,
): Promise<{ accuracy: number; loss: number }> {
  const io = predictorIO(model);
  const x = new Float32Array(io.batch * io.featureSize);
  const y = new Float32Array(io.batch * io.classes);
  let correct = 0;
  let loss = 0;
  for (let start = 0; start < split.count; start += io.batch) {
    const rows = Math.min(io.batch, split.count - start);
    const indices = Array.from({ length: rows }, (_, r) => start + r);
    fillBatch(io, split, indices, x, y);
    const probs = (await model.predict({ [io.features]: x }))[io.probabilities];
    for (let r = 0; r < rows; r++) {
      const row = probs.subarray(r * io.classes, (r + 1) * io.classes);
      let best = 0;
      for (let c = 1; c < io.classes; c++) if (row[c] > row[best]) best = c;
      const label = split.labels[start + r];
      if (best === label) correct++;
      loss -= Math.log(Math.max(row[label], 1e-12));
    }
  }
  return { accuracy: correct / split.count, loss: loss / split.count };
}

/** A resume must continue the run it was saved from: same seed, data size and batch. */
function checkResume(progress: TrainProgress, seed: number, examples: number, batch: number): void {
  const differs = (what: string, saved: number, now: number) =>
    new ModelRuntimeError(
      `cannot resume: the checkpoint's run had ${what} ${saved}, this one has ${now} ` +
        '(a resumed run must repeat the saved run\'s batches)',
    );
  if (progress.seed !== seed) throw differs('batch-order seed', progress.seed, seed);
  if (progress.examples !== examples) throw differs('training examples', progress.examples, examples);
  if (progress.batch !== batch) throw differs('batch size', progress.batch, batch);
}

/**
 * Trains until epoch `epochs` with full batches (a last partial batch is dropped), evaluating
 * on `test` after each epoch. With `resume`, it first replays the saved run's shuffles so the
 * batch order, the schedule and early stopping continue as if it had never stopped.
 */
export async function trainClassifier(
  model: ModelInstance,
  train: ClassificationSplit,
  test: ClassificationSplit,
  options: TrainOptions,
): Promise<TrainResult> {
  const io = classifierIO(model);
  const { artifact } = model;
  const seed = options.resume?.seed ?? options.seed ?? artifact.seed;
  const rng = createRng(seed);
  const baseLr = options.learningRate ?? artifact.hypers.find((h) => h.name === 'lr')?.value ?? 0;
  const hasLr = artifact.hypers.some((h) => h.name === 'lr');
  const steps = Math.floor(train.count / io.batch);
  if (steps === 0) {
    throw new ModelRuntimeError(`${train.count} training examples do not fill one batch of ${io.batch}`);
  }
  checkSplit(io, train, 'training');
  checkSplit(io, test, 'test');
  if (options.resume) {
    checkResume(options.resume, options.seed ?? seed, train.count, io.batch);
    for (let e = 0; e < options.resume.epochsDone; e++) shuffledIndices(train.count, rng);
  }
  const x = new Float32Array(io.batch * io.featureSize);
  const y = new Float32Array(io.batch * io.classes);
  const history: EpochRecord[] = [...(options.resume?.history ?? [])];
  let best = options.resume?.bestTestLoss ?? Infinity;
  let sinceBest = options.resume?.epochsSinceBest ?? 0;
  let globalStep = options.resume?.stepsDone ?? 0;
  const progress = (): TrainProgress => ({
    epochsDone: history.length,
    stepsDone: globalStep,
    seed,
    examples: train.count,
    batch: io.batch,
    bestTestLoss: Number.isFinite(best) ? best : null,
    epochsSinceBest: sinceBest,
    history: [...history],
  });
  let lastWholeEpoch = progress();
  if (options.patience !== undefined && sinceBest >= options.patience) {
    // The saved run had already stopped early: continuing it trains nothing.
    return { history, stoppedEarly: true, progress: lastWholeEpoch };
  }
  for (let epoch = history.length + 1; epoch <= options.epochs; epoch++) {
    const order = shuffledIndices(train.count, rng);
    const bar = options.progress === false ? undefined : createProgressBar({
      total: steps,
      label: `epoch ${epoch}/${options.epochs}`,
      ...(options.progress ? { stream: options.progress } : {}),
    });
    const started = performance.now();
    let lossSum = 0;
    let lossCount = 0;
    let lr = baseLr;
    const lossEvery = options.lossEvery ?? 1;
    for (let step = 0; step < steps; step++) {
      if (options.shouldStop?.()) return { history, stoppedEarly: true, progress: lastWholeEpoch };
      if (hasLr) {
        lr = learningRateAt(artifact.schedule, baseLr, globalStep);
        model.setHyper('lr', lr);
      }
      fillBatch(io, train, order.subarray(step * io.batch, (step + 1) * io.batch), x, y);
      model.enqueueTrainStep({ [io.features]: x, [io.labels]: y });
      globalStep++;
      if ((step + 1) % lossEvery !== 0 && step + 1 !== steps) {
        await options.onStep?.({ epoch, step: step + 1, steps });
        continue;
      }
      const loss = await model.lastLoss();
      if (!Number.isFinite(loss)) {
        throw new ModelRuntimeError(`the loss became ${loss} at epoch ${epoch}, step ${step + 1}`);
      }
      lossSum += loss;
      lossCount++;
      const seconds = (performance.now() - started) / 1000;
      bar?.update(step + 1, { loss: lossSum / lossCount, 'samples/s': ((step + 1) * io.batch) / seconds });
      await options.onStep?.({ epoch, step: step + 1, steps, loss });
    }
    const seconds = (performance.now() - started) / 1000;
    const evaluation = await evaluateClassifier(model, test);
    const record: EpochRecord = {
      epoch,
      trainLoss: lossSum / lossCount,
      testLoss: evaluation.loss,
      testAccuracy: evaluation.accuracy,
      seconds,
      samplesPerSecond: (steps * io.batch) / seconds,
      learningRate: lr,
    };
    bar?.finish({ loss: record.trainLoss, 'test acc': record.testAccuracy, 'samples/s': record.samplesPerSecond });
    history.push(record);
    let stop = false;
    if (evaluation.loss < best) {
      best = evaluation.loss;
      sinceBest = 0;
    } else if (options.patience !== undefined && ++sinceBest >= options.patience) {
      stop = true;
    }
    lastWholeEpoch = progress();
    await options.onEpoch?.(record, lastWholeEpoch);
    if (stop) return { history, stoppedEarly: true, progress: lastWholeEpoch };
  }
  return { history, stoppedEarly: false, progress: lastWholeEpoch };
}
