/** defineModel: runs the user's declaration once and records it as a ModelSpec. */
import type { NodeId, SourceLoc } from '../ir/types.ts';
import { formatLoc, formatShape, sameShape } from '../ir/types.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { GradcError } from '../ir/errors.ts';
import { checkShape, describeOption, describeValue } from '../ir/limits.ts';
import type { Shape } from './shape.ts';
import { Tensor, traced, wrap } from './tensor.ts';
import { callerLoc } from './loc.ts';
import type {
  DataDecl, HessianProductDecl, HyperDecl, InitKind, InitSpec, LrSchedule, ModelSpec, ParamDecl, StateDecl,
} from './spec.ts';
import {
  LOSS_OUTPUT, LR_HYPER, STEP_STATE, isGradientPlaceholder, nameProblem, tensorName,
} from './spec.ts';
import type { Optimizer } from './optim.ts';

/**
 * Fan-in and fan-out of a weight, as Keras counts them: [in, out] for a dense layer,
 * [KH, KW, in, out] for a convolution (the window's size times the channels).
 */
function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[shape.length - 2] * receptive, fanOut: shape[shape.length - 1] * receptive };
}

const INIT_KINDS: readonly string[] = ['he_normal', 'he_uniform', 'glorot_normal', 'glorot_uniform', 'zeros', 'ones'];

/** A name as it reads in a message: `"fc1.w"`. */
function quoted(name: unknown): string {
  return typeof name === 'string' ? JSON.stringify(name) : String(name);
}

/** `input "x": size 0 ...` or `input "" is reserved ...`: a problem prefixed with what it is about. */
function about(what: string, problem: string): string {
  return problem.startsWith('"') ? `${what} ${problem}` : `${what}: ${problem}`;
}

/** An initialiser as given to `m.param`, checked, with the fans of the weight's shape. */
function initSpec(init: unknown, shape: Shape, fail: (problem: string) => GradcError): InitSpec {
  if (typeof init === 'string') {
    if (!INIT_KINDS.includes(init)) throw fail(`unknown initialiser ${quoted(init)} (known: ${INIT_KINDS.join(', ')})`);
    return { kind: init as InitKind, ...fans(shape) };
  }
  const spec = init as InitSpec | null;
  const valid =
    typeof spec === 'object' && spec !== null &&
    (INIT_KINDS.includes(spec.kind) || spec.kind === 'constant') &&
    [spec.fanIn, spec.fanOut].every((f) => typeof f === 'number' && Number.isFinite(f) && f > 0) &&
    (spec.value === undefined || (typeof spec.value === 'number' && Number.isFinite(spec.value)));
  if (!valid) {
    throw fail(`an initialiser is one of ${INIT_KINDS.join(', ')} or { kind, fanIn, fanOut, value? } with positive fans and a finite value`);
  }
  return spec;
}

/** Where a name was declared, and whether the user (not an optimizer) declared it. */
interface Declaration {
  readonly what: string;
  readonly loc: SourceLoc | undefined;
  readonly byUser: boolean;
}

/** How a declaration runs: for which program (`training`) and under which seed. */
export interface ContextOptions {
  /** True (the default) for the train program, false for predict and evaluate. */
  readonly training?: boolean;
  /** The model's seed, which keys random draws (`randomUniform`); 0 by default. */
  readonly seed?: number;
}

/** What the declaration callback receives: the way to name inputs and parameters. */
export class ModelContext {
/** The graph the declaration builds. */
  readonly graph = new GraphBuilder();
/** The data inputs declared so far. */
  readonly data: DataDecl[] = [];
/** The parameters declared so far. */
  readonly params: ParamDecl[] = [];
/** The optimizer states declared so far. */
  readonly states: StateDecl[] = [];
/** The fed scalars (the learning rate) declared so far. */
  readonly hypers: HyperDecl[] = [];
/** The new value of each parameter and state after a step. */
  readonly updates = new Map<string, NodeId>();
/** The Hessian-vector products asked for so far (`hessianTimes`). */
  readonly hessianProducts: HessianProductDecl[] = [];
  /** Each product's blocks of H v, by the node ids of its vector. */
  private readonly productsByVector = new Map<string, Tensor<Shape>[]>();
  private readonly declared = new Map<string, Declaration>();
  private readonly assigned = new Map<string, SourceLoc | undefined>();
  /** The states declared through `sharedState` or `stepCounter`. */
  private readonly sharedStates = new Map<string, Tensor<Shape>>();
  /** Set while an optimizer declares the state of one parameter. */
  private optimizing: { readonly optimizer: string; readonly param: string } | undefined;
  private readonly mode: boolean;
  private modeRead = false;
  /** Random streams drawn so far: each `randomUniform` call takes the next. */
  private streams = 0;
  /** The model's seed: random draws (`randomUniform`) are keyed by it. */
  readonly seed: number;

