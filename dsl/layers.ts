/**
 * Layers: parameters plus a composition of primitives. Dropout, DropConnect and batch
 * normalisation act otherwise in training than in prediction: they branch on `m.training`.
 */
import type { Shape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import type { InitKind } from './spec.ts';
import type { ModelContext } from './model.ts';
import { matmul, mean, sqrt, where } from './ops.ts';
import type { Conv2dOptions } from './conv.ts';
import { conv2d } from './conv.ts';
import { add, div, less, mul, sub } from './prim.ts';
import { tensorArg, traced } from './tensor.ts';
import { GradcError } from '../ir/errors.ts';
import { formatShape } from '../ir/types.ts';
import { describeOption } from '../ir/limits.ts';
import { callerLoc } from './loc.ts';

/** Options of `dense`: the weight initialiser and whether it has a bias. */
export interface DenseOptions {
  /** Weight initialiser (default He normal, suited to ReLU). */
  readonly init?: InitKind;
  readonly bias?: boolean;
}

/** y = x W + b with W: [in, units] and b: [units]. Parameters are `<name>.w` and `<name>.b`. */
export function dense<Bt extends number, I extends number, const U extends number>(
  m: ModelContext,
  name: string,
  x: Tensor<readonly [Bt, I]>,
  units: U,
  options: DenseOptions = {},
): Tensor<[Bt, U]> {
  return denseLayer(m, name, x, units, options, 'dense', (w) => w);
}

/**
 * A dense layer whose weights pass through `weights` (the identity for `dense`, a dropout
 * mask for `dropConnect`) before the product.
 */
function denseLayer<Bt extends number, I extends number, U extends number>(
  m: ModelContext,
  name: string,
  x: Tensor<readonly [Bt, I]>,
  units: U,
  options: DenseOptions,
  what: string,
  weights: (w: Tensor<[I, U]>) => Tensor<[I, U]>,
): Tensor<[Bt, U]> {
  if (tensorArg(x, what).shape.length !== 2) {
    throw new GradcError(`the input must be 2-D [batch, features], got ${formatShape(x.shape)}`, callerLoc(what));
  }
  const w = m.param(`${name}.w`, [x.shape[1], units] as [I, U], options.init ?? 'he_normal');
  const y = matmul(x, weights(w));
  if (options.bias === false) return y;
  const b = m.param(`${name}.b`, [units] as [U], 'zeros');
  return add(y, b) as unknown as Tensor<[Bt, U]>;
}

/** Options of `conv`: the window, its strides, padding and dilation, the initialiser and the bias. */
export interface ConvOptions extends Conv2dOptions {
  readonly kernel: readonly [number, number];
  /** Filter initialiser (default He normal, suited to ReLU). */
  readonly init?: InitKind;
  readonly bias?: boolean;
}

/**
 * A convolution layer: x [N,H,W,C] with `filters` filters `<name>.w` [KH,KW,C,filters] plus a
 * bias `<name>.b` [filters]: [N,OH,OW,filters].
 */
export function conv<N extends number, C extends number, const F extends number>(
  m: ModelContext,
  name: string,
  x: Tensor<readonly [N, number, number, C]>,
  filters: F,
  options: ConvOptions,
): Tensor<[N, number, number, F]> {
  if (tensorArg(x, 'conv').shape.length !== 4) {
    throw new GradcError(`the input must be NHWC [N,H,W,C], got ${formatShape(x.shape)}`, callerLoc('conv'));
  }
  const kernel = options?.kernel;
  if (!Array.isArray(kernel) || kernel.length !== 2) {
    throw new GradcError(`kernel must be [rows, columns], got ${JSON.stringify(kernel)}`, callerLoc('conv'));
  }
  const w = m.param(`${name}.w`, [kernel[0], kernel[1], x.shape[3], filters] as [number, number, C, F], options.init ?? 'he_normal');
  const y = conv2d(x, w, options) as Tensor<[N, number, number, F]>;
  if (options.bias === false) return y;
  const b = m.param(`${name}.b`, [filters] as [F], 'zeros');
  return add(y, b) as unknown as Tensor<[N, number, number, F]>;
}

/** A dropout rate where the user called the layer: a number in [0, 1). */
function checkRate(rate: unknown, what: string): void {
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    throw new GradcError(`the rate must be a number in [0, 1), got ${describeOption(rate)}`, callerLoc(what));
  }
}

/**
 * x with each element zeroed with probability `rate` and the others scaled by 1 / (1 - rate),
 * so that its expected value is x: a mask drawn afresh at every step (`m.randomUniform`).
 */
