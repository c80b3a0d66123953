/** ModelSpec: the plain, serialisable description of a model that the compiler takes. */
import type { Graph, NodeId, Shape } from '../ir/types.ts';

/** How a parameter is initialised: He or Glorot (normal or uniform), zeros or ones. */
export type InitKind = 'he_normal' | 'he_uniform' | 'glorot_normal' | 'glorot_uniform' | 'zeros' | 'ones';

/** How a parameter is initialised from the model's seed. */
export interface InitSpec {
  readonly kind: InitKind | 'constant';
  readonly fanIn: number;
  readonly fanOut: number;
  readonly value?: number;
}

/** A trainable parameter: its name, shape and initialiser. */
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

/**
 * A Hessian-vector product an optimizer asked for (`ModelContext.hessianTimes`): H v, where H
 * is the Hessian of the loss with respect to all parameters jointly. Both lists hold one node
 * of the spec's graph per parameter, in `params` order.
 */
export interface HessianProductDecl {
  /** The blocks of v, each of its parameter's shape. */
  readonly vector: readonly NodeId[];
  /** The placeholders `hvp:<k>:<param>` that stand for the blocks of H v until the compiler differentiates. */
  readonly product: readonly NodeId[];
}

/** A declared model as plain data: its graph, inputs, parameters, states, predictions, optimizer and schedule. */
export interface ModelSpec {
  readonly name: string;
  readonly batch: number;
  readonly seed: number;
  /**
   * Outputs: `loss`, one per prediction (`predict:<name>`), and one per parameter or state
   * (`update:<name>`). Inputs named `grad:<param>` stand for d loss / d param, inputs named
   * `hvp:<k>:<param>` for a block of the Hessian-vector product `hessianProducts[k]`; the
   * compiler replaces both by the differentiated graph.
   */
  readonly graph: Graph;
  /** The Hessian-vector products the optimizer reads, in the order it asked for them. */
  readonly hessianProducts: readonly HessianProductDecl[];
  readonly data: readonly DataDecl[];
  /** Names of the data inputs the predict program needs (the rest are training targets). */
  readonly predictData: readonly string[];
  readonly params: readonly ParamDecl[];
  readonly states: readonly StateDecl[];
  readonly hypers: readonly HyperDecl[];
  readonly predictions: readonly string[];
  readonly optimizer: string;
  readonly schedule: LrSchedule;
  /**
   * The mode the declaration ran in (`m.training`): true for the train program, false for
   * predict and evaluate, where dropout keeps every unit and batch normalisation uses its
   * running statistics.
   */
  readonly training: boolean;
  /** Whether `build` read `m.training`; a declaration that did not is the same in both modes. */
  readonly readsTraining: boolean;
}

/** The prefix of the gradient placeholders (`grad:<param>`) optimizers read. */
export const GRAD_PREFIX = 'grad:';
/** The prefix of the Hessian-vector product placeholders (`hvp:<k>:<param>`) optimizers read. */
export const HVP_PREFIX = 'hvp:';
/** The prefix of the train program's outputs that hold a parameter's or state's new value. */
export const UPDATE_PREFIX = 'update:';
/** The prefix of the predict program's outputs (`predict:<name>`). */
export const PREDICT_PREFIX = 'predict:';
/** The name of the loss output. */
export const LOSS_OUTPUT = 'loss';
/** The learning rate, a hyperparameter every built-in optimizer feeds. */
export const LR_HYPER = 'lr';
/** The step counter (`ModelContext.stepCounter`: Adam's bias correction, random draws). */
export const STEP_STATE = 'step';

/**
 * Names a user's input, parameter, state, hyperparameter or prediction may not take: the
 * compiler's own (`loss`, `lr`, `step`), and `__proto__`, which a plain object keyed by names
 * would swallow.
 */
export const RESERVED_NAMES: readonly string[] = [LOSS_OUTPUT, LR_HYPER, STEP_STATE, '__proto__'];
/** Prefixes of the names the compiler gives gradients, Hessian-vector products, updated values and predictions. */
export const RESERVED_PREFIXES: readonly string[] = [GRAD_PREFIX, HVP_PREFIX, UPDATE_PREFIX, PREDICT_PREFIX];

/**
 * Why `name` cannot name a user's tensor (one line), or undefined when it can: it must be a
 * non-empty string without control characters, and neither a reserved name nor start with a
 * reserved prefix. The state names an optimizer derives from a parameter's name
 * (`<param>.m`, `<param>.velocity`, ...) or shares across parameters
 * (`nadam.momentumProduct`) are refused where they clash.
 */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `a name must be a string, got ${typeof name}`;
  if (name.length === 0) return 'a name must not be empty';
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return `${JSON.stringify(name)}: a name must not contain control characters or line breaks`;
  if (RESERVED_NAMES.includes(name) || RESERVED_PREFIXES.some((p) => name.startsWith(p))) {
    return (
      `${JSON.stringify(name)} is reserved: gradc names its own tensors ${RESERVED_NAMES.join(', ')} ` +
      `and ${RESERVED_PREFIXES.map((p) => `${p}...`).join(', ')}; choose another name`
    );
  }
  return undefined;
}
