// Peer benchmark: the reference MLP 784-250-250-10 trained with TensorFlow.js
// (cpu or wasm backend) on synthetic data, measured in samples per second.
//
// Findings for Node 20 (tfjs 4.22):
// - the wasm backend loads its binaries from disk once setWasmPaths() gets the
//   package's dist/ folder; SIMD is detected and used.
// - tfjs disables wasm threads in Node (tfjs issue #3830). Forcing the flag
//   makes init fail: Node's Worker rejects the blob: URL tfjs hands it. So the
//   wasm backend runs on one thread and `wasmThreads` has no effect in Node.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type TfjsBackend = 'cpu' | 'wasm';

export interface TfjsMlpOptions {
  backend: TfjsBackend;
  batch: number;
  warmupSteps: number;
  steps: number;
  seed?: number;
  /** Only honoured where tfjs enables wasm threads (not in Node). */
  wasmThreads?: number;
}

export interface TfjsMlpResult {
  name: string;
  samplesPerSecond: number;
  msPerStep: number;
  steps: number;
  batch: number;
  finalLoss: number;
}

const LAYER_SIZES = [784, 250, 250, 10] as const;
const LEARNING_RATE = 0.1;
const DEFAULT_SEED = 1;

// Must run before the wasm backend first initialises, hence at module load.
const wasmEntry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
setWasmPaths(path.dirname(wasmEntry) + path.sep);

/** Small seeded PRNG (mulberry32) so data and weights match across runs and backends. */
function makeRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
}

function makeBatch(batch: number, rng: () => number): Batch {
  const inputs = LAYER_SIZES[0];
  const classes = LAYER_SIZES[LAYER_SIZES.length - 1];
  const x = new Float32Array(batch * inputs);
  for (let i = 0; i < x.length; i++) x[i] = rng();
  const y = new Float32Array(batch * classes);
  for (let r = 0; r < batch; r++) y[r * classes + Math.floor(rng() * classes)] = 1;
  return { x: tf.tensor2d(x, [batch, inputs]), y: tf.tensor2d(y, [batch, classes]) };
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

type Listener = (...args: unknown[]) => void;
const PROCESS_EVENTS: readonly string[] = ['uncaughtException', 'unhandledRejection'];
// Plain EventEmitter view: process's own typings only accept signal names here.
const processEvents: NodeJS.EventEmitter = process;
const listenersOf = (event: string) => processEvents.listeners(event) as Listener[];

// Emscripten's init adds process handlers that rethrow from inside the minified
// wasm glue, so any later crash in the process dumps ~50 kB of source. Drop the
// handlers the init added; Node's default reporting does the same job.
async function withoutNewProcessHandlers(init: () => Promise<void>): Promise<void> {
  const before = PROCESS_EVENTS.map((event) => new Set(listenersOf(event)));
  try {
    await init();
  } finally {
    PROCESS_EVENTS.forEach((event, i) => {
      for (const l of listenersOf(event)) if (!before[i].has(l)) processEvents.off(event, l);
    });
  }
}

async function useBackend(backend: TfjsBackend, wasmThreads?: number): Promise<void> {
  if (backend === 'wasm' && wasmThreads !== undefined) setThreadsCount(wasmThreads);
  await withoutNewProcessHandlers(async () => {
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`tfjs backend '${backend}' failed to initialise`);
    await tf.ready();
  });
}

// The cpu backend prints an "install tfjs-node" banner on first use; drop that
// single message while we run, pass every other warning through.
const NODE_BANNER = /looks like you are running TensorFlow\.js in Node\.js/i;

async function withNodeBannerSilenced<T>(run: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && NODE_BANNER.test(args[0])) return;
    warn.apply(console, args);
  };
  try {
    return await run();
  } finally {
    console.warn = warn;
  }
}

function runTimed(opts: TfjsMlpOptions): TfjsMlpResult {
  const rng = makeRng(opts.seed ?? DEFAULT_SEED);
  const mlp = createMlp(rng);
  const batch = makeBatch(opts.batch, rng);
  const opt = tf.train.sgd(LEARNING_RATE);
  try {
    let finalLoss = NaN;
    for (let i = 0; i < opts.warmupSteps; i++) finalLoss = trainStep(opt, mlp, batch);
    const start = performance.now();
    for (let i = 0; i < opts.steps; i++) finalLoss = trainStep(opt, mlp, batch);
    const ms = performance.now() - start;
    return {
      name: `tfjs-${opts.backend}`,
      samplesPerSecond: (opts.steps * opts.batch * 1000) / ms,
      msPerStep: ms / opts.steps,
      steps: opts.steps,
      batch: opts.batch,
      finalLoss,
    };
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
  return withNodeBannerSilenced(async () => {
    await useBackend(opts.backend, opts.wasmThreads);
    return runTimed(opts);
  });
}
