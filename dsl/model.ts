/** defineModel: runs the user's declaration once and records it as a ModelSpec. */
import type { NodeId } from '../compiler/ir/types.ts';
import { GraphBuilder } from '../compiler/ir/builder.ts';
import { GradcError } from '../compiler/errors.ts';
import type { Shape } from './shape.ts';
import { Tensor, traced, wrap } from './tensor.ts';
import { callerLoc } from './loc.ts';
import type {
  DataDecl, HyperDecl, InitKind, InitSpec, LrSchedule, ModelSpec, ParamDecl, StateDecl,
} from './spec.ts';
import { GRAD_PREFIX, LOSS_OUTPUT, PREDICT_PREFIX, UPDATE_PREFIX } from './spec.ts';
import type { Optimizer } from './optim.ts';

/** Fan-in and fan-out of a weight: [in, out] for a dense layer, [out, in, kh, kw] for conv. */
function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** What the declaration callback receives: the way to name inputs and parameters. */
export class ModelContext {
  readonly graph = new GraphBuilder();
  readonly data: DataDecl[] = [];
  readonly params: ParamDecl[] = [];
  readonly states: StateDecl[] = [];
  readonly hypers: HyperDecl[] = [];
  readonly updates = new Map<string, NodeId>();
  private readonly names = new Set<string>();

  private claim(name: string, what: string): void {
    if (this.names.has(name)) throw new GradcError(`${what} "${name}" is declared twice`, callerLoc(what));
    this.names.add(name);
  }

  /** Data fed every step, e.g. `m.input('x', [B, 784])`. */
  input<const S extends Shape>(name: string, shape: S): Tensor<S> {
    this.claim(name, 'input');
    this.data.push({ name, shape: [...shape] });
    return traced(this.graph, `input("${name}")`, () => wrap<S>(this.graph, this.graph.input(name, shape)));
  }

  /** A trainable parameter with its initialiser. */
  param<const S extends Shape>(name: string, shape: S, init: InitKind | InitSpec): Tensor<S> {
    this.claim(name, 'param');
    const spec: InitSpec = typeof init === 'string' ? { kind: init, ...fans(shape) } : init;
    this.params.push({ name, shape: [...shape], init: spec });
    return traced(this.graph, `param("${name}")`, () => wrap<S>(this.graph, this.graph.input(name, shape)));
  }

  /** Optimizer state that persists across steps, starting as a fill of `value`. */
  state<const S extends Shape>(name: string, shape: S, value = 0): Tensor<S> {
    this.claim(name, 'state');
    this.states.push({ name, shape: [...shape], value });
    return traced(this.graph, `state("${name}")`, () => wrap<S>(this.graph, this.graph.input(name, shape)));
  }

  /** A scalar fed every step (e.g. the scheduled learning rate); declared once, shared. */
  hyper(name: string, value: number): Tensor<readonly []> {
    if (!this.hypers.some((h) => h.name === name)) {
      this.claim(name, 'hyper');
      this.hypers.push({ name, value });
    }
    return wrap<readonly []>(this.graph, this.graph.input(name, []));
  }

  /** The number of steps taken so far (a shared state, incremented once per step). */
  stepCounter(): Tensor<readonly []> {
    const name = 'step';
    if (!this.states.some((s) => s.name === name)) {
      const step = this.state(name, [], 0);
      this.assign(step, wrap<readonly []>(this.graph, this.graph.add(step.id, this.graph.fill(1, []))));
      return step;
    }
    return wrap<readonly []>(this.graph, this.graph.input(name, []));
  }

  /** The name of a parameter or state tensor; anything else is a user error. */
  private stateName(t: Tensor<Shape>, what: string, kinds: readonly ('param' | 'state')[]): string {
    const node = this.graph.node(t.id);
    const name = node.kind === 'input' ? (node.attrs.name as string) : undefined;
    const isParam = this.params.some((p) => p.name === name);
    const isState = this.states.some((s) => s.name === name);
    if (name === undefined || !((kinds.includes('param') && isParam) || (kinds.includes('state') && isState))) {
      throw new GradcError(`${what} needs a ${kinds.join(' or ')} tensor (m.${kinds.join('/m.')})`, callerLoc(what));
    }
    return name;
  }

