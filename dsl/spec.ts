/** ModelSpec: the plain, serialisable description of a model that the compiler takes. */
import type { Graph, Shape } from '../compiler/ir/types.ts';

export type InitKind = 'he_normal' | 'he_uniform' | 'glorot_normal' | 'glorot_uniform' | 'zeros';

/** How a parameter is initialised from the model's seed. */
export interface InitSpec {
  readonly kind: InitKind | 'constant';
  readonly fanIn: number;
  readonly fanOut: number;
  readonly value?: number;
}

export interface ParamDecl {
  readonly name: string;
  readonly shape: Shape;
  readonly init: InitSpec;
}

/** Optimizer state (velocities, moments, step counters): starts as a fill. */
export interface StateDecl {
  readonly name: string;
  readonly shape: Shape;
  readonly value: number;
}

/** Data fed every step (images, labels). */
export interface DataDecl {
  readonly name: string;
  readonly shape: Shape;
}

/** A scalar fed every step (the learning rate), with its default. */
export interface HyperDecl {
  readonly name: string;
  readonly value: number;
}

/** Learning-rate schedules, evaluated by the runtime on the host each step. */
export type LrSchedule =
  | { readonly kind: 'constant' }
  | { readonly kind: 'exponential'; readonly decay: number; readonly every: number }
  | { readonly kind: 'polynomial'; readonly endFactor: number; readonly power: number; readonly steps: number }
  | { readonly kind: 'inverse_sqrt'; readonly warmup: number }
  | { readonly kind: 'cosine'; readonly steps: number; readonly minFactor: number; readonly warmup: number };

export interface ModelSpec {
  readonly name: string;
  readonly batch: number;
  readonly seed: number;
  /**
   * Outputs: `loss`, one per prediction (`predict:<name>`), and one per parameter or state
   * (`update:<name>`). Inputs named `grad:<param>` stand for d loss / d param; the compiler
   * replaces them by the differentiated graph.
   */
  readonly graph: Graph;
  readonly data: readonly DataDecl[];
  /** Names of the data inputs the predict program needs (the rest are training targets). */
  readonly predictData: readonly string[];
  readonly params: readonly ParamDecl[];
  readonly states: readonly StateDecl[];
  readonly hypers: readonly HyperDecl[];
  readonly predictions: readonly string[];
  readonly optimizer: string;
  readonly schedule: LrSchedule;
}

export const GRAD_PREFIX = 'grad:';
export const UPDATE_PREFIX = 'update:';
export const PREDICT_PREFIX = 'predict:';
export const LOSS_OUTPUT = 'loss';
/** The fed learning rate: the base rate times the model's schedule at each step. */
export const LEARNING_RATE_HYPER = 'lr';