  constructor(options: ContextOptions = {}) {
    this.mode = options.training ?? true;
    this.seed = options.seed ?? 0;
  }

  /**
   * True while the declaration builds the train program, false for the predict and evaluate
   * programs. Layers that act otherwise in training (dropout, batch normalisation) branch on
   * it; a model whose declaration reads it is declared once per mode.
   */
  get training(): boolean {
    this.modeRead = true;
    return this.mode;
  }

  /** Whether the declaration read `training` so far (then its graph may depend on the mode). */
  get readsTraining(): boolean {
    return this.modeRead;
  }

  /**
   * Where a mistake in the current call points: the traced operation or the optimizer being
   * run (its creation line), else the user's line that called into the DSL.
   */
  private where(label: string): SourceLoc | undefined {
    return this.graph.activeLoc ?? callerLoc(label);
  }

  /**
   * Checks and records a declared name. User names may not be reserved (dsl/spec.ts); the
   * optimizer's own `lr` and `step` are declared while it runs, or through `stepCounter`. A
   * name an optimizer declares that the user already took is reported at the user's line.
   */
  private declare(what: 'input' | 'param' | 'state' | 'hyper', name: unknown, internal = false): SourceLoc | undefined {
    const loc = this.where(`${what}(${quoted(name)})`);
    const problem = nameProblem(name);
    const optimizerOwn = (this.optimizing !== undefined || internal) && (name === LR_HYPER || name === STEP_STATE);
    if (problem !== undefined && !optimizerOwn) throw new GradcError(about(what, problem), loc);
    const key = name as string;
    const earlier = this.declared.get(key);
    if (earlier) {
      if (this.optimizing && earlier.byUser) {
        const { optimizer, param } = this.optimizing;
        throw new GradcError(
          `${earlier.what} ${quoted(key)} clashes with the ${what} ${quoted(key)} that ${optimizer} keeps ` +
            `for param ${quoted(param)}; rename the ${earlier.what}`,
          earlier.loc,
        );
      }
      throw new GradcError(`${what} ${quoted(key)} is declared twice (first at ${formatLoc(earlier.loc)})`, loc);
    }
    this.declared.set(key, { what, loc, byUser: this.optimizing === undefined && !internal });
    return loc;
  }

  private checkedShape(what: string, name: string, shape: unknown, loc: SourceLoc | undefined): Shape {
    return checkShape(shape, (problem) => new GradcError(`${what} ${quoted(name)}: ${problem}`, loc));
  }

  private leaf<S extends Shape>(name: string, shape: Shape, loc: SourceLoc | undefined): Tensor<S> {
    return this.graph.withLoc(loc, () => wrap<S>(this.graph, this.graph.input(name, shape)));
  }

  /** Data fed every step, e.g. `m.input('x', [B, 784])`. */
  input<const S extends Shape>(name: string, shape: S): Tensor<S> {
    const loc = this.declare('input', name);
    const checked = this.checkedShape('input', name, shape, loc);
    this.data.push({ name, shape: [...checked] });
    return this.leaf<S>(name, checked, loc);
  }

  /** A trainable parameter with its initialiser. */
  param<const S extends Shape>(name: string, shape: S, init: InitKind | InitSpec): Tensor<S> {
    const loc = this.declare('param', name);
    const checked = this.checkedShape('param', name, shape, loc);
    const spec = initSpec(init, checked, (problem) => new GradcError(`param ${quoted(name)}: ${problem}`, loc));
    this.params.push({ name, shape: [...checked], init: spec });
    return this.leaf<S>(name, checked, loc);
  }

  /** Optimizer state that persists across steps, starting as a fill of `value`. */
  state<const S extends Shape>(name: string, shape: S, value = 0): Tensor<S> {
    return this.declareState(name, shape, value, false);
  }

