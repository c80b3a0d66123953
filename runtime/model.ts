/**
 * A model ready to run on one backend: buffers allocated once, every kernel bound once, and a
 * step that is only the bound launches in order plus the uploads of the step's data.
 */
import type { Artifact, ArtifactProgram } from '../artifact/format.ts';
import type { Backend, DeviceBuffer, PreparedProgram } from './backend.ts';
import { initialValues } from './init.ts';
import { learningRateAt } from './lr-schedule.ts';
import { LR_HYPER, LOSS_OUTPUT, predictionName } from '../dsl/spec.ts';
import type { Tensor, Tensors } from './safetensors.ts';
import { quoteName } from './safetensors.ts';

/** A parameter or state declaration, as far as checkpoints need it. */
interface Declared {
  readonly name: string;
  readonly shape: readonly number[];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((n, i) => n === b[i]);
}

function formatShape(shape: readonly number[]): string {
  return Array.isArray(shape) ? `[${shape.join(', ')}]` : String(shape);
}

/**
 * The states the predict program reads, such as batch normalisation's running statistics: a
 * model's weights hold them with its parameters, unlike optimizer state, which only training
 * reads.
 */
function predictStates(artifact: Artifact): Artifact['states'] {
  const predict = artifact.programs.find((p) => p.name === 'predict');
  const read = new Set(predict?.launches.flatMap((l) => l.args.map((b) => artifact.buffers[b]?.name)) ?? []);
  return artifact.states.filter((s) => read.has(s.name));
}

/** Names for a message, quoted and cut after the first eight. */
function quoteList(names: readonly string[]): string {
  const shown = names.slice(0, 8).map(quoteName).join(', ');
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

/** Float32 data per name, as a generated glue module types it. */
export type Feeds = Readonly<Record<string, Float32Array>>;

interface BoundProgram {
  readonly prepared: PreparedProgram;
  /** The program's fed buffers, split once: data the caller passes, hyperparameters it sets. */
  readonly data: readonly (readonly [string, DeviceBuffer])[];
  readonly hypers: readonly (readonly [string, DeviceBuffer])[];
  readonly outputs: ReadonlyMap<string, DeviceBuffer>;
}

async function prepareProgram(
  backend: Backend,
  buffers: readonly DeviceBuffer[],
  program: ArtifactProgram,
  hyperNames: ReadonlySet<string>,
): Promise<BoundProgram> {
  const launches = program.launches.map((l) => ({ kernel: l.kernel, args: l.args.map((a) => buffers[a]) }));
  const fed = program.feeds.map((io) => [io.name, buffers[io.buffer]] as const);
  return {
    prepared: await backend.prepare(launches),
    data: fed.filter(([name]) => !hyperNames.has(name)),
    hypers: fed.filter(([name]) => hyperNames.has(name)),
    outputs: new Map(program.outputs.map((io) => [io.name, buffers[io.buffer]] as const)),
  };
}

/**
 * One allocation per storage, as large as its largest buffer; each buffer is the allocation of
 * its storage (temporaries with disjoint lifetimes share one, compiler/memory.ts).
 */
export function allocateStorages<T>(
  buffers: readonly { readonly storage: number; readonly size: number }[],
  allocate: (size: number) => T,
): T[] {
  const sizes = new Map<number, number>();
  for (const b of buffers) {
    if (!Number.isInteger(b.storage) || b.storage < 0) {
      throw new ModelRuntimeError(
        'a buffer of the artifact names no storage: the glue module predates memory planning; ' +
          'build the model again with gradc build',
      );
    }
    sizes.set(b.storage, Math.max(sizes.get(b.storage) ?? 0, b.size));
  }
  const storages = new Map([...sizes].map(([storage, size]) => [storage, allocate(size)]));
  return buffers.map((b) => storages.get(b.storage)!);
}

/** A mistake in how a model is used at run time (a missing feed, a wrong size, a refused checkpoint). */
export class ModelRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelRuntimeError';
  }
}

/** The loss or a kernel's output became NaN or infinite: training diverged. */
export class DivergenceError extends ModelRuntimeError {
  constructor(message: string) {
    super(message);
    this.name = 'DivergenceError';
  }
}

/** The index of the first NaN or infinity in `values`, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** A generated model opened on a backend: train steps, predictions, evaluation, parameters and checkpoints. */
export class ModelInstance<
  TrainFeeds extends Feeds = Feeds,
  PredictFeeds extends Feeds = Feeds,
  Predictions extends Feeds = Feeds,
  ParamName extends string = string,
