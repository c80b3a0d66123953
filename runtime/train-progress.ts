/**
 * What a training run records: one record per epoch, and the position a checkpoint saves so
 * that a resumed run continues exactly. Types only (and the monitor names), browser-safe.
 */
import type { Evaluation } from './metrics.ts';

/** What a training run did in one epoch. */
export interface EpochRecord {
  readonly epoch: number;
  /** Mean training loss over the epoch's steps whose loss was read. */
  readonly loss: number;
  /** The learning rate of the epoch's last step (null for a model without one). */
  readonly learningRate: number | null;
  readonly seconds: number;
  readonly samplesPerSecond: number;
  /** Loss and metrics on the validation data after the epoch. */
  readonly validation?: Evaluation;
}

/**
 * Where training stands after a whole epoch: with the parameters and optimizer states, what a
 * checkpoint records so that a resumed run continues exactly where the saved one stopped (the
 * same batch order, learning rate and early-stopping count, and the history so far).
 */
export interface TrainProgress {
  readonly epochsDone: number;
  /** The model's train steps taken: the position in the learning-rate schedule. */
  readonly stepsDone: number;
  /** The batch-order seed; the shuffles of the epochs done are replayed from it. */
  readonly seed: number;
  /** Training examples, batch size and last-batch rule, which fix each epoch's batches. */
  readonly examples: number;
  readonly batch: number;
  readonly lastBatch: 'fill' | 'drop';
  readonly shuffle: boolean;
  /** What early stopping watches, its best value so far (null before the first epoch). */
  readonly monitor: Monitor;
  readonly best: number | null;
  readonly epochsSinceBest: number;
  readonly history: readonly EpochRecord[];
}

/** What early stopping watches: the training loss, or a validation value. */
export type Monitor = 'loss' | 'val_loss' | 'val_accuracy' | 'val_mse' | 'val_mae';
/** What early stopping can watch. */
export const MONITORS: readonly Monitor[] = ['loss', 'val_loss', 'val_accuracy', 'val_mse', 'val_mae'];

