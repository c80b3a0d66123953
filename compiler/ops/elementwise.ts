/**
 * Elementwise primitives. Inputs have the same shape as the output (the builder inserts
 * explicit `broadcast` nodes), so one shape rule and one evaluator serve them all.
 */
import type { PrimKind, Shape } from '../ir/types.ts';
import { formatShape, sameShape } from '../ir/types.ts';
import { ShapeError } from '../errors.ts';
import type { ElementwiseOpDef, EvalArgs, VjpRule } from './op.ts';
import { NONDIFF } from './op.ts';

function sameShapes(kind: PrimKind) {
  return (srcShapes: readonly Shape[]): Shape => {
    const first = srcShapes[0];
    for (const s of srcShapes) {
      if (!sameShape(s, first)) {
        const all = srcShapes.map(formatShape).join(' and ');
        throw new ShapeError(`${kind}: operand shapes ${all} differ`);
      }
    }
    return first;
  };
}

function elementwise(
  kind: PrimKind,
  arity: number,
  scalar: (...xs: number[]) => number,
  vjp: VjpRule,
): ElementwiseOpDef {
  return {
    kind,
    category: 'elementwise',
    arity,
    scalar,
    vjp,
    inferShape: sameShapes(kind),
    evalRef({ inputs }: EvalArgs): Float64Array {
      const n = inputs[0].length;
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = scalar(...inputs.map((x) => x[i]));
      return out;
    },
  };
}

export const neg = elementwise('neg', 1, (x) => -x, ({ b, g }) => [b.neg(g)]);

export const exp = elementwise('exp', 1, Math.exp, ({ b, g, id }) => [b.mul(g, id)]);

export const log = elementwise('log', 1, Math.log, ({ b, g, node }) => [b.div(g, node.src[0])]);

/** d sqrt(x) = 1 / (2 sqrt(x)), reusing the forward value. */
export const sqrt = elementwise('sqrt', 1, Math.sqrt, ({ b, g, id }) => [
  b.div(b.mul(g, b.scalarLike(0.5, id)), id),
]);

/** d tanh(x) = 1 - tanh(x)^2, reusing the forward value. */
export const tanh = elementwise('tanh', 1, Math.tanh, ({ b, g, id }) => [
  b.mul(g, b.sub(b.scalarLike(1, id), b.mul(id, id))),
]);

export const add = elementwise('add', 2, (x, y) => x + y, ({ g }) => [g, g]);

export const sub = elementwise('sub', 2, (x, y) => x - y, ({ b, g }) => [g, b.neg(g)]);

export const mul = elementwise('mul', 2, (x, y) => x * y, ({ b, g, node }) => [
  b.mul(g, node.src[1]),
  b.mul(g, node.src[0]),
]);

/** d(x/y) = g/y, -g*(x/y)/y. */
export const div = elementwise('div', 2, (x, y) => x / y, ({ b, g, node, id }) => [
  b.div(g, node.src[1]),
  b.neg(b.div(b.mul(g, id), node.src[1])),
]);

/** d(x^y) = g*y*x^(y-1), g*x^y*log(x). */
export const pow = elementwise('pow', 2, Math.pow, ({ b, g, node, id }) => {
  const [x, y] = node.src;
  const dx = b.mul(g, b.mul(y, b.pow(x, b.sub(y, b.scalarLike(1, y)))));
  const dy = b.mul(g, b.mul(id, b.log(x)));
  return [dx, dy];
});

/** The gradient goes to `x` where x > y and to `y` elsewhere (so relu'(0) = 0). */
/**
 * The gradient goes to x where y < x, else to y (ties to y). The mask compares y with the
 * result, `y < max(x, y)`, which equals `y < x` for every float (NaN included, as max
 * propagates it): for relu the backward pass then reads relu's output, which the next layer
 * needs anyway, and the pre-activation fuses into the relu kernel instead of being stored.
 */
export const maximum = elementwise('maximum', 2, Math.max, ({ b, g, node, id }) => {
  const y = node.src[1];
  const xWins = b.less(y, id);
  const zero = b.scalarLike(0, g);
  return [b.where(xWins, g, zero), b.where(xWins, zero, g)];
});

/**
 * The identity whose gradient does not flow: for shifts that cancel, such as the max that
 * softmax and log-softmax subtract for stability (their value does not depend on it, so every
 * derivative through it is zero and need not be built). Its VJP is the explicit NONDIFF.
 */
export const stop_gradient = elementwise('stop_gradient', 1, (x) => x, () => [NONDIFF]);

export const less = elementwise('less', 2, (x, y) => (x < y ? 1 : 0), () => [NONDIFF, NONDIFF]);

export const equal = elementwise('equal', 2, (x, y) => (x === y ? 1 : 0), () => [
  NONDIFF,
  NONDIFF,
]);

/** `where(c, x, y)` is x where c != 0, else y. */
export const where = elementwise('where', 3, (c, x, y) => (c !== 0 ? x : y), ({ b, g, node }) => {
  const c = node.src[0];
  const zero = b.scalarLike(0, g);
  return [NONDIFF, b.where(c, g, zero), b.where(c, zero, g)];
});