> {
  private readonly hyperValues = new Map<string, number>();
  /** Hyperparameters set since their buffers were last written (all of them at first). */
  private readonly staleHypers = new Set<string>();
  /**
   * The program whose feeds last wrote each data buffer (train and predict share `x`, unless
   * predict was compiled at another batch).
   */
  private readonly lastWriter = new Map<DeviceBuffer, string>();
  /** The schedule's base learning rate (the `lr` hyperparameter's value) and the steps taken. */
  private baseLearningRate: number | undefined;
  private steps = 0;
  /** The train program's launches prepared one by one, for checkedTrainStep. */
  private singleLaunches: PreparedProgram[] | undefined;

  private constructor(
    readonly artifact: Artifact,
    readonly backend: Backend,
    private readonly buffers: readonly DeviceBuffer[],
    private readonly programs: ReadonlyMap<string, BoundProgram>,
  ) {
    for (const h of artifact.hypers) {
      this.hyperValues.set(h.name, h.value);
      this.staleHypers.add(h.name);
      if (h.name === LR_HYPER) this.baseLearningRate = h.value;
    }
    this.initialize(artifact.seed);
  }

  /** Allocates every buffer, prepares every program and initialises the parameters. */
  static async open<
    T extends Feeds = Feeds,
    P extends Feeds = Feeds,
    R extends Feeds = Feeds,
    N extends string = string,
  >(artifact: Artifact, backend: Backend): Promise<ModelInstance<T, P, R, N>> {
    const buffers = allocateStorages(artifact.buffers, (size) => backend.allocate(size));
    const programs = new Map<string, BoundProgram>();
    const hyperNames = new Set(artifact.hypers.map((h) => h.name));
    for (const program of artifact.programs) {
      programs.set(program.name, await prepareProgram(backend, buffers, program, hyperNames));
    }
    return new ModelInstance<T, P, R, N>(artifact, backend, buffers, programs);
  }

  private bufferNamed(name: string): { index: number; size: number } {
    const index = this.artifact.buffers.findIndex((b) => b.name === name && b.role !== 'temp');
    if (index < 0) throw new ModelRuntimeError(`model ${this.artifact.name} has no parameter or state "${name}"`);
    return { index, size: this.artifact.buffers[index].size };
  }

  /**
   * Train steps taken since the model was opened (or set for a resumed run): the position in
   * the learning-rate schedule.
   */
  get stepsTaken(): number {
    return this.steps;
  }

  set stepsTaken(steps: number) {
    if (!Number.isSafeInteger(steps) || steps < 0) {
      throw new ModelRuntimeError(`stepsTaken must be a non-negative integer, got ${steps}`);
    }
    this.steps = steps;
  }

  /** The learning rate the next train step uses: the model's schedule at `stepsTaken`. */
  get learningRate(): number | undefined {
    const base = this.baseLearningRate;
    return base === undefined ? undefined : learningRateAt(this.artifact.schedule, base, this.steps);
  }

  /** Draws every parameter from its initialiser with `seed`; resets optimizer state and the step count. */
  initialize(seed: number): void {
    this.steps = 0;
    for (const p of this.artifact.params) {
      const { index, size } = this.bufferNamed(p.name);
      this.backend.upload(this.buffers[index], initialValues(p.init, size, seed, p.name));
    }
    for (const s of this.artifact.states) {
      const { index, size } = this.bufferNamed(s.name);
      this.backend.upload(this.buffers[index], new Float32Array(size).fill(s.value));
    }
  }

  /**
   * Sets a fed scalar for the following steps. The learning rate `lr` is the base rate of the
   * model's schedule: each train step uses the schedule's rate at its step from this base.
   */
  setHyper(name: string, value: number): void {
    if (!this.hyperValues.has(name)) {
      const known = [...this.hyperValues.keys()].join(', ') || 'none';
      throw new ModelRuntimeError(`unknown hyperparameter "${name}" (known: ${known})`);
    }
    if (!Number.isFinite(value)) {
      throw new ModelRuntimeError(`hyperparameter "${name}" must be a finite number, got ${value}`);
    }
    if (name === LR_HYPER) {
      this.baseLearningRate = value;
      return;
    }
    this.setHyperValue(name, value);
  }

  private setHyperValue(name: string, value: number): void {
    if (this.hyperValues.get(name) === value) return;
    this.hyperValues.set(name, value);
    this.staleHypers.add(name);
  }

  /**
   * Runs a program after uploading its feeds. Without `feeds`, it runs on the data already on
   * the device, which must have been uploaded by a run of the same program (inputs such as `x`
   * are shared by train and predict).
   */
  private run(programName: string, feeds?: Feeds): BoundProgram {
    const program = this.stage(programName, feeds);
    program.prepared.run();
    return program;
  }

  /** Checks and uploads a program's feeds and stale hyperparameters, ready to run it. */
  private stage(programName: string, feeds?: Feeds): BoundProgram {
    const program = this.programs.get(programName);
    if (!program) throw new ModelRuntimeError(`model ${this.artifact.name} has no ${programName} program`);
    // Every feed is checked before any is uploaded, so a refused call changes nothing.
    for (const [name, buffer] of program.data) this.checkFeed(programName, name, buffer, feeds);
    for (const [name, buffer] of program.hypers) {
      // A hyperparameter's buffer is shared by every program: written once per change.
      if (this.staleHypers.delete(name)) this.backend.upload(buffer, Float32Array.of(this.hyperValues.get(name)!));
    }
    if (feeds) {
      for (const [name, buffer] of program.data) {
        this.backend.upload(buffer, feeds[name]);
        this.lastWriter.set(buffer, programName);
      }
    }
    return program;
  }

  /** Refuses a missing or mis-sized feed, or (without feeds) data another program wrote. */
  private checkFeed(programName: string, name: string, buffer: DeviceBuffer, feeds: Feeds | undefined): void {
    if (!feeds) {
      const writer = this.lastWriter.get(buffer);
      if (writer === programName) return;
      throw new ModelRuntimeError(
        `${programName}: input "${name}" ` +
          (writer ? `was last written by ${writer}` : 'was never uploaded') +
          '; pass the feeds to run on new data',
      );
    }
    // Own properties only: an input named `constructor` is not Object.prototype's.
    const value = Object.hasOwn(feeds, name) ? feeds[name] : undefined;
    if (!value) throw new ModelRuntimeError(`${programName}: missing input "${name}"`);
    if (value.length !== buffer.size) {
      throw new ModelRuntimeError(`${programName}: input "${name}" needs ${buffer.size} values, got ${value.length}`);
    }
  }

  /**
   * Enqueues one optimisation step on one batch without reading anything back. Without
   * `feeds`, the step reuses the batch the previous train step uploaded, already on the
   * device (for benchmarks and repeated steps on one batch).
   */
  enqueueTrainStep(feeds?: TrainFeeds): void {
    this.refusePredictOnly('enqueueTrainStep');
    const lr = this.learningRate;
    if (lr !== undefined) this.setHyperValue(LR_HYPER, lr);
    this.run('train', feeds);
    this.steps++;
  }

  /**
   * One train step that reads back every kernel's output and stops at the first NaN or
   * infinity, naming the kernel and the DSL lines it computes (`where` says which step, for
   * the message). Slow; for finding where a diverging model first breaks.
   */
  async checkedTrainStep(feeds: TrainFeeds, where = 'a train step'): Promise<number> {
    this.refusePredictOnly('checkedTrainStep');
    const lr = this.learningRate;
    if (lr !== undefined) this.setHyperValue(LR_HYPER, lr);
    this.stage('train', feeds);
    const program = this.artifact.programs.find((p) => p.name === 'train')!;
    this.singleLaunches ??= await Promise.all(
      program.launches.map((l) => this.backend.prepare([{ kernel: l.kernel, args: l.args.map((a) => this.buffers[a]) }])),
    );
    for (const [i, launch] of program.launches.entries()) {
      this.singleLaunches[i].run();
      const output = this.buffers[launch.args[launch.args.length - 1]];
      const values = await this.backend.download(output);
      const bad = firstNonFinite(values);
      if (bad >= 0) {
        const computes = launch.sources?.length ? `; it computes ${launch.sources.join('; ')}` : '';
        throw new DivergenceError(
          `${where}: kernel ${launch.kernel} wrote ${values[bad]} at element ${bad}${computes}`,
        );
      }
    }
    this.steps++;
    return this.lastLoss();
  }

  /** The loss of the last step that was enqueued. */
  async lastLoss(): Promise<number> {
    this.refusePredictOnly('lastLoss');
    return (await this.backend.download(this.programs.get('train')!.outputs.get(LOSS_OUTPUT)!))[0];
  }

  /** One optimisation step on one batch (without feeds: the last one); returns its loss. */
  async trainStep(feeds?: TrainFeeds): Promise<number> {
    this.refusePredictOnly('trainStep');
    this.enqueueTrainStep(feeds);
    return this.lastLoss();
  }

  /** The loss on one batch, without training (no gradients, nothing updated). */
  async evaluateLoss(feeds: TrainFeeds): Promise<number> {
    this.refusePredictOnly('evaluateLoss', 'its loss needs the training inputs');
    const program = this.run('evaluate', feeds);
    return (await this.backend.download(program.outputs.get(LOSS_OUTPUT)!))[0];
  }

  /** The predictions for one batch. */
  async predict(feeds: PredictFeeds): Promise<Predictions> {
    const program = this.run('predict', feeds);
    const out: Record<string, Float32Array> = {};
    for (const [name, buffer] of program.outputs) {
      out[predictionName(name)] = await this.backend.download(buffer);
    }
    return out as unknown as Predictions;
  }

/** A parameter's or state's values, read from the device. */
  getParam(name: ParamName): Promise<Float32Array> {
    return this.backend.download(this.buffers[this.bufferNamed(name).index]);
  }

/** Writes a parameter's or state's values to the device. */
  setParam(name: ParamName, value: Float32Array): void {
    const { index, size } = this.bufferNamed(name);
    if (value.length !== size) throw new ModelRuntimeError(`${name} needs ${size} values, got ${value.length}`);
    this.backend.upload(this.buffers[index], value);
  }

  /** Every parameter and optimizer state with its shape: a checkpoint's tensors. */
  snapshot(): Promise<Tensors> {
    this.refusePredictOnly('snapshot', 'save its parameters with weights()');
    return this.download([...this.artifact.params, ...this.artifact.states]);
  }

  /**
   * Every parameter, and every state predict reads (batch normalisation's running statistics),
   * with its shape: a weights file's tensors.
   */
  weights(): Promise<Tensors> {
    return this.download([...this.artifact.params, ...predictStates(this.artifact)]);
  }

  /**
   * Sets every parameter and optimizer state from a checkpoint's tensors. Each must be there
   * with the model's shape, and no other tensor may be; nothing changes unless all check.
   */
  restore(tensors: Tensors): void {
    this.refusePredictOnly('restore', 'set its parameters with loadWeights()');
    this.assign(tensors, [...this.artifact.params, ...this.artifact.states], new Set(), 'checkpoint');
  }

  /**
   * Sets every parameter, and every state predict reads, from weights, leaving the optimizer
   * state as it is. Each must be there with the model's shape; the model's optimizer states are
   * ignored (so a checkpoint's tensors load as weights) and any other tensor is refused.
   * Nothing changes unless all check.
   */
  loadWeights(tensors: Tensors): void {
    const kept = predictStates(this.artifact);
    const others = this.artifact.states.filter((s) => !kept.includes(s)).map((s) => s.name);
    const ignored = new Set([...others, ...(this.artifact.omittedStates ?? [])]);
    this.assign(tensors, [...this.artifact.params, ...kept], ignored, 'weights');
  }

  /** Refuses what needs the train program or optimizer state in a predict-only build. */
  private refusePredictOnly(what: string, instead = 'build it without --predict-only to train'): void {
    if (this.artifact.predictOnly !== true) return;
    throw new ModelRuntimeError(
      `${what}: model ${this.artifact.name} is a predict-only build, without a train program or ` +
        `optimizer state; ${instead}`,
    );
  }

  private async download(decls: readonly Declared[]): Promise<Tensors> {
    const out: Record<string, Tensor> = Object.create(null);
    for (const d of decls) out[d.name] = { shape: [...d.shape], data: await this.getParam(d.name as ParamName) };
    return out;
  }

  /** Checks `tensors` against `expected` (names, shapes, sizes), then uploads them. */
  private assign(tensors: Tensors, expected: readonly Declared[], ignored: ReadonlySet<string>, what: string): void {
    const model = `model ${this.artifact.name}`;
    const names = new Set(expected.map((d) => d.name));
    const unexpected = Object.keys(tensors).filter((n) => !names.has(n) && !ignored.has(n));
    if (unexpected.length > 0) {
      throw new ModelRuntimeError(`tensors in the ${what} that ${model} does not have: ${quoteList(unexpected)}`);
    }
    const missing = expected.filter((d) => !Object.hasOwn(tensors, d.name) || !tensors[d.name]).map((d) => d.name);
    if (missing.length > 0) throw new ModelRuntimeError(`tensors of ${model} missing from the ${what}: ${quoteList(missing)}`);
    for (const d of expected) {
      const { shape, data } = tensors[d.name];
      const size = this.bufferNamed(d.name).size;
      if (!sameShape(shape, d.shape)) {
        throw new ModelRuntimeError(
          `"${d.name}" has shape ${formatShape(shape)} in the ${what}, ${model} needs ${formatShape(d.shape)}`,
        );
      }
      if (!(data instanceof Float32Array) || data.length !== size) {
        throw new ModelRuntimeError(`"${d.name}" has ${data?.length} values in the ${what}, ${model} needs ${size}`);
      }
    }
    for (const d of expected) this.setParam(d.name as ParamName, tensors[d.name].data);
  }

/** Frees the model's buffers and its backend. */
  dispose(): void {
    this.backend.dispose();
  }
}
