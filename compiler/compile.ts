/** The compiler pipeline up to the schedule: spec -> graphs -> autodiff -> passes -> schedule -> memory plan. */
import type { Graph, Shape, SourceLoc } from './ir/types.ts';
import { formatLoc } from './ir/types.ts';
import type { ModelSpec, ParamDecl } from '../dsl/spec.ts';
import type { BufferRole, Schedule } from './codegen/kernel-ir.ts';
import { buildEvaluateGraph, buildPredictGraph, lowerModel } from './lower-model.ts';
import type { PassReport } from './passes/index.ts';
import { optimize } from './passes/index.ts';
import { schedule } from './schedule.ts';
import { planMemory } from './memory.ts';
import { GradcError } from './errors.ts';

/** One program's optimised graph and what each pass did to it. */
export interface CompiledProgramGraph {
  readonly name: 'train' | 'predict' | 'evaluate';
  readonly graph: Graph;
  readonly reports: readonly PassReport[];
}

/** Something that builds but is probably not what the user meant, at their line. */
export interface BuildWarning {
  readonly message: string;
  readonly loc: SourceLoc | undefined;
}

/** `model.ts:12:7: message`: a warning at the user's line. */
export function formatWarning(w: BuildWarning): string {
  return w.loc ? `${formatLoc(w.loc)}: ${w.message}` : w.message;
}

/** A compiled model: its spec, optimised graphs, schedule and warnings. */
export interface CompiledModel {
  /**
   * What the build holds. A full build: the model as declared at its training batch. A
   * predict-only build: the declarations `predict` uses (its data at the predict batch, every
   * parameter, the states and hyperparameters it reads), `batch` still the training batch.
   */
  readonly spec: ModelSpec;
  readonly graphs: readonly CompiledProgramGraph[];
  readonly schedule: Schedule;
  /** One per parameter that never reaches the loss (no gradient: it does not train). */
  readonly warnings: readonly BuildWarning[];
  /** The batch the predict program runs at: `spec.batch` unless compiled with another. */
  readonly predictBatch: number;
  /** Only the predict program was compiled (no train program, gradients or optimizer). */
  readonly predictOnly: boolean;
  /** Predict-only builds: the declared states left out, which `loadWeights` skips. */
  readonly omittedStates: readonly string[];
}

/** Compile the predict program at another batch, or alone (predict-only). */
export interface CompileOptions {
  /**
   * The model declared at the batch `predict` runs at (`declare({ batch: N })`): its predict
   * graph is compiled instead of `spec`'s. Its parameters must be `spec`'s, shapes included.
   */
  readonly predictSpec?: ModelSpec;
  /** Compile the predict program alone. */
  readonly predictOnly?: boolean;
}

/** Buffer roles by input name, in a record without a prototype (names key it). */
export function inputRoles(spec: ModelSpec): Record<string, BufferRole> {
  const roles = Object.create(null) as Record<string, BufferRole>;
  for (const d of spec.data) roles[d.name] = 'data';
  for (const p of spec.params) roles[p.name] = 'param';
  for (const s of spec.states) roles[s.name] = 'state';
  for (const h of spec.hypers) roles[h.name] = 'hyper';
  return roles;
}

/** Where each parameter was declared: the location of its input node in the spec's graph. */
function paramLoc(spec: ModelSpec, name: string): SourceLoc | undefined {
  const id = spec.graph.nodes.findIndex((n) => n.kind === 'input' && n.attrs.name === name);
  return id >= 0 ? spec.graph.locs[id] : undefined;
}

const formatShape = (shape: Shape) => `[${shape.join(', ')}]`;

/**
 * Refuses a predict declaration whose parameters or predictions are not the training
 * declaration's: the two programs share the parameters, so their shapes must not depend on
 * the batch.
 */
