/** The compiler pipeline up to the schedule: spec -> graphs -> autodiff -> passes -> schedule -> memory plan. */
import type { Graph } from './ir/types.ts';
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

export interface CompiledModel {
  readonly spec: ModelSpec;
  readonly graphs: readonly CompiledProgramGraph[];
  readonly schedule: Schedule;
}

export function inputRoles(spec: ModelSpec): Record<string, BufferRole> {
  const roles: Record<string, BufferRole> = {};
  for (const d of spec.data) roles[d.name] = 'data';
  for (const p of spec.params) roles[p.name] = 'param';
  for (const s of spec.states) roles[s.name] = 'state';
  for (const h of spec.hypers) roles[h.name] = 'hyper';
  return roles;
}

export function compileModel(spec: ModelSpec): CompiledModel {
  const lowered = lowerModel(spec);
  const graphs = (['train', 'predict', 'evaluate'] as const).map((name) => {
    const { graph, reports } = optimize(lowered[name]);
    return { name, graph, reports };
  });
  return { spec, graphs, schedule: planMemory(schedule(graphs, inputRoles(spec))) };
}