  private declareState<S extends Shape>(name: string, shape: S, value: number, internal: boolean): Tensor<S> {
    const loc = this.declare('state', name, internal);
    const checked = this.checkedShape('state', name, shape, loc);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new GradcError(`state ${quoted(name)}: its initial value must be a finite number, got ${describeValue(value)}`, loc);
    }
    this.states.push({ name, shape: [...checked], value });
    return this.leaf<S>(name, checked, loc);
  }

  /** A scalar fed every step (e.g. the scheduled learning rate); declared once, shared. */
  hyper(name: string, value: number): Tensor<readonly []> {
    const shared = this.hypers.find((h) => h.name === name);
    const loc = shared ? this.where(`hyper(${quoted(name)})`) : this.declare('hyper', name);
    if (!shared) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new GradcError(`hyper ${quoted(name)}: its value must be a finite number, got ${describeValue(value)}`, loc);
      }
      this.hypers.push({ name, value });
    }
    return this.leaf<readonly []>(name, [], loc);
  }

  /** The number of steps taken so far (a shared state, incremented once per step). */
  stepCounter(): Tensor<readonly []> {
    const next = (step: Tensor<readonly []>) => wrap<readonly []>(this.graph, this.graph.add(step.id, this.graph.fill(1, [])));
    return this.shared(STEP_STATE, [] as const, 0, next, true);
  }

  /**
   * A state all parameters share, starting as a fill of `value` and taking `next(current)`
   * after each step: the first call declares and assigns it, later calls return it (for
   * optimizers, whose `update` runs once per parameter; e.g. Nadam's momentum product).
   */
  sharedState<const S extends Shape>(name: string, shape: S, value: number, next: (current: Tensor<S>) => Tensor<S>): Tensor<S> {
    return this.shared(name, shape, value, next, false);
  }

  private shared<S extends Shape>(name: string, shape: S, value: number, next: (current: Tensor<S>) => Tensor<S>, internal: boolean): Tensor<S> {
    const declared = this.sharedStates.get(name);
    if (declared) return declared as Tensor<S>;
    const state = this.declareState(name, shape, value, internal);
    this.sharedStates.set(name, state);
    this.assign(state, next(state));
    return state;
  }

  /**
   * Uniform draws in [0, 1) of `shape`, new at every step: Philox4x32-10 keyed by the model's
   * seed and a stream of their own (one per call, in declaration order), counted by the
   * element and the step counter (`stepCounter`). Every backend draws the same values, and a
   * run resumed from a checkpoint draws what the uninterrupted run would have.
   */
  randomUniform<const S extends Shape>(shape: S): Tensor<S> {
    const loc = this.where('randomUniform');
    const checked = checkShape(shape, (problem) => new GradcError(problem, loc));
    const step = this.stepCounter();
    const stream = this.streams++;
    return this.graph.withLoc(loc, () =>
      wrap<S>(this.graph, this.graph.randomUniform(step.id, checked, this.seed, stream)),
    );
  }

  /** The name of a parameter or state tensor; anything else is a user error. */
  private stateName(t: unknown, what: string, kinds: readonly ('param' | 'state')[]): string {
    const node = t instanceof Tensor && t.graph === this.graph ? this.graph.node(t.id) : undefined;
    const name = node?.kind === 'input' ? (node.attrs.name as string) : undefined;
    const isParam = this.params.some((p) => p.name === name);
    const isState = this.states.some((s) => s.name === name);
    if (name === undefined || !((kinds.includes('param') && isParam) || (kinds.includes('state') && isState))) {
      throw new GradcError(`${what} needs a ${kinds.join(' or ')} tensor (m.${kinds.join('/m.')}) of this model`, this.where(what));
    }
    return name;
  }

  /** Stands for d loss / d param until the compiler differentiates the graph. */
  gradOf<S extends Shape>(param: Tensor<S>): Tensor<S> {
    return this.gradientOf<S>(this.stateName(param, 'gradOf', ['param']), param.shape);
  }

  /**
   * The gradient placeholders of the parameters declared so far (all of them once `build` has
   * returned, when optimizers run), in declaration order: for a norm over all gradients.
   */
  gradients(): Tensor<Shape>[] {
    return this.params.map((p) => this.gradientOf(p.name, p.shape));
  }

  private gradientOf<S extends Shape>(name: string, shape: Shape): Tensor<S> {
    const placeholder = tensorName({ kind: 'grad', param: name });
    return traced(this.graph, 'gradOf', () => wrap<S>(this.graph, this.graph.input(placeholder, shape)));
  }

  /**
   * H v, H the Hessian of the loss with respect to all parameters jointly, as placeholders
   * (`hvp:<k>:<param>`) the compiler replaces by reverse over reverse differentiation (the
   * gradient of gradient · stop_gradient(v)). `vector` holds one tensor per parameter, of its
   * shape, in declaration order (as `gradients()`); it may read gradients and earlier products.
   * For optimizers: only an update may read the result. Asking again for the same vector
   * returns the same placeholders, so each parameter's update may build the same product.
   */
  hessianTimes(vector: readonly Tensor<Shape>[]): Tensor<Shape>[] {
    const loc = this.where('hessianTimes');
    if (this.optimizing === undefined) {
      throw new GradcError('hessianTimes is for optimizers: call it from an optimizer\'s update', loc);
    }
    if (!Array.isArray(vector) || vector.length !== this.params.length) {
      throw new GradcError(`hessianTimes takes one tensor per parameter (${this.params.length}), got ${describeValue(vector)}`, loc);
    }
    vector.forEach((v, i) => {
      const { name, shape } = this.params[i];
      if (!ownTensor(this, v) || !sameShape(v.shape, shape)) {
        throw new GradcError(`hessianTimes: the block for param ${quoted(name)} must be a tensor of this model of shape ${formatShape(shape)}`, loc);
      }
    });
    const key = vector.map((v) => v.id).join(',');
    const known = this.productsByVector.get(key);
    if (known) return known;
    const k = this.hessianProducts.length;
    const product = this.params.map(({ name, shape }) => {
      const placeholder = tensorName({ kind: 'hvp', product: k, param: name });
      return traced(this.graph, 'hessianTimes', () => wrap<Shape>(this.graph, this.graph.input(placeholder, shape)));
    });
    this.hessianProducts.push({ vector: vector.map((v) => v.id), product: product.map((t) => t.id) });
    this.productsByVector.set(key, product);
    return product;
  }

  /** Declares the value a parameter or state takes after the step. */
  assign<S extends Shape>(target: Tensor<S>, value: Tensor<S>): void {
    const name = this.stateName(target, 'assign', ['param', 'state']);
    const loc = this.where('assign');
    if (!(value instanceof Tensor) || value.graph !== this.graph) {
      throw new GradcError(`the new value of ${quoted(name)} must be a tensor of this model, got ${describeValue(value)}`, loc);
    }
    if (!sameShape(value.shape, target.shape)) {
      throw new GradcError(`the new value of ${quoted(name)} has shape ${formatShape(value.shape)}, not ${formatShape(target.shape)}`, loc);
    }
    const earlier = this.assigned.get(name);
    if (this.updates.has(name)) {
      throw new GradcError(`${quoted(name)} is assigned twice (first at ${formatLoc(earlier)})`, loc);
    }
    this.updates.set(name, value.id);
    this.assigned.set(name, loc);
  }

  /**
   * Runs `optimizer.update` for one parameter (called by `declare` after `build`), so that the
   * names the optimizer declares are checked against the user's.
   */
  runOptimizer(optimizer: Optimizer, param: Tensor<Shape>, name: string): void {
    this.optimizing = { optimizer: optimizer.name, param: name };
    try {
      optimizer.update(this, param, this.gradOf(param));
    } finally {
      this.optimizing = undefined;
    }
  }
}

