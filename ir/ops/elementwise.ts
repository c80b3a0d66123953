/**
 * Elementwise primitives. Inputs have the same shape as the output (the builder inserts
 * explicit `broadcast` nodes), so one shape rule and one evaluator serve them all.
 */
import type { PrimKind, Shape } from '../types.ts';
import { formatShape, sameShape } from '../types.ts';
import { ShapeError } from '../errors.ts';
import type { ElementwiseOpDef, EvalArgs } from './op.ts';
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

/** What an elementwise record states; the family adds its category, shape rule and evaluator. */
type ElementwiseFacts = Omit<ElementwiseOpDef, 'category' | 'inferShape' | 'evalRef'>;

/**
 * An elementwise record from its facts, whose literal types it keeps (`arity: 1`,
 * `accuracy: 'libm'`), so types derived from the registry can select by them (the DSL's unary
 * kinds, the renderers' tables, the tests' error models).
 */
function elementwise<const F extends ElementwiseFacts>(facts: F): F & ElementwiseOpDef {
  const { kind, scalar } = facts;
  return {
    ...facts,
    category: 'elementwise',
    inferShape: sameShapes(kind),
    evalRef({ inputs }: EvalArgs): Float64Array {
      const n = inputs[0].length;
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = scalar(...inputs.map((x) => x[i]));
      return out;
    },
  };
}

/** The cost of a simple arithmetic operation, the unit of `cost`. */
const ARITHMETIC = 1;
/** A math function (exp, log, tanh, pow, sqrt) counted as several simple operations. */
const MATH_FUNCTION = 8;

export const neg = elementwise({
  kind: 'neg',
  arity: 1,
  cost: ARITHMETIC,
  accuracy: 'exact',
  scalar: (x) => -x,
  vjp: ({ b, g }) => [b.neg(g)],
});

export const exp = elementwise({
  kind: 'exp',
  arity: 1,
  cost: MATH_FUNCTION,
  accuracy: 'libm',
  scalar: Math.exp,
  vjp: ({ b, g, id }) => [b.mul(g, id)],
});

export const log = elementwise({
  kind: 'log',
  arity: 1,
  cost: MATH_FUNCTION,
  accuracy: 'libm',
  scalar: Math.log,
  vjp: ({ b, g, node }) => [b.div(g, node.src[0])],
});

/** d sqrt(x) = 1 / (2 sqrt(x)), reusing the forward value. */
export const sqrt = elementwise({
  kind: 'sqrt',
  arity: 1,
  cost: MATH_FUNCTION,
  accuracy: 'rounded',
  scalar: Math.sqrt,
  vjp: ({ b, g, id }) => [b.div(b.mul(g, b.scalarLike(0.5, id)), id)],
});

/** d tanh(x) = 1 - tanh(x)^2, reusing the forward value. */
export const tanh = elementwise({
  kind: 'tanh',
  arity: 1,
  cost: MATH_FUNCTION,
  accuracy: 'libm',
  scalar: Math.tanh,
  vjp: ({ b, g, id }) => [b.mul(g, b.sub(b.scalarLike(1, id), b.mul(id, id)))],
});

/**
 * The identity whose gradient does not flow: for shifts that cancel, such as the max that
 * softmax and log-softmax subtract for stability (their value does not depend on it, so every
 * derivative through it is zero and need not be built). Its VJP is the explicit NONDIFF. It
 * stays in the graph (a graph differentiated again keeps its meaning); the scheduler passes its
 * operand through, so it costs nothing.
 */
export const stop_gradient = elementwise({
  kind: 'stop_gradient',
  arity: 1,
  cost: 0,
  accuracy: 'exact',
  passThrough: true,
  scalar: (x) => x,
  vjp: () => [NONDIFF],
});

export const add = elementwise({
  kind: 'add',
  arity: 2,
  cost: ARITHMETIC,
  accuracy: 'rounded',
  scalar: (x, y) => x + y,
  vjp: ({ g }) => [g, g],
});

export const sub = elementwise({
  kind: 'sub',
  arity: 2,
  cost: ARITHMETIC,
  accuracy: 'rounded',
  scalar: (x, y) => x - y,
  vjp: ({ b, g }) => [g, b.neg(g)],
});

export const mul = elementwise({
  kind: 'mul',
  arity: 2,
  cost: ARITHMETIC,
  accuracy: 'rounded',
  scalar: (x, y) => x * y,
  vjp: ({ b, g, node }) => [b.mul(g, node.src[1]), b.mul(g, node.src[0])],
});

/** d(x/y) = g/y, -g*(x/y)/y. */
export const div = elementwise({
  kind: 'div',
  arity: 2,
  cost: ARITHMETIC,
  accuracy: 'rounded',
  scalar: (x, y) => x / y,
  vjp: ({ b, g, node, id }) => [b.div(g, node.src[1]), b.neg(b.div(b.mul(g, id), node.src[1]))],
});

/** d(x^y) = g*y*x^(y-1), g*x^y*log(x). */
export const pow = elementwise({
  kind: 'pow',
  arity: 2,
  cost: MATH_FUNCTION,
  accuracy: 'libm',
  scalar: Math.pow,
  vjp: ({ b, g, node, id }) => {
    const [x, y] = node.src;
    const dx = b.mul(g, b.mul(y, b.pow(x, b.sub(y, b.scalarLike(1, y)))));
    const dy = b.mul(g, b.mul(id, b.log(x)));
    return [dx, dy];
  },
});

/**
 * The gradient goes to x where y < x, else to y (ties to y, so relu'(0) = 0). The mask compares
 * y with the result, `y < max(x, y)`, which equals `y < x` for every float (NaN included, as max
 * propagates it): for relu the backward pass then reads relu's output, which the next layer
 * needs anyway, and the pre-activation fuses into the relu kernel instead of being stored.
 */
export const maximum = elementwise({
  kind: 'maximum',
  arity: 2,
  cost: ARITHMETIC,
  accuracy: 'exact',
  scalar: Math.max,
  vjp: ({ b, g, node, id }) => {
    const y = node.src[1];
    const xWins = b.less(y, id);
    const zero = b.scalarLike(0, g);
    return [b.where(xWins, g, zero), b.where(xWins, zero, g)];
  },
});

export const less = elementwise({
  kind: 'less',
  arity: 2,
  cost: ARITHMETIC,
  accuracy: 'exact',
  scalar: (x, y) => (x < y ? 1 : 0),
  vjp: () => [NONDIFF, NONDIFF],
});

export const equal = elementwise({
  kind: 'equal',
  arity: 2,
  cost: ARITHMETIC,
  accuracy: 'exact',
  scalar: (x, y) => (x === y ? 1 : 0),
  vjp: () => [NONDIFF, NONDIFF],
});

/** `where(c, x, y)` is x where c != 0, else y. */
export const where = elementwise({
  kind: 'where',
  arity: 3,
  cost: ARITHMETIC,
  accuracy: 'exact',
  scalar: (c, x, y) => (c !== 0 ? x : y),
  vjp: ({ b, g, node }) => {
    const c = node.src[0];
    const zero = b.scalarLike(0, g);
    return [NONDIFF, b.where(c, g, zero), b.where(c, zero, g)];
  },
});
