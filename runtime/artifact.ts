/**
 * The artifact: everything the runtime needs from `gradc build`, as plain data. The glue
 * module of each model holds one, with the model's own types around it.
 */
import type { DataDecl, HyperDecl, LrSchedule, ParamDecl, StateDecl } from '../dsl/spec.ts';

export type { DataDecl, HyperDecl, LrSchedule, ParamDecl, StateDecl };

export interface ArtifactBuffer {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly role: 'data' | 'param' | 'state' | 'hyper' | 'temp';
}

export interface ArtifactLaunch {
  readonly kernel: string;
  /** Buffer indices: the kernel's inputs, then its output. */
  readonly args: readonly number[];
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

export interface Artifact {
  readonly name: string;
  readonly batch: number;
  readonly seed: number;
  readonly optimizer: string;
  readonly schedule: LrSchedule;
  readonly data: readonly DataDecl[];
  readonly predictData: readonly string[];
  readonly params: readonly ParamDecl[];
  readonly states: readonly StateDecl[];
  readonly hypers: readonly HyperDecl[];
  readonly predictions: readonly string[];
  readonly buffers: readonly ArtifactBuffer[];
  readonly programs: readonly ArtifactProgram[];
}