/** What `build` returns: the scalar loss to minimise and the named predictions. */
export interface ModelOutputs {
  readonly loss: Tensor<readonly []>;
  /** What `predict` returns, e.g. `{ probs: softmax(logits) }`. */
  readonly predictions: Readonly<Record<string, Tensor<Shape>>>;
}

/** The options of `defineModel`: name, batch size, seed, optimizer, schedule and `build`. */
export interface ModelOptions<B extends number> {
  readonly name: string;
  /** Batch size baked into the kernels; `gradc build --batch N` overrides it. */
  readonly batch: B;
  /** Seeds the parameters' initialisation and the batch order: an integer in [0, 2^32). */
  readonly seed?: number;
  readonly optimizer: Optimizer;
  readonly schedule?: LrSchedule;
  readonly build: (m: ModelContext, batch: B) => ModelOutputs;
}

/** A declared model: what a model file exports and `gradc build` compiles. */
export interface ModelDefinition {
  readonly kind: 'gradc-model';
  readonly name: string;
  readonly batch: number;
  readonly seed: number;
  /**
   * Runs the declaration and returns its plain-data spec: at `batch` and `seed` when given, and
   * for the train program unless `training` is false (predict and evaluate).
   */
  declare(overrides?: { batch?: number; seed?: number; training?: boolean }): ModelSpec;
}

