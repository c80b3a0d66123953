/** `gradc train <model.ts>`: build, then train on MNIST with a progress bar per epoch. */
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { buildModel, openBuiltModel } from '../build.ts';
import { TARGET_OF_BACKEND } from '../codegen/targets.ts';
import type { BackendKind } from '../../runtime/open.ts';
import { BACKEND_KINDS } from '../../runtime/open.ts';
import { loadMnist } from '../../runtime/data/mnist.ts';
import { trainClassifier } from '../../runtime/train.ts';
import type { TrainProgress } from '../../runtime/train.ts';
import type { Checkpoint } from '../../runtime/checkpoint.ts';
import { CheckpointError } from '../../runtime/checkpoint.ts';
import { loadCheckpoint, saveCheckpoint } from '../../runtime/checkpoint-file.ts';
import { UsageError, intOption, numberOption, parseCommand, seedOption } from './main.ts';
import { parseCudaArchs } from './build-command.ts';

/**
 * The checkpoint (or weights) to resume from, refused when it names another model; a
 * safetensors file of another tool names none, and the model's shapes decide.
 */
function checkpointToResume(path: string, modelName: string): Checkpoint {
  const checkpoint = loadCheckpoint(path);
  if (checkpoint.model !== undefined && checkpoint.model !== modelName) {
    const what = checkpoint.kind === 'weights' ? 'weights' : 'a checkpoint';
    throw new CheckpointError(`${path}: ${what} of model "${checkpoint.model}", not of "${modelName}"`);
  }
  return checkpoint;
}

export async function trainCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    backend: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    'train-limit': { type: 'string' },
    'test-limit': { type: 'string' },
    patience: { type: 'string' },
    out: { type: 'string' },
    history: { type: 'string' },
    checkpoint: { type: 'string' },
    resume: { type: 'string' },
    'cuda-arch': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('gradc train takes one model file');
  const backend = (values.backend ?? 'c') as BackendKind;
  if (!BACKEND_KINDS.includes(backend)) {
    throw new UsageError(`unknown backend "${values.backend}" (known: ${BACKEND_KINDS.join(', ')})`);
  }
  const batch = intOption(values.batch, 'batch');
  const seed = seedOption(values.seed);
  const epochsOption = intOption(values.epochs, 'epochs');
  const cudaArchs = parseCudaArchs(values['cuda-arch']);
  // Without a GPU, say so before compiling anything.
  if (backend === 'cuda') (await import('../../runtime/backends/cuda.ts')).probeCuda();
  // Each model, batch size and backend gets its own build folder, so runs do not collide.
  const folder = values.out ?? join('.cache', 'gradc', `${basename(positionals[0], '.ts')}-b${batch ?? 'default'}-${backend}`);
  const { compiled, outDir } = await buildModel(positionals[0], {
    targets: [TARGET_OF_BACKEND[backend]],
    batch,
    seed,
    outDir: folder,
    cudaArchs,
  });
  const { spec } = compiled;
  const data = loadMnist({
    trainLimit: intOption(values['train-limit'], 'train-limit'),
    testLimit: intOption(values['test-limit'], 'test-limit'),
  });
  const resumed = values.resume ? checkpointToResume(values.resume, spec.name) : undefined;
  const model = await openBuiltModel(outDir, backend);
  // --epochs counts every epoch of the run; a resumed run without it trains one more.
  const epochsDone = resumed?.progress?.epochsDone ?? 0;
  const epochs = epochsOption ?? epochsDone + 1;
  if (resumed) {
    // A checkpoint sets the optimizer state too; weights leave it as initialised.
    if (resumed.kind === 'checkpoint') model.restore(resumed.tensors);
    else model.loadWeights(resumed.tensors);
    console.log(
      resumed.progress
        ? `resuming after epoch ${epochsDone} (step ${resumed.progress.stepsDone}) of ${values.resume}`
        : `${values.resume} holds no training progress: its parameters are restored, training starts at epoch 1`,
    );
    if (epochs <= epochsDone) {
      console.log(`the checkpoint already holds ${epochsDone} epochs, --epochs ${epochs}: nothing to train`);
    }
  }
  const checkpoint = values.checkpoint;
  const saveEachEpoch = checkpoint
    ? async (_record: unknown, progress: TrainProgress) =>
        saveCheckpoint(checkpoint, { kind: 'checkpoint', model: spec.name, progress, tensors: await model.snapshot() })
    : undefined;
  console.log(
    `${spec.name}: ${spec.params.length} parameter tensors, batch ${spec.batch}, optimizer ${spec.optimizer}, ` +
      `backend ${backend}; MNIST ${data.train.count} train / ${data.test.count} test images`,
  );
  try {
    const { history, stoppedEarly } = await trainClassifier(model, data.train, data.test, {
      epochs,
      learningRate: numberOption(values.lr, 'lr'),
      patience: intOption(values.patience, 'patience'),
      // A GPU runs ahead between loss reads; the host backends read every step for free.
      lossEvery: backend === 'webgpu' || backend === 'cuda' ? 10 : 1,
      ...(saveEachEpoch ? { onEpoch: saveEachEpoch } : {}),
      ...(resumed?.progress ? { resume: resumed.progress } : {}),
      ...(seed !== undefined ? { seed } : {}),
    });
    const last = history[history.length - 1];
    console.log(
      `final: test accuracy ${(last.testAccuracy * 100).toFixed(2)}%, test loss ${last.testLoss.toFixed(4)}, ` +
        `train loss ${last.trainLoss.toFixed(4)}${stoppedEarly ? ' (stopped early)' : ''}`,
    );
    if (values.history) await writeFile(values.history, `${JSON.stringify(history, null, 2)}\n`);
  } finally {
    model.dispose();
  }
  return 0;
}
