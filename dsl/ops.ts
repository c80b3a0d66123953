/**
 * The primitive operations as typed DSL functions. Every call records the caller's file:line.
 * Elementwise operations broadcast like numpy and accept plain numbers as scalars.
 */
import * as prim from './prim.ts';
import type { UnaryKind } from '../ir/ops/index.ts';
import type { Broadcast, BroadcastCheck, Shape } from './shape.ts';
import type { Operand, ShapeOf } from './tensor.ts';
import { Tensor, nodeOf, tensorArg, traced, wrap } from './tensor.ts';
import { GradcError } from '../ir/errors.ts';
import { describeValue } from '../ir/limits.ts';
import { callerLoc } from './loc.ts';
import { ModelContext } from './model.ts';

/** A binary primitive whose operand shapes are checked for broadcasting by tsc. */
type Binary = <A extends Operand, B extends Operand>(
  a: A,
  b: B & BroadcastCheck<ShapeOf<A>, ShapeOf<B>>,
) => Tensor<Broadcast<ShapeOf<A>, ShapeOf<B>>>;

type Unary = <S extends Shape>(x: Tensor<S>) => Tensor<S>;

/** A unary primitive as a DSL function: any elementwise record of arity 1 in the op registry. */
function unary(kind: UnaryKind): Unary {
  return (<S extends Shape>(x: Tensor<S>) => {
    tensorArg(x, kind);
    return traced(x.graph, kind, () => wrap<S>(x.graph, x.graph.make(kind, [x.id])));
  }) as Unary;
}

/** a + b, elementwise, with numpy broadcasting. */
export const add = prim.add as Binary;
/** a - b, elementwise, with numpy broadcasting. */
export const sub = prim.sub as Binary;
/** a * b, elementwise, with numpy broadcasting. */
export const mul = prim.mul as Binary;
/** a / b, elementwise, with numpy broadcasting. */
export const div = prim.div as Binary;
/** a raised to b, elementwise, with numpy broadcasting. */
export const pow = prim.pow as Binary;
/** The larger of a and b, elementwise (ReLU is `maximum(x, 0)`). */
export const maximum = prim.maximum as Binary;
/** 1 where a < b, else 0. */
export const less = prim.less as Binary;
/** 1 where a == b, else 0. */
export const equal = prim.equal as Binary;

/** -x, elementwise. */
export const neg = unary('neg');
/** e^x, elementwise. */
export const exp = unary('exp');
/** The natural logarithm, elementwise. */
export const log = unary('log');
/** The square root, elementwise. */
export const sqrt = unary('sqrt');
/** The hyperbolic tangent, elementwise. */
export const tanh = unary('tanh');
/** x, through which no gradient flows (for shifts that cancel, like softmax's max). */
export const stopGradient = unary('stop_gradient');

/** x where cond != 0, else y. */
export function where<S extends Shape>(cond: Tensor<S>, x: Operand, y: Operand): Tensor<S> {
  const g = tensorArg(cond, 'where').graph;
  return traced(g, 'where', () => wrap<S>(g, g.where(cond.id, nodeOf(g, x), nodeOf(g, y))));
}

/** Matrix product; the inner sizes must agree (a tsc error when both are literals). */
export function matmul<M extends number, K extends number, N extends number>(
  a: Tensor<readonly [M, K]>,
  b: Tensor<readonly [NoInfer<K>, N]>,
): Tensor<[M, N]> {
  const g = tensorArg(a, 'matmul').graph;
  tensorArg(b, 'matmul');
  return traced(g, 'matmul', () => wrap(g, g.matmul(a.id, nodeOf(g, b))));
}

/** The transpose of a matrix. */
export function transpose<R extends number, C extends number>(
  x: Tensor<readonly [R, C]>,
): Tensor<[C, R]> {
  const g = tensorArg(x, 'transpose').graph;
  return traced(g, 'transpose', () => wrap(g, g.transpose(x.id, [1, 0])));
}

