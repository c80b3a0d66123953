/**
 * The artifact: everything the runtime needs from `gradc build`, as plain data. The glue
 * module of each model holds one, with the model's own types around it.
 */
import type {
  DataDecl, HyperDecl, LrSchedule, ModelSpec, ParamDecl, StateDecl,
} from '../dsl/spec.ts';

export type { DataDecl, HyperDecl, LrSchedule, ParamDecl, StateDecl };

/** A buffer of the model: its name, shape, role and the storage it lives in. */
export interface ArtifactBuffer {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly role: 'data' | 'param' | 'state' | 'hyper' | 'temp';
  /** The allocation it lives in; temporaries with disjoint lifetimes share one. */
  readonly storage: number;
}

/** One kernel launch of a program: the kernel and its buffers. */
export interface ArtifactLaunch {
  readonly kernel: string;
  /** Buffer indices: the kernel's inputs, then its output. */
  readonly args: readonly number[];
  /** The graph nodes the kernel computes with their DSL file:line:col, for messages. */
  readonly sources?: readonly string[];
}

/** A named input or output of a program and its buffer. */
export interface ArtifactIO {
  readonly name: string;
  readonly buffer: number;
}

/** A program (train, predict, evaluate): its launches, the data it is fed and what it outputs. */
export interface ArtifactProgram {
  readonly name: string;
  readonly launches: readonly ArtifactLaunch[];
  readonly feeds: readonly ArtifactIO[];
  readonly outputs: readonly ArtifactIO[];
}

/**
 * The model's declarations (its spec without the graph, the node ids of its Hessian-vector
 * products and the mode it was declared in) plus buffers and launch lists.
 * `batch` is always the training batch (`defineModel({ batch })` or `--batch`); `data` holds
 * the shapes the train program is fed (a predict-only build: the shapes predict is fed).
 */
export interface Artifact extends Omit<ModelSpec, 'graph' | 'hessianProducts' | 'training' | 'readsTraining'> {
  readonly buffers: readonly ArtifactBuffer[];
  readonly programs: readonly ArtifactProgram[];
  /**
   * The batch the predict program was compiled at (`gradc build --predict-batch N`). Written
   * in every predict-only build, and in a full build whose predict batch is not `batch`;
   * absent, predict runs at `batch`. The predict feeds' shapes are those of their buffers.
   */
  readonly predictBatch?: number;
  /**
   * A predict-only build (`gradc build --predict-only`): the predict program alone, no train
   * program, gradients, optimizer state or training inputs; hyperparameters only where
   * predict reads them. Absent in a full build.
   */
  readonly predictOnly?: true;
  /** Predict-only builds: the model's optimizer states left out, which `loadWeights` skips. */
  readonly omittedStates?: readonly string[];
}

/** The batch `predict` runs at. */
export function predictBatchOf(artifact: Artifact): number {
  return artifact.predictBatch ?? artifact.batch;
}

/** The shape of what `program` is fed or returns under `name`; undefined when it has none. */
export function programIOShape(
  artifact: Artifact,
  programName: string,
  name: string,
): readonly number[] | undefined {
  const program = artifact.programs.find((p) => p.name === programName);
  const io = program && [...program.feeds, ...program.outputs].find((f) => f.name === name);
  return io && artifact.buffers[io.buffer]?.shape;
}
