/**
 * The artifact: everything the runtime needs from `gradc build`, as plain data. The glue
 * module of each model holds one, with the model's own types around it.
 */
import type {
  DataDecl, HyperDecl, LrSchedule, ModelSpec, ParamDecl, StateDecl,
} from '../dsl/spec.ts';

export type { DataDecl, HyperDecl, LrSchedule, ParamDecl, StateDecl };

export interface ArtifactBuffer {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly role: 'data' | 'param' | 'state' | 'hyper' | 'temp';
  /** The allocation it lives in; temporaries with disjoint lifetimes share one. */
  readonly storage: number;
}

export interface ArtifactLaunch {
  readonly kernel: string;
  /** Buffer indices: the kernel's inputs, then its output. */
  readonly args: readonly number[];
  /** The graph nodes the kernel computes with their DSL file:line:col, for messages. */
  readonly sources?: readonly string[];
}

export interface ArtifactIO {
  readonly name: string;
  readonly buffer: number;
}

export interface ArtifactProgram {
  readonly name: string;
  readonly launches: readonly ArtifactLaunch[];
  readonly feeds: readonly ArtifactIO[];
  readonly outputs: readonly ArtifactIO[];
}

/** The model's declarations (its spec without the graph) plus buffers and launch lists. */
export interface Artifact extends Omit<ModelSpec, 'graph'> {
  readonly buffers: readonly ArtifactBuffer[];
  readonly programs: readonly ArtifactProgram[];
}
