/**
 * `gradc train <model.ts>`: build (into gradc's cache, unless --out), then train on MNIST or
 * on the user's data with a progress bar per epoch; optionally save a checkpoint and the
 * history after every epoch.
 */
import { resolve } from 'node:path';
import type { BackendKind } from '../artifact/kernels.ts';
import { BACKEND_KINDS } from '../artifact/kernels.ts';
import type { EpochRecord, FitResult, TrainProgress } from '../runtime/fit.ts';
import { fit } from '../runtime/fit.ts';
import type { ModelInstance } from '../runtime/model.ts';
import type { Checkpoint } from '../runtime/checkpoint.ts';
import { CheckpointError } from '../runtime/checkpoint.ts';
import { loadCheckpoint, saveCheckpoint, writeFileAtomically } from '../runtime/checkpoint-file.ts';
import { checkOutDir } from '../compiler/build-cache.ts';
import { TARGET_OF_BACKEND } from '../compiler/codegen/targets.ts';
import { UsageError, intOption, numberOption, parseCommand, seedOption } from './main.ts';
import { parseCudaArchs } from './build-command.ts';
import { checkWritableFile } from './output-paths.ts';
import { loadTrainData } from './train-data.ts';

export const TRAIN_OPTIONS = {
  backend: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  data: { type: 'string' },
  target: { type: 'string' },
  validation: { type: 'string' },
  'validation-split': { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  patience: { type: 'string' },
  out: { type: 'string' },
  history: { type: 'string' },
  checkpoint: { type: 'string' },
  resume: { type: 'string' },
  'check-finite': { type: 'boolean' },
  prediction: { type: 'string' },
  'cuda-arch': { type: 'string' },
} as const;

/**
 * The checkpoint (or weights) to resume from, refused when it names another model; a
 * safetensors file of another tool names none, and the model's shapes decide.
 */
function checkModelOf(checkpoint: Checkpoint, path: string, modelName: string): Checkpoint {
  if (checkpoint.model !== undefined && checkpoint.model !== modelName) {
    const what = checkpoint.kind === 'weights' ? 'weights' : 'a checkpoint';
    throw new CheckpointError(`${path}: ${what} of model "${checkpoint.model}", not of "${modelName}"`);
  }
  return checkpoint;
}

function fraction(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new UsageError(`--validation-split needs a fraction between 0 and 1, got "${value}"`);
  return n;
}

/** What a finished run prints last: training loss and the validation figures. */
function summary(result: FitResult): string {
  const last: EpochRecord | undefined = result.history[result.history.length - 1];
  if (!last) return 'final: no epoch trained';
  const v = last.validation;
  const parts = [
    v?.accuracy !== undefined ? `validation accuracy ${(v.accuracy * 100).toFixed(2)}%` : undefined,
    v?.loss !== undefined ? `validation loss ${v.loss.toFixed(4)}` : undefined,
    v?.mse !== undefined ? `validation MSE ${v.mse.toPrecision(4)}` : undefined,
    v?.mae !== undefined ? `validation MAE ${v.mae.toPrecision(4)}` : undefined,
    `train loss ${last.loss.toFixed(4)}`,
  ];
  return `final: ${parts.filter(Boolean).join(', ')}${result.stoppedEarly ? ' (stopped early)' : ''}`;
}

/** Restores a checkpoint, or loads the parameters of a weights file; says what it did. */
function restoreFrom(model: ModelInstance, resumed: Checkpoint, path: string, epochs: number): void {
  // A checkpoint sets the optimizer state too; weights leave it as initialised.
  if (resumed.kind === 'checkpoint') model.restore(resumed.tensors);
  else model.loadWeights(resumed.tensors);
  const done = resumed.progress?.epochsDone ?? 0;
  console.log(
    resumed.progress
      ? `resuming after epoch ${done} (step ${resumed.progress.stepsDone}) of ${path}`
      : `${path} holds no training progress: its parameters are restored, training starts at epoch 1`,
  );
  if (epochs <= done) console.log(`the checkpoint already holds ${done} epochs, --epochs ${epochs}: nothing to train`);
}

/** How many steps `fit` trains between loss reads: a GPU runs ahead between reads; the host backends read every step for free. */
export function lossReadInterval(backend: BackendKind): number {
  return backend === 'webgpu' || backend === 'cuda' ? 10 : 1;
}

export async function trainCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, TRAIN_OPTIONS);
  if (positionals.length !== 1) throw new UsageError('gradc train takes one model file');
  const backend = (values.backend ?? 'c') as BackendKind;
  if (!BACKEND_KINDS.includes(backend)) {
    throw new UsageError(`unknown backend "${values.backend}" (known: ${BACKEND_KINDS.join(', ')})`);
  }
  const batch = intOption(values.batch, 'batch');
  const seed = seedOption(values.seed);
  const epochsOption = intOption(values.epochs, 'epochs');
  const learningRate = numberOption(values.lr, 'lr');
  const patience = intOption(values.patience, 'patience');
  const validationSplit = fraction(values['validation-split']);
  if (validationSplit !== undefined && values.validation !== undefined) {
    throw new UsageError('--validation and --validation-split exclude each other');
  }
  const cudaArchs = parseCudaArchs(values['cuda-arch']);
  // Everything the run will write is checked before anything is built or trained.
  if (values.checkpoint !== undefined) checkWritableFile(values.checkpoint, '--checkpoint');
  if (values.history !== undefined) checkWritableFile(values.history, '--history');
  if (values.out !== undefined) checkOutDir(resolve(values.out));
  // Without a GPU, say so before compiling anything.
  if (backend === 'cuda') (await import('../runtime/backends/cuda.ts')).probeCuda();
  // A broken checkpoint is refused before anything is built.
  const resumeFile = values.resume !== undefined ? loadCheckpoint(values.resume) : undefined;
  const data = loadTrainData({
    data: values.data,
    target: values.target,
    validation: values.validation,
    trainLimit: intOption(values['train-limit'], 'train-limit'),
    testLimit: intOption(values['test-limit'], 'test-limit'),
  });
  const build = { targets: [TARGET_OF_BACKEND[backend]], batch, seed, cudaArchs };
  // The compiler is loaded only now: a mistake in the options or the data is reported at once.
  const { buildIntoCache, buildModel } = await import('../compiler/build.ts');
  const { openBuiltModel } = await import('../runtime/open-built-model.ts');
  const { outDir } = values.out !== undefined
    ? await buildModel(positionals[0], { ...build, outDir: values.out })
    : await buildIntoCache(positionals[0], build);
  const model = await openBuiltModel(outDir, backend);
  try {
    const { artifact } = model;
    const resumed = resumeFile && checkModelOf(resumeFile, values.resume!, artifact.name);
    // --epochs counts every epoch of the run; a resumed run without it trains one more.
    const epochs = epochsOption ?? (resumed?.progress?.epochsDone ?? 0) + 1;
    if (resumed) restoreFrom(model, resumed, values.resume!, epochs);
    console.log(
      `${artifact.name}: ${artifact.params.length} parameter tensors, batch ${artifact.batch}, ` +
        `optimizer ${artifact.optimizer}, backend ${backend}; ${data.description}`,
    );
    const onEpochEnd = async (_record: EpochRecord, progress: TrainProgress) => {
      if (values.history !== undefined) {
        writeFileAtomically(values.history, new TextEncoder().encode(`${JSON.stringify(progress.history, null, 2)}\n`));
      }
      if (values.checkpoint !== undefined) {
        const tensors = await model.snapshot();
        saveCheckpoint(values.checkpoint, { kind: 'checkpoint', model: artifact.name, progress, tensors });
      }
    };
    const validation = validationSplit ?? data.validation;
    const result = await fit(model, data.train, {
      epochs,
      ...(validation !== undefined ? { validation } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(learningRate !== undefined ? { learningRate } : {}),
      ...(patience !== undefined ? { earlyStopping: { patience } } : {}),
      ...(resumed?.progress ? { resume: resumed.progress } : {}),
      checkFinite: values['check-finite'] === true,
      ...(values.prediction !== undefined ? { prediction: values.prediction } : {}),
      lossEvery: lossReadInterval(backend),
      progress: process.stdout,
      callbacks: { onEpochEnd },
    });
    console.log(summary(result));
  } finally {
    model.dispose();
  }
  return 0;
}