/** Whether `value` is what `defineModel` returns. */
export function isModelDefinition(value: unknown): value is ModelDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as ModelDefinition).kind === 'gradc-model' &&
    typeof (value as ModelDefinition).declare === 'function'
  );
}

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Why `batch` cannot be a batch size, or undefined. */
export function batchProblem(batch: unknown): string | undefined {
  return typeof batch === 'number' && Number.isSafeInteger(batch) && batch > 0
    ? undefined
    : `batch ${describeOption(batch)} is not a positive integer`;
}

/** Why `seed` cannot be a seed (an integer in [0, 2^32)), or undefined. */
export function seedProblem(seed: unknown): string | undefined {
  return typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32
    ? undefined
    : `seed ${describeOption(seed)} must be an integer in [0, 2^32)`;
}

function isOptimizer(value: unknown): value is Optimizer {
  const o = value as Optimizer | null;
  return typeof o === 'object' && o !== null && typeof o.name === 'string' && typeof o.update === 'function';
}

/** Declares a model: `build(m, B)` names its inputs and parameters and returns its loss and predictions. */
export function defineModel<const B extends number>(options: ModelOptions<B>): ModelDefinition {
  const loc = callerLoc('defineModel');
  const fail = (problem: string) => new GradcError(problem, loc);
  if (typeof options !== 'object' || options === null) {
    throw fail(`defineModel takes { name, batch, optimizer, build }, got ${describeValue(options)}`);
  }
  if (typeof options.name !== 'string' || !NAME_PATTERN.test(options.name)) {
    throw fail(`model name ${quoted(options.name)} must match ${NAME_PATTERN}`);
  }
  const problem = batchProblem(options.batch) ?? (options.seed !== undefined ? seedProblem(options.seed) : undefined);
  if (problem) throw fail(problem);
  if (!isOptimizer(options.optimizer)) {
    throw fail(`optimizer must be an optimizer such as sgd({ learningRate: 0.1 }), got ${describeValue(options.optimizer)}`);
  }
  if (typeof options.build !== 'function') {
    throw fail(`build must be a function (m, batch) => { loss, predictions }, got ${describeValue(options.build)}`);
  }
  const seed = options.seed ?? 0;
  return {
    kind: 'gradc-model',
    name: options.name,
    batch: options.batch,
    seed,
    declare: (overrides = {}) => {
      // Overrides come from the command line (--batch, --seed): no line of the model to point at.
      const override = (overrides.batch !== undefined ? batchProblem(overrides.batch) : undefined) ??
        (overrides.seed !== undefined ? seedProblem(overrides.seed) : undefined) ??
        (overrides.training !== undefined && typeof overrides.training !== 'boolean'
          ? `training must be true or false, got ${describeValue(overrides.training)}`
          : undefined);
      if (override) throw new GradcError(override);
      const context = { seed: overrides.seed ?? seed, training: overrides.training ?? true };
      return declareModel(options, (overrides.batch ?? options.batch) as B, context, loc);
    },
  };
}

/** Whether `value` is a tensor of the model being declared. */
function ownTensor(m: ModelContext, value: unknown): value is Tensor<Shape> {
  return value instanceof Tensor && value.graph === m.graph;
}