function dropped<S extends Shape>(m: ModelContext, x: Tensor<S>, rate: number): Tensor<S> {
  const u = m.randomUniform(x.shape);
  return where(less(u, rate) as Tensor<S>, 0, mul(x, 1 / (1 - rate)));
}

/**
 * Inverted dropout: in training, each element of `x` is zeroed with probability `rate` and the
 * rest are scaled by 1 / (1 - rate), so the expected value is `x`; each step draws a new mask,
 * the same on every backend for one seed. In prediction (and with rate 0), `x` itself.
 */
export function dropout<S extends Shape>(m: ModelContext, x: Tensor<S>, rate: number): Tensor<S> {
  tensorArg(x, 'dropout');
  checkRate(rate, 'dropout');
  if (rate === 0 || !m.training) return x;
  return traced(m.graph, 'dropout', () => dropped(m, x, rate));
}

/**
 * DropConnect: a dense layer (parameters `<name>.w`, `<name>.b`, as `dense`) whose weight
 * matrix, in training, has each weight zeroed with probability `rate` and the rest scaled by
 * 1 / (1 - rate), one mask per step for the whole batch; in prediction the plain weights.
 */
export function dropConnect<Bt extends number, I extends number, const U extends number>(
  m: ModelContext,
  name: string,
  x: Tensor<readonly [Bt, I]>,
  units: U,
  rate: number,
  options: DenseOptions = {},
): Tensor<[Bt, U]> {
  checkRate(rate, 'dropConnect');
  const label = `dropConnect(${JSON.stringify(name)})`;
  return traced(m.graph, label, () =>
    denseLayer(m, name, x, units, options, 'dropConnect', (w) => (rate === 0 || !m.training ? w : dropped(m, w, rate))),
  );
}

/** Options of `batchNorm`, Keras's defaults. */
export interface BatchNormOptions {
  /** How much of the running statistics each step keeps (default 0.99). */
  readonly momentum?: number;
  /** Added to the variance before its square root (default 1e-3). */
  readonly epsilon?: number;
}

function checkBatchNormOptions(options: BatchNormOptions): { momentum: number; epsilon: number } {
  const { momentum = 0.99, epsilon = 1e-3 } = options;
  const fail = (problem: string) => new GradcError(problem, callerLoc('batchNorm'));
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw fail(`momentum must be a number in [0, 1], got ${describeOption(momentum)}`);
  }
  if (typeof epsilon !== 'number' || !(epsilon > 0 && Number.isFinite(epsilon))) {
    throw fail(`epsilon must be a positive number, got ${describeOption(epsilon)}`);
  }
  return { momentum, epsilon };
}

/**
 * Batch normalisation over every axis but the last (features of [batch, features], channels
 * of NHWC images): y = gamma (x - mean) / sqrt(variance + epsilon) + beta, with learned
 * `<name>.gamma` (ones) and `<name>.beta` (zeros) per feature. In training, mean and variance
 * are the batch's (the variance divides by the count), and the train program updates the
 * running statistics, states `<name>.mean` (zeros) and `<name>.var` (ones), as Keras does:
 * running = momentum running + (1 - momentum) batch. In prediction they are used instead.
 */
export function batchNorm<S extends Shape>(
  m: ModelContext,
  name: string,
  x: Tensor<S>,
  options: BatchNormOptions = {},
): Tensor<S> {
  const rank = tensorArg(x, 'batchNorm').shape.length;
  if (rank < 2) {
    throw new GradcError(`the input needs a batch axis and a feature axis, got ${formatShape(x.shape)}`, callerLoc('batchNorm'));
  }
  const { momentum, epsilon } = checkBatchNormOptions(options);
  return traced(m.graph, `batchNorm(${JSON.stringify(name)})`, () => {
    const features = [x.shape[rank - 1]] as const;
    const axes = [...Array(rank - 1).keys()];
    const gamma = m.param(`${name}.gamma`, features, 'ones');
    const beta = m.param(`${name}.beta`, features, 'zeros');
    const runningMean = m.state(`${name}.mean`, features, 0);
    const runningVar = m.state(`${name}.var`, features, 1);
    let center: Tensor<Shape> = runningMean;
    let variance: Tensor<Shape> = runningVar;
    if (m.training) {
      center = mean(x, axes);
      variance = mean(mul(sub(x, center), sub(x, center)), axes);
      m.assign(runningMean, add(mul(runningMean, momentum), mul(center, 1 - momentum)) as Tensor<readonly [number]>);
      m.assign(runningVar, add(mul(runningVar, momentum), mul(variance, 1 - momentum)) as Tensor<readonly [number]>);
    }
    const scale = div(gamma, sqrt(add(variance, epsilon)));
    return add(mul(sub(x, center), scale), beta) as unknown as Tensor<S>;
  });
}
