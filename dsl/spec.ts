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
 * What a name the compiler gives a tensor stands for, as data: the graph's outputs (the loss,
 * a prediction, a parameter's or state's new value) and the placeholders optimizers read (a
 * gradient, a block of a Hessian-vector product). The names themselves (`loss`,
 * `predict:<name>`, `update:<target>`, `grad:<param>`, `hvp:<k>:<param>`) are what graphs,
 * artifacts and messages show; `tensorName` writes them and `tensorRole` reads them, and no
 * other code looks at the prefixes.
 */
export type TensorRole =
  | { readonly kind: 'loss' }
  /** Prediction `name` (`predict:<name>`), an output of the predict program. */
  | { readonly kind: 'predict'; readonly name: string }
  /** The new value of parameter or state `target` (`update:<target>`), an output of the train graph. */
  | { readonly kind: 'update'; readonly target: string }
  /** d loss / d `param` (`grad:<param>`), an input placeholder until the compiler differentiates. */
  | { readonly kind: 'grad'; readonly param: string }
  /** The block of `param` in Hessian-vector product number `product` (`hvp:<k>:<param>`), a placeholder. */
  | { readonly kind: 'hvp'; readonly product: number; readonly param: string };

/** The name of a tensor with role `role`: `{ kind: 'update', target: 'fc1.w' }` → `update:fc1.w`. */
export function tensorName(role: TensorRole): string {
  switch (role.kind) {
    case 'loss':
      return LOSS_OUTPUT;
    case 'predict':
      return `${PREDICT_PREFIX}${role.name}`;
    case 'update':
      return `${UPDATE_PREFIX}${role.target}`;
    case 'grad':
      return `${GRAD_PREFIX}${role.param}`;
    case 'hvp':
      return `${HVP_PREFIX}${role.product}:${role.param}`;
  }
}

/**
 * The role a graph output or input name stands for (`tensorName`'s inverse), or undefined for
 * any other name: a user's input, parameter, state or hyperparameter, or an output of a graph
 * built by hand. An `hvp:` name whose product number does not parse is no role either.
 */
export function tensorRole(name: string): TensorRole | undefined {
  if (name === LOSS_OUTPUT) return { kind: 'loss' };
  if (name.startsWith(PREDICT_PREFIX)) return { kind: 'predict', name: name.slice(PREDICT_PREFIX.length) };
  if (name.startsWith(UPDATE_PREFIX)) return { kind: 'update', target: name.slice(UPDATE_PREFIX.length) };
  if (name.startsWith(GRAD_PREFIX)) return { kind: 'grad', param: name.slice(GRAD_PREFIX.length) };
  if (name.startsWith(HVP_PREFIX)) {
    const colon = name.indexOf(':', HVP_PREFIX.length);
    const product = name.slice(HVP_PREFIX.length, colon);
    if (colon < 0 || !/^\d+$/.test(product)) return undefined;
    return { kind: 'hvp', product: Number(product), param: name.slice(colon + 1) };
  }
  return undefined;
}

/**
 * The prediction an output of the predict program holds, as users see it (the glue's types,
 * `predict`'s result): `predict:probs` → `probs`; any other name as it is.
 */
export function predictionName(output: string): string {
  const role = tensorRole(output);
  return role?.kind === 'predict' ? role.name : output;
}

/** Whether `name` is a gradient or Hessian-vector product placeholder (`grad:...`, `hvp:...`). */
export function isGradientPlaceholder(name: string): boolean {
  const kind = tensorRole(name)?.kind;
  return kind === 'grad' || kind === 'hvp';
}

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