/** What `build` returned, checked: a scalar loss and named predictions, all tensors of this model. */
function checkedOutputs(m: ModelContext, returned: unknown, loc: SourceLoc | undefined): [Tensor<Shape>, Map<string, Tensor<Shape>>] {
  const fail = (problem: string, at = loc) => new GradcError(problem, at);
  if (typeof returned !== 'object' || returned === null) {
    throw fail(`build() returned ${describeValue(returned)}; it must return { loss, predictions }`);
  }
  const { loss, predictions } = returned as { loss: unknown; predictions: unknown };
  if (!(loss instanceof Tensor)) throw fail(`the loss must be a tensor, got ${describeValue(loss)}`);
  if (!ownTensor(m, loss)) throw fail('the loss is a tensor of another model');
  if (loss.shape.length !== 0) {
    throw fail(`the loss must be a scalar, got shape [${loss.shape}]`, m.graph.locOf(loss.id) ?? loc);
  }
  if (typeof predictions !== 'object' || predictions === null || Array.isArray(predictions)) {
    throw fail(`predictions must be an object { name: tensor }, got ${describeValue(predictions)}`);
  }
  const prototype = Object.getPrototypeOf(predictions) as unknown;
  if (prototype instanceof Tensor) {
    // `{ __proto__: t }` sets the object's prototype instead of a property.
    throw fail(`prediction "__proto__" ${nameProblem('__proto__')!.replace(/^"__proto__" /, '')}`);
  }
  if (prototype !== Object.prototype && prototype !== null) throw fail('predictions must be a plain object { name: tensor }');
  const named = new Map<string, Tensor<Shape>>();
  for (const [name, t] of Object.entries(predictions)) {
    const at = t instanceof Tensor && t.graph === m.graph ? (m.graph.locOf(t.id) ?? loc) : loc;
    const problem = nameProblem(name);
    if (problem) throw fail(`prediction ${problem}`, at);
    if (!(t instanceof Tensor)) throw fail(`prediction ${quoted(name)} must be a tensor, got ${describeValue(t)}`);
    if (!ownTensor(m, t)) throw fail(`prediction ${quoted(name)} is a tensor of another model`);
    named.set(name, t);
  }
  return [loss, named];
}

/** A gradient or Hessian-vector product placeholder that `roots` depend on: only updates may read them. */
function gradientRead(graph: ModelSpec['graph'], roots: readonly NodeId[]): NodeId | undefined {
  const seen = new Set<NodeId>(roots);
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    if (!seen.has(id)) continue;
    const node = graph.nodes[id];
    if (node.kind === 'input' && isGradientPlaceholder(node.attrs.name as string)) return id;
    for (const s of node.src) seen.add(s);
  }
  return undefined;
}

function declareModel<B extends number>(
  options: ModelOptions<B>,
  batch: B,
  context: Required<ContextOptions>,
  loc: SourceLoc | undefined,
): ModelSpec {
  const m = new ModelContext(context);
  const [loss, predictions] = checkedOutputs(m, options.build(m, batch), loc);
  const graphSoFar = m.graph.finish({});
  const readsGradient = gradientRead(graphSoFar, [loss.id, ...[...predictions.values()].map((t) => t.id)]);
  if (readsGradient !== undefined) {
    throw new GradcError(
      'the loss and the predictions cannot depend on a gradient (m.gradOf): only the values assigned to parameters and states can',
      graphSoFar.locs[readsGradient] ?? loc,
    );
  }
  const params = m.params.map((p) => new Tensor(m.graph, m.graph.input(p.name, p.shape), p.shape));
  const { optimizer } = options;
  m.graph.withLoc(optimizer.loc, () => {
    m.params.forEach((p, i) => m.runOptimizer(optimizer, params[i], p.name));
  });
  // Null-prototype records: names key them, and no name may reach Object.prototype.
  const outputs: Record<string, NodeId> = Object.create(null) as Record<string, NodeId>;
  outputs[LOSS_OUTPUT] = loss.id;
  for (const [name, t] of predictions) outputs[tensorName({ kind: 'predict', name })] = t.id;
  for (const [name, id] of m.updates) outputs[tensorName({ kind: 'update', target: name })] = id;
  const graph = m.graph.finish(outputs);
  return {
    name: options.name,
    batch,
    seed: context.seed,
    graph,
    hessianProducts: m.hessianProducts,
    data: m.data,
    predictData: dataUsedBy(graph, [...predictions.values()].map((t) => t.id), m.data),
    params: m.params,
    states: m.states,
    hypers: m.hypers,
    predictions: [...predictions.keys()],
    optimizer: options.optimizer.name,
    schedule: options.schedule ?? { kind: 'constant' },
    training: context.training,
    readsTraining: m.readsTraining,
  };
}

function dataUsedBy(graph: ModelSpec['graph'], roots: NodeId[], data: readonly DataDecl[]): string[] {
  const seen = new Set<NodeId>(roots);
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    if (seen.has(id)) for (const s of graph.nodes[id].src) seen.add(s);
  }
  const used = new Set<string>();
  for (const id of seen) if (graph.nodes[id].kind === 'input') used.add(graph.nodes[id].attrs.name as string);
  return data.filter((d) => used.has(d.name)).map((d) => d.name);
}