function checkPredictSpec(spec: ModelSpec, predict: ModelSpec): void {
  const at = (s: ModelSpec) => (s === predict ? `predict batch ${predict.batch}` : `training batch ${spec.batch}`);
  const byName = (params: readonly ParamDecl[]) => new Map(params.map((p) => [p.name, p]));
  const train = byName(spec.params);
  const other = byName(predict.params);
  for (const [from, to, s] of [[train, other, predict], [other, train, spec]] as const) {
    for (const name of from.keys()) {
      if (!to.has(name)) {
        throw new GradcError(`model ${spec.name}: parameter "${name}" is not declared at ${at(s)}; parameters must not depend on the batch`);
      }
    }
  }
  for (const p of spec.params) {
    const q = other.get(p.name)!;
    if (formatShape(p.shape) !== formatShape(q.shape)) {
      throw new GradcError(
        `model ${spec.name}: parameter "${p.name}" has shape ${formatShape(q.shape)} at ${at(predict)} but ` +
          `${formatShape(p.shape)} at ${at(spec)}; parameter shapes must not depend on the batch`,
      );
    }
    if (JSON.stringify(p.init) !== JSON.stringify(q.init)) {
      throw new GradcError(
        `model ${spec.name}: parameter "${p.name}" is initialised otherwise at ${at(predict)} than at ` +
          `${at(spec)}; initialisers must not depend on the batch`,
      );
    }
  }
  const same = (f: (s: ModelSpec) => unknown) => JSON.stringify(f(spec)) === JSON.stringify(f(predict));
  if (!same((s) => s.predictions) || !same((s) => s.predictData)) {
    throw new GradcError(`model ${spec.name}: the predictions or their inputs differ between ${at(spec)} and ${at(predict)}`);
  }
}

/** Names of the inputs a graph reads. */
function inputsOf(graph: Graph): Set<string> {
  return new Set(graph.nodes.filter((n) => n.kind === 'input').map((n) => n.attrs.name as string));
}

/** The declarations a predict-only build keeps: what the predict graph reads, every parameter. */
function predictOnlySpec(spec: ModelSpec, predict: ModelSpec, graph: Graph): ModelSpec {
  const read = inputsOf(graph);
  return {
    ...spec,
    graph: predict.graph,
    hessianProducts: predict.hessianProducts,
    data: predict.data.filter((d) => predict.predictData.includes(d.name)),
    predictData: predict.predictData,
    states: spec.states.filter((s) => read.has(s.name)),
    hypers: spec.hypers.filter((h) => read.has(h.name)),
  };
}

/** Compiles a model's spec: graphs, autodiff, passes, schedule and memory plan. */
export function compileModel(spec: ModelSpec, options: CompileOptions = {}): CompiledModel {
  const predictSpec = options.predictSpec ?? spec;
  if (predictSpec !== spec) checkPredictSpec(spec, predictSpec);
  const predictOnly = options.predictOnly ?? false;
  const common = { predictBatch: predictSpec.batch, predictOnly };
  if (predictOnly) {
    const { graph, reports } = optimize(buildPredictGraph(predictSpec));
    const kept = predictOnlySpec(spec, predictSpec, graph);
    // Every parameter gets its buffer, read or not, so the model's weights load whole.
    const params = spec.params.map((p) => ({ name: p.name, shape: p.shape }));
    const planned = planMemory(schedule([{ name: 'predict', graph }], inputRoles(kept), params));
    const omittedStates = spec.states.map((s) => s.name).filter((n) => !kept.states.some((s) => s.name === n));
    const graphs = [{ name: 'predict' as const, graph, reports }];
    return { spec: kept, graphs, schedule: planned, warnings: [], ...common, omittedStates };
  }
  const lowered = lowerModel(spec);
  // Evaluation runs at the training batch, on the training program's data buffers.
  const programs = { train: lowered.train, predict: buildPredictGraph(predictSpec), evaluate: buildEvaluateGraph(spec) };
  const graphs = (['train', 'predict', 'evaluate'] as const).map((name) => {
    const { graph, reports } = optimize(programs[name]);
    return { name, graph, reports };
  });
  const warnings = lowered.untrained.map((name) => ({
    message: `param ${JSON.stringify(name)} never reaches the loss, so it gets no gradient and does not train`,
    loc: paramLoc(spec, name),
  }));
  const planned = planMemory(schedule(graphs, inputRoles(spec)));
  return { spec, graphs, schedule: planned, warnings, ...common, omittedStates: [] };
}
