/** The compiler pipeline up to the schedule: spec -> graphs -> autodiff -> passes -> schedule -> memory plan. */
import type { Graph, SourceLoc } from './ir/types.ts';
import { formatLoc } from './ir/types.ts';
import type { ModelSpec } from '../dsl/spec.ts';
import type { BufferRole, Schedule } from './codegen/kernel-ir.ts';
import { lowerModel } from './lower-model.ts';
import type { PassReport } from './passes/index.ts';
import { optimize } from './passes/index.ts';
import { schedule } from './schedule.ts';
import { planMemory } from './memory.ts';

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

export function formatWarning(w: BuildWarning): string {
  return w.loc ? `${formatLoc(w.loc)}: ${w.message}` : w.message;
}

export interface CompiledModel {
  readonly spec: ModelSpec;
  readonly graphs: readonly CompiledProgramGraph[];
  readonly schedule: Schedule;
  /** One per parameter that never reaches the loss (no gradient: it does not train). */
  readonly warnings: readonly BuildWarning[];
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

export function compileModel(spec: ModelSpec): CompiledModel {
  const lowered = lowerModel(spec);
  const graphs = (['train', 'predict', 'evaluate'] as const).map((name) => {
    const { graph, reports } = optimize(lowered[name]);
    return { name, graph, reports };
  });
  const warnings = lowered.untrained.map((name) => ({
    message: `param ${JSON.stringify(name)} never reaches the loss, so it gets no gradient and does not train`,
    loc: paramLoc(spec, name),
  }));
  return { spec, graphs, schedule: planMemory(schedule(graphs, inputRoles(spec))), warnings };
}
