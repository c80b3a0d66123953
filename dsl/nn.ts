/** Activations and losses, written as compositions of primitives. */
import type { Init, Last, Shape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import { tensorArg } from './tensor.ts';
import { GradcError } from '../ir/errors.ts';
import { describeOption } from '../ir/limits.ts';
import { callerLoc } from './loc.ts';
import { formatShape } from '../ir/types.ts';
import { abs, exp, iota, log, mean, neg, reduceMax, reshape, stopGradient, sum, where } from './ops.ts';
import { add, div, equal, less, maximum, mul, sub } from './prim.ts';

/** ReLU: max(x, 0). */
export function relu<S extends Shape>(x: Tensor<S>): Tensor<S> {
  return maximum(x, 0) as unknown as Tensor<S>;
}

/** Leaky ReLU: x for x > 0, slope * x otherwise. */
export function leakyRelu<S extends Shape>(x: Tensor<S>, slope = 0.01): Tensor<S> {
  return maximum(x, mul(x, slope)) as unknown as Tensor<S>;
}

/** The logistic function 1 / (1 + e^-x). */
export function sigmoid<S extends Shape>(x: Tensor<S>): Tensor<S> {
  return div(1, add(1, exp(neg(x)))) as unknown as Tensor<S>;
}

/** ELU: x for x > 0, alpha (e^x - 1) otherwise. */
export function elu<S extends Shape>(x: Tensor<S>, alpha = 1): Tensor<S> {
  const negative = mul(sub(exp(x), 1), alpha);
  return where(less(x, 0) as unknown as Tensor<S>, negative, x);
}

/**
 * The max over the last axis that softmax subtracts for stability. Softmax does not depend on
 * it (any shift cancels), so no gradient flows through it: the backward pass builds none of
 * max's tie masks, which would only add up to zero.
 */
function stableShift<S extends Shape>(x: Tensor<S>) {
  return stopGradient(reduceMax(x, -1, true));
}

/** log(softmax(x)) over the last axis, stable: x - max - log(sum(exp(x - max))). */
export function logSoftmax<S extends Shape>(x: Tensor<S>): Tensor<S> {
  const shifted = sub(x, stableShift(x));
  return sub(shifted, log(sum(exp(shifted), -1, true))) as unknown as Tensor<S>;
}

/** Softmax over the last axis. */
export function softmax<S extends Shape>(x: Tensor<S>): Tensor<S> {
  const shifted = exp(sub(x, stableShift(x)));
  return div(shifted, sum(shifted, -1, true)) as unknown as Tensor<S>;
}

/** Mean over the batch of -sum(labels * log softmax(logits)): categorical cross-entropy. */
export function softmaxCrossEntropy<S extends readonly [number, number]>(
  logits: Tensor<S>,
  labels: Tensor<readonly [...Init<S>, Last<S>]>,
): Tensor<[]> {
  return meanRowCrossEntropy(logits, labels);
}

/** The mean over the rows of -sum(labels * log softmax(logits)), shapes unchecked. */
function meanRowCrossEntropy(logits: Tensor<Shape>, labels: Tensor<Shape>): Tensor<[]> {
  return mean(neg(sum(mul(labels, logSoftmax(logits)), -1))) as Tensor<[]>;
}

/**
 * Softmax cross-entropy against class indices: `labels` [B] or [B, 1] holds each row's class
 * (0 to C - 1) as a float. The one-hot rows are built in the graph, where the class index along
 * the row (`iota`) equals the label, and the loss is `softmaxCrossEntropy` of them: the mean over
 * the batch of logsumexp(row) - row[label]. A label that is no class index matches no column:
 * its row adds nothing to the loss and gets no gradient (it still counts in the mean's B).
 */
export function sparseSoftmaxCrossEntropy<Bt extends number, C extends number>(
  logits: Tensor<readonly [Bt, C]>,
  labels: Tensor<readonly [NoInfer<Bt>] | readonly [NoInfer<Bt>, 1]>,
): Tensor<[]> {
  const [rows, classes] = tensorArg(logits, 'sparseSoftmaxCrossEntropy').shape;
  const shape: readonly number[] = tensorArg<Shape>(labels, 'sparseSoftmaxCrossEntropy').shape;
  if (!(shape[0] === rows && (shape.length === 1 || (shape.length === 2 && shape[1] === 1)))) {
    throw new GradcError(
      `sparseSoftmaxCrossEntropy: labels must have shape [${rows}] or [${rows}, 1] (a class index per row of the logits ${formatShape(logits.shape)}), got ${formatShape(shape)}`,
      callerLoc('sparseSoftmaxCrossEntropy'),
    );
  }
  const oneHot = equal(iota(logits, [rows, classes], 1), reshape(labels, [rows, 1]));
  return meanRowCrossEntropy(logits, oneHot);
}

/** Mean squared error over every element. */
export function mse<S extends Shape>(predictions: Tensor<S>, targets: Tensor<S>): Tensor<[]> {
  const diff = sub(predictions, targets);
  return mean(mul(diff, diff)) as Tensor<[]>;
}

/**
 * Binary cross-entropy from logits x against labels z in [0, 1], mean over every element:
 * -z log sigmoid(x) - (1 - z) log(1 - sigmoid(x)), computed as max(x, 0) - x z +
 * log(1 + e^-|x|), which exponentiates no positive number and so stays finite for any logit.
 */
export function sigmoidCrossEntropy<S extends Shape>(logits: Tensor<S>, labels: Tensor<S>): Tensor<[]> {
  const softplusTail = log(add(1, exp(neg(abs(logits)))));
  return mean(add(sub(maximum(logits, 0), mul(logits, labels)), softplusTail)) as Tensor<[]>;
}

/**
 * The Huber loss, mean over every element: with d = predictions - targets, d^2 / 2 where
 * |d| <= delta and delta (|d| - delta / 2) beyond, so the gradient is d near the target and
 * +-delta far from it. `delta` must be a positive number.
 */
export function huber<S extends Shape>(predictions: Tensor<S>, targets: Tensor<S>, delta = 1): Tensor<[]> {
  if (typeof delta !== 'number' || !Number.isFinite(delta) || delta <= 0) {
    throw new GradcError(`huber: delta must be a positive number, got ${describeOption(delta)}`, callerLoc('huber'));
  }
  const d = sub(predictions, targets);
  const distance = abs(d as Tensor<S>);
  const quadratic = mul(mul(d, d), 0.5);
  const linear = mul(sub(distance, delta / 2), delta);
  return mean(where(less(delta, distance) as Tensor<S>, linear, quadratic)) as Tensor<[]>;
}
