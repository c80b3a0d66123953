/**
 * A model ready to run on one backend: buffers allocated once, every kernel bound once, and a
 * step that is only the bound launches in order plus the uploads of the step's data.
 */
import type { Artifact, ArtifactProgram } from './artifact.ts';
import type { Backend, DeviceBuffer, PreparedProgram } from './backend.ts';
import { initialValues } from './init.ts';

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

export class ModelRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelRuntimeError';
  }
}

export class ModelInstance<
  TrainFeeds extends Feeds = Feeds,
  PredictFeeds extends Feeds = Feeds,
  Predictions extends Feeds = Feeds,
  ParamName extends string = string,
> {
  private readonly hyperValues = new Map<string, number>();
  /** Hyperparameters set since their buffers were last written (all of them at first). */
  private readonly staleHypers = new Set<string>();
  /** The program whose feeds last wrote each data input (train and predict share `x`). */
  private readonly lastWriter = new Map<string, string>();

  private constructor(
    readonly artifact: Artifact,
    readonly backend: Backend,
    private readonly buffers: readonly DeviceBuffer[],
    private readonly programs: ReadonlyMap<string, BoundProgram>,
  ) {
    for (const h of artifact.hypers) {
      this.hyperValues.set(h.name, h.value);
      this.staleHypers.add(h.name);
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

  /** Draws every parameter from its initialiser with `seed`; resets optimizer state. */
  initialize(seed: number): void {
    for (const p of this.artifact.params) {
      const { index, size } = this.bufferNamed(p.name);
      this.backend.upload(this.buffers[index], initialValues(p.init, size, seed, p.name));
    }
    for (const s of this.artifact.states) {
      const { index, size } = this.bufferNamed(s.name);
      this.backend.upload(this.buffers[index], new Float32Array(size).fill(s.value));
    }
  }

  /** Sets a fed scalar such as the learning rate `lr` for the following steps. */
  setHyper(name: string, value: number): void {
    if (!this.hyperValues.has(name)) {
      const known = [...this.hyperValues.keys()].join(', ') || 'none';
      throw new ModelRuntimeError(`unknown hyperparameter "${name}" (known: ${known})`);
    }
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
        this.lastWriter.set(name, programName);
      }
    }
    program.prepared.run();
    return program;
  }

  /** Refuses a missing or mis-sized feed, or (without feeds) data another program wrote. */
  private checkFeed(programName: string, name: string, buffer: DeviceBuffer, feeds: Feeds | undefined): void {
    if (!feeds) {
      const writer = this.lastWriter.get(name);
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
    this.run('train', feeds);
  }

  /** The loss of the last step that was enqueued. */
  async lastLoss(): Promise<number> {
    return (await this.backend.download(this.programs.get('train')!.outputs.get('loss')!))[0];
  }

  /** One optimisation step on one batch (without feeds: the last one); returns its loss. */
  async trainStep(feeds?: TrainFeeds): Promise<number> {
    this.enqueueTrainStep(feeds);
    return this.lastLoss();
  }

  /** The predictions for one batch. */
  async predict(feeds: PredictFeeds): Promise<Predictions> {
    const program = this.run('predict', feeds);
    const out: Record<string, Float32Array> = {};
    for (const [name, buffer] of program.outputs) {
      out[name.replace(/^predict:/, '')] = await this.backend.download(buffer);
    }
    return out as unknown as Predictions;
  }

  getParam(name: ParamName): Promise<Float32Array> {
    return this.backend.download(this.buffers[this.bufferNamed(name).index]);
  }

  setParam(name: ParamName, value: Float32Array): void {
    const { index, size } = this.bufferNamed(name);
    if (value.length !== size) throw new ModelRuntimeError(`${name} needs ${size} values, got ${value.length}`);
    this.backend.upload(this.buffers[index], value);
  }

  /** Every parameter and state by name (a checkpoint's contents). */
  async snapshot(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const d of [...this.artifact.params, ...this.artifact.states]) {
      out[d.name] = await this.getParam(d.name as ParamName);
    }
    return out;
  }

  /** Sets every parameter and state from `values`; checks all of them before changing any. */
  restore(values: Readonly<Record<string, Float32Array>>): void {
    const expected = [...this.artifact.params, ...this.artifact.states];
    for (const d of expected) {
      const value = Object.hasOwn(values, d.name) ? values[d.name] : undefined;
      const size = this.bufferNamed(d.name).size;
      if (!value) throw new ModelRuntimeError(`the checkpoint has no "${d.name}"`);
      if (value.length !== size) {
        throw new ModelRuntimeError(`"${d.name}" has ${value.length} values in the checkpoint, the model needs ${size}`);
      }
    }
    for (const d of expected) this.setParam(d.name as ParamName, values[d.name]);
  }

  /** Shapes of the parameters and states, for checkpoint headers. */
  stateShapes(): Record<string, readonly number[]> {
    const out: Record<string, readonly number[]> = {};
    for (const d of [...this.artifact.params, ...this.artifact.states]) out[d.name] = d.shape;
    return out;
  }

  dispose(): void {
    this.backend.dispose();
  }
}
