// Peer benchmark: the CNN of examples/mnist-cnn.ts written with tfjs layers, as a tfjs user
// would: conv2d 32 3x3 valid ReLU, maxPooling2d 2, conv2d 64 3x3 ReLU, maxPooling2d 2, flatten,
// dropout 0.5, dense 10 softmax, categorical cross-entropy, Adam (learning rate 1e-3), trained with
// trainOnBatch on one synthetic NHWC batch (cpu or wasm backend), in samples per second.
import * as tf from '@tensorflow/tfjs';
import { supplyWasmConv2dBackpropFilter } from './tfjs-wasm-conv-filter.ts';
import { syntheticMnistBatch } from '../synthetic.ts';
import { onTfjsBackend, timedResult, type TfjsBackend, type TfjsResult } from './tfjs-backend.ts';

export interface TfjsCnnOptions {
  backend: TfjsBackend;
  batch: number;
  warmupSteps: number;
  steps: number;
  seed?: number;
}

const IMAGE: readonly [number, number, number] = [28, 28, 1];
const CLASSES = 10;
const LEARNING_RATE = 1e-3;
const DEFAULT_SEED = 1;

interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor2D;
}

/** The batch every contender trains on (bench/synthetic.ts), as tfjs tensors. */
function makeBatch(batch: number, seed: number): Batch {
  const [h, w, c] = IMAGE;
  const { x, y } = syntheticMnistBatch(batch, seed);
  return { x: tf.tensor4d(x, [batch, h, w, c]), y: tf.tensor2d(y, [batch, CLASSES]) };
}

function createCnn(seed: number): tf.Sequential {
  const kernelInitializer = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [...IMAGE], filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: kernelInitializer(0) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: kernelInitializer(1) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: kernelInitializer(2) }),
    ],
  });
}

/** One forward + backward + Adam update; trainOnBatch reads the loss back, which forces completion. */
async function trainStep(model: tf.Sequential, batch: Batch): Promise<number> {
  const loss = await model.trainOnBatch(batch.x, batch.y);
  return Array.isArray(loss) ? loss[0] : loss;
}

async function runTimed(opts: TfjsCnnOptions): Promise<TfjsResult> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const model = createCnn(seed);
  const optimizer = tf.train.adam(LEARNING_RATE);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const batch = makeBatch(opts.batch, seed);
  try {
    let finalLoss = NaN;
    for (let i = 0; i < opts.warmupSteps; i++) finalLoss = await trainStep(model, batch);
    const start = performance.now();
    for (let i = 0; i < opts.steps; i++) finalLoss = await trainStep(model, batch);
    const ms = performance.now() - start;
    return timedResult(opts.backend, opts.batch, opts.steps, ms, finalLoss);
  } finally {
    model.dispose();
    optimizer.dispose();
    tf.dispose([batch.x, batch.y]);
  }
}

/**
 * Trains the CNN with tfjs for `steps` timed steps after `warmupSteps` untimed ones. Leaves
 * `opts.backend` as the active tfjs backend.
 */
export async function benchTfjsCnn(opts: TfjsCnnOptions): Promise<TfjsResult> {
  if (opts.steps < 1 || opts.batch < 1) throw new Error('steps and batch must be >= 1');
  if (opts.backend === 'wasm') supplyWasmConv2dBackpropFilter();
  return onTfjsBackend(opts.backend, () => runTimed(opts));
}
