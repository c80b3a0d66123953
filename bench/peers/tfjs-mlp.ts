// Peer benchmark: the reference MLP 784-250-250-10 trained with TensorFlow.js
// (cpu or wasm backend) on synthetic data, measured in samples per second.
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../runtime/init.ts';
import { syntheticMnistBatch } from '../synthetic.ts';
import { onTfjsBackend, timedResult, type TfjsBackend, type TfjsResult } from './tfjs-backend.ts';

export type { TfjsBackend } from './tfjs-backend.ts';

export interface TfjsMlpOptions {
  backend: TfjsBackend;
  batch: number;
  warmupSteps: number;
  steps: number;
  seed?: number;
  /** Only honoured where tfjs enables wasm threads (not in Node). */
  wasmThreads?: number;
}

export type TfjsMlpResult = TfjsResult;

const LAYER_SIZES = [784, 250, 250, 10] as const;
const LEARNING_RATE = 0.1;
const DEFAULT_SEED = 1;

interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
}

/** The batch every contender trains on (bench/synthetic.ts), as tfjs tensors. */
function makeBatch(batch: number, seed: number): Batch {
  const { x, y } = syntheticMnistBatch(batch, seed);
  return { x: tf.tensor2d(x, [batch, LAYER_SIZES[0]]), y: tf.tensor2d(y, [batch, LAYER_SIZES[LAYER_SIZES.length - 1]]) };
}

interface Mlp {
  weights: tf.Variable<tf.Rank.R2>[];
  biases: tf.Variable<tf.Rank.R1>[];
}

function glorotUniform(fanIn: number, fanOut: number, rng: () => number): tf.Tensor2D {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng() - 1) * limit;
  return tf.tensor2d(values, [fanIn, fanOut]);
}

// tidy frees the initial values; the variables themselves survive it.
function createMlp(rng: () => number): Mlp {
  const mlp: Mlp = { weights: [], biases: [] };
  tf.tidy(() => {
    for (let l = 0; l + 1 < LAYER_SIZES.length; l++) {
      const [fanIn, fanOut] = [LAYER_SIZES[l], LAYER_SIZES[l + 1]];
      mlp.weights.push(tf.variable(glorotUniform(fanIn, fanOut, rng)));
      mlp.biases.push(tf.variable(tf.zeros([fanOut])));
    }
  });
  return mlp;
}

function disposeMlp(mlp: Mlp): void {
  for (const v of [...mlp.weights, ...mlp.biases]) v.dispose();
}

/** Logits of the last layer; ReLU on the hidden layers. */
function forward(mlp: Mlp, x: tf.Tensor2D): tf.Tensor2D {
  let h: tf.Tensor = x;
  const last = mlp.weights.length - 1;
  mlp.weights.forEach((w, l) => {
    const activation = l < last ? 'relu' : 'linear';
    // fused.matMul is the fastest dense layer tfjs offers (bias add fused in).
    h = tf.fused.matMul({ a: h, b: w, bias: mlp.biases[l], activation });
  });
  return h as tf.Tensor2D;
}

// Softmax + categorical cross-entropy, mean over the batch. The fused tfjs op
// is the stable, cheapest way a tfjs user would write it.
function loss(mlp: Mlp, batch: Batch): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(batch.y, forward(mlp, batch.x)) as tf.Scalar;
}

/** One forward + backward + SGD update; reading the loss back forces completion. */
function trainStep(opt: tf.Optimizer, mlp: Mlp, batch: Batch): number {
  const varList = [...mlp.weights, ...mlp.biases];
  return tf.tidy(() => {
    const cost = opt.minimize(() => loss(mlp, batch), true, varList);
    if (cost === null) throw new Error('tfjs minimize() returned no cost');
    return cost.dataSync()[0];
  });
}

function runTimed(opts: TfjsMlpOptions): TfjsMlpResult {
  const seed = opts.seed ?? DEFAULT_SEED;
  const mlp = createMlp(createRng(seed));
  const batch = makeBatch(opts.batch, seed);
  const opt = tf.train.sgd(LEARNING_RATE);
  try {
    let finalLoss = NaN;
    for (let i = 0; i < opts.warmupSteps; i++) finalLoss = trainStep(opt, mlp, batch);
    const start = performance.now();
    for (let i = 0; i < opts.steps; i++) finalLoss = trainStep(opt, mlp, batch);
    const ms = performance.now() - start;
    return timedResult(opts.backend, opts.batch, opts.steps, ms, finalLoss);
  } finally {
    opt.dispose();
    disposeMlp(mlp);
    tf.dispose([batch.x, batch.y]);
  }
}

/**
 * Trains the reference MLP with tfjs for `steps` timed steps after `warmupSteps`
 * untimed ones. Leaves `opts.backend` as the active tfjs backend.
 */
export async function benchTfjsMlp(opts: TfjsMlpOptions): Promise<TfjsMlpResult> {
  if (opts.steps < 1 || opts.batch < 1) throw new Error('steps and batch must be >= 1');
  return onTfjsBackend(opts.backend, async () => runTimed(opts), opts.wasmThreads);
}