  /** Stands for d loss / d param until the compiler differentiates the graph. */
  gradOf<S extends Shape>(param: Tensor<S>): Tensor<S> {
    const name = this.stateName(param, 'gradOf', ['param']);
    return wrap<S>(this.graph, this.graph.input(`${GRAD_PREFIX}${name}`, param.shape));
  }

  /** Declares the value a parameter or state takes after the step. */
  assign<S extends Shape>(target: Tensor<S>, value: Tensor<S>): void {
    this.updates.set(this.stateName(target, 'assign', ['param', 'state']), value.id);
  }
}

export interface ModelOutputs {
  readonly loss: Tensor<readonly []>;
  /** What `predict` returns, e.g. `{ probs: softmax(logits) }`. */
  readonly predictions: Readonly<Record<string, Tensor<Shape>>>;
}

export interface ModelOptions<B extends number> {
  readonly name: string;
  /** Batch size baked into the kernels; `gradc build --batch N` overrides it. */
  readonly batch: B;
  readonly seed?: number;
  readonly optimizer: Optimizer;
  readonly schedule?: LrSchedule;
  readonly build: (m: ModelContext, batch: B) => ModelOutputs;
}

export interface ModelDefinition {
  readonly kind: 'gradc-model';
  readonly name: string;
  readonly batch: number;
  readonly seed: number;
  /** Runs the declaration and returns its plain-data spec. */
  declare(overrides?: { batch?: number; seed?: number }): ModelSpec;
}

export function isModelDefinition(value: unknown): value is ModelDefinition {
  return typeof value === 'object' && value !== null && (value as ModelDefinition).kind === 'gradc-model';
}

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;

export function defineModel<const B extends number>(options: ModelOptions<B>): ModelDefinition {
  if (!NAME_PATTERN.test(options.name)) {
    throw new GradcError(`model name "${options.name}" must match ${NAME_PATTERN}`, callerLoc('defineModel'));
  }
  const seed = options.seed ?? 0;
  return {
    kind: 'gradc-model',
    name: options.name,
    batch: options.batch,
    seed,
    declare: (overrides = {}) =>
      declareModel(options, (overrides.batch ?? options.batch) as B, overrides.seed ?? seed),
  };
}

function declareModel<B extends number>(options: ModelOptions<B>, batch: B, seed: number): ModelSpec {
  const m = new ModelContext();
  const { loss, predictions } = options.build(m, batch);
  if (loss.shape.length !== 0) {
    throw new GradcError(`the loss must be a scalar, got shape [${loss.shape}]`, m.graph.locOf(loss.id));
  }
  const params = m.params.map((p) => new Tensor(m.graph, m.graph.input(p.name, p.shape), p.shape));
  const { optimizer } = options;
  m.graph.withLoc(optimizer.loc, () => {
    for (const p of params) optimizer.update(m, p, m.gradOf(p));
  });
  const outputs: Record<string, NodeId> = { [LOSS_OUTPUT]: loss.id };
  for (const [name, t] of Object.entries(predictions)) outputs[`${PREDICT_PREFIX}${name}`] = t.id;
  for (const [name, id] of m.updates) outputs[`${UPDATE_PREFIX}${name}`] = id;
  const graph = m.graph.finish(outputs);
  return {
    name: options.name,
    batch,
    seed,
    graph,
    data: m.data,
    predictData: dataUsedBy(graph, Object.keys(predictions).map((n) => outputs[`${PREDICT_PREFIX}${n}`]), m.data),
    params: m.params,
    states: m.states,
    hypers: m.hypers,
    predictions: Object.keys(predictions),
    optimizer: options.optimizer.name,
    schedule: options.schedule ?? { kind: 'constant' },
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