/** The same elements in another shape with as many elements. */
export function reshape<const S extends Shape>(x: Tensor<Shape>, shape: S): Tensor<S> {
  const g = tensorArg(x, 'reshape').graph;
  return traced(g, 'reshape', () => wrap<S>(g, g.reshape(x.id, shape)));
}

/** x repeated along new or size-1 axes to `shape` (numpy broadcasting). */
export function broadcastTo<const S extends Shape>(x: Tensor<Shape>, shape: S): Tensor<S> {
  const g = tensorArg(x, 'broadcastTo').graph;
  return traced(g, 'broadcastTo', () => wrap<S>(g, g.broadcastTo(x.id, shape)));
}

/**
 * Each element's index along `axis` (negative axes count from the end), as a float:
 * `iota(m, [2, 3], 1)` is [[0, 1, 2], [0, 1, 2]]. The ramp joins the graph of `of`, a tensor or
 * the model context. Compared with class indices (`equal`) it makes one-hot rows.
 */
export function iota<const S extends Shape>(of: Tensor<Shape> | ModelContext, shape: S, axis: number): Tensor<S> {
  if (!(of instanceof Tensor || of instanceof ModelContext)) {
    throw new GradcError(`iota needs a tensor or the model context, got ${describeValue(of)}`, callerLoc('iota'));
  }
  const g = of.graph;
  const rank = Array.isArray(shape) ? shape.length : 0;
  const normalised = typeof axis === 'number' && axis < 0 ? axis + rank : axis;
  return traced(g, 'iota', () => wrap<S>(g, g.iota(shape, normalised)));
}

/** Axes counted from 0 (negative ones from the end), sorted and unique; the reduction checks the range. */
function normaliseAxes(what: string, rank: number, axes: number | readonly number[] | undefined): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list) || list.some((a) => typeof a !== 'number')) {
    throw new GradcError(`${what}: axes must be a number or an array of numbers`, callerLoc(what));
  }
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
}

/** Sum over `axes` (all axes by default; negative axes count from the end). */
export function sum(x: Tensor<Shape>, axes?: number | readonly number[], keepDims = false): Tensor<Shape> {
  const g = tensorArg(x, 'sum').graph;
  return traced(g, 'sum', () => wrap(g, g.sum(x.id, normaliseAxes('sum', x.shape.length, axes), keepDims)));
}

/** Sum of every element: a scalar. */
export function sumAll(x: Tensor<Shape>): Tensor<[]> {
  return sum(x) as Tensor<[]>;
}

/** Maximum over `axes` (all by default; negative axes count from the end). */
export function reduceMax(
  x: Tensor<Shape>,
  axes?: number | readonly number[],
  keepDims = false,
): Tensor<Shape> {
  const g = tensorArg(x, 'reduceMax').graph;
  return traced(g, 'reduceMax', () =>
    wrap(g, g.reduceMax(x.id, normaliseAxes('reduceMax', x.shape.length, axes), keepDims)),
  );
}

/** Mean over `axes` (all by default), written as a sum times a constant. */
export function mean(x: Tensor<Shape>, axes?: number | readonly number[], keepDims = false): Tensor<Shape> {
  const list = normaliseAxes('mean', tensorArg(x, 'mean').shape.length, axes);
  const count = list.reduce((n, a) => n * x.shape[a], 1);
  return prim.mul(sum(x, list, keepDims), 1 / count);
}

/** x * x, elementwise. */
export function square<S extends Shape>(x: Tensor<S>): Tensor<S> {
  return prim.mul(x, x) as Tensor<S>;
}

/** |x|, elementwise, written as max(x, -x); at 0, where the two tie, its gradient is -1. */
export function abs<S extends Shape>(x: Tensor<S>): Tensor<S> {
  return prim.maximum(x, neg(x)) as Tensor<S>;
}

/** The sign of x, elementwise: 1 above 0, -1 below, 0 at 0; no gradient flows through it. */
export function sign<S extends Shape>(x: Tensor<S>): Tensor<S> {
  return prim.sub(prim.less(0, x), prim.less(x, 0)) as Tensor<S>;
}
