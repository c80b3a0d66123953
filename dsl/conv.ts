/**
 * Convolution and pooling over NHWC tensors (channels last, as Keras and tfjs lay them out),
 * written over the window primitives (ir/ops/window.ts): a convolution is a matrix product
 * of the input's patches [N·OH·OW, KH·KW·C] with the filters [KH·KW·C, F]; max pooling is a max
 * over the window axes of patches padded with -inf; average pooling a mean over the window's
 * elements inside the input. Output sizes follow Keras: `valid` keeps whole windows only,
 * floor((H - DH·(KH-1) - 1) / SH) + 1; `same` gives ceil(H / SH), padding split evenly with the
 * odd row or column at the bottom or right.
 */
import type { GraphBuilder } from '../ir/builder.ts';
import type { NodeId, SourceLoc } from '../ir/types.ts';
import { formatShape } from '../ir/types.ts';
import type { WindowGeometry } from '../ir/ops/window.ts';
import { GradcError } from '../ir/errors.ts';
import type { Shape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import { tensorArg, traced, wrap } from './tensor.ts';

/** How windows slide: `padding` 'valid' (default) or 'same', and `strides` per axis. */
export interface WindowOptions {
  readonly strides?: readonly [number, number];
  readonly padding?: 'same' | 'valid';
}

/** Options of `conv2d`: strides, padding and the filter's dilation. */
export interface Conv2dOptions extends WindowOptions {
  readonly dilation?: readonly [number, number];
}

/** Options of `maxPool2d` and `avgPool2d`: the window size; strides default to it. */
export interface PoolOptions extends WindowOptions {
  readonly size: readonly [number, number];
}

/** A spatial output size: the input's with 'same' padding and unit strides, else computed at build time. */
type SpatialOut<H extends number, O> = O extends { readonly padding: 'same' }
  ? O extends { readonly strides: readonly [number, number] }
    ? O['strides'] extends readonly [1, 1]
      ? H
      : number
    : H
  : number;

type NHWC = readonly [number, number, number, number];

/** Rows (or columns) of padding before and after for Keras' `same`: output ceil(size / stride). */
function samePadding(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Two positive integers, `fallback` when absent (required without one). */
function pair(what: string, value: unknown, loc: SourceLoc | undefined, fallback?: readonly [number, number]): readonly [number, number] {
  if (value === undefined && fallback) return fallback;
  const ok = Array.isArray(value) && value.length === 2 && value.every((v) => Number.isSafeInteger(v) && v >= 1);
  if (!ok) throw new GradcError(`${what} must be two positive integers [rows, columns], got ${JSON.stringify(value)}`, loc);
  return value as unknown as readonly [number, number];
}

/** The geometry of windows of `kernel` over `x` with the user's options, checked at `loc`. */
function geometryOf(
  what: string,
  x: Shape,
  kernel: readonly [number, number],
  options: Conv2dOptions,
  defaultStrides: readonly [number, number],
  loc: SourceLoc | undefined,
): WindowGeometry {
  if (x.length !== 4) throw new GradcError(`${what} takes an NHWC tensor [N,H,W,C], got ${formatShape(x)}`, loc);
  const strides = pair('strides', options.strides, loc, defaultStrides);
  const dilation = pair('dilation', options.dilation, loc, [1, 1]);
  const padding = options.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid') {
    throw new GradcError(`padding must be 'same' or 'valid', got ${JSON.stringify(padding)}`, loc);
  }
  const [top, bottom] = padding === 'same' ? samePadding(x[1], kernel[0], strides[0], dilation[0]) : [0, 0];
  const [left, right] = padding === 'same' ? samePadding(x[2], kernel[1], strides[1], dilation[1]) : [0, 0];
  return { kernel, strides, dilation, padding: [top, bottom, left, right] };
}

/** The windows of a pooling layer: `size`, strides defaulting to it, the padding asked for. */
function poolGeometry(what: string, x: Shape, options: PoolOptions, loc: SourceLoc | undefined): WindowGeometry {
  const size = pair('size', options?.size, loc);
  return geometryOf(what, x, size, options, size, loc);
}

/**
 * Runs `build` over the graph of `x` with the caller's line recorded (`loc`, for the errors it
 * finds: the stack inside a layer is too deep to find the user's line again) and wraps the node
 * it returns.
 */
function windowed<S extends Shape>(
  x: Tensor<Shape>,
  what: string,
  build: (g: GraphBuilder, loc: SourceLoc | undefined) => NodeId,
): Tensor<S> {
  const g = tensorArg(x, what).graph;
  return traced(g, what, () => wrap<S>(g, build(g, g.activeLoc)));
}

/**
 * 2-D convolution (cross-correlation, as every framework computes it) of x [N,H,W,C] with
 * filters w [KH,KW,C,F]: [N,OH,OW,F]. A channel count that differs between x and w is a `tsc`
 * error where both are literals.
 */
export function conv2d<
  N extends number,
  H extends number,
  W extends number,
  C extends number,
  KH extends number,
  KW extends number,
  F extends number,
  const O extends Conv2dOptions = Record<never, never>,
>(
  x: Tensor<readonly [N, H, W, C]>,
  w: Tensor<readonly [KH, KW, NoInfer<C>, F]>,
  options?: O,
): Tensor<[N, SpatialOut<H, O>, SpatialOut<W, O>, F]> {
  return windowed(x, 'conv2d', (g, loc) => {
    tensorArg(w, 'conv2d');
    const filters = w.shape as unknown as readonly number[];
    if (filters.length !== 4 || filters[2] !== x.shape[3]) {
      throw new GradcError(
        `filters must be [KH,KW,C,F] with C = ${x.shape[3]} (the input's channels), got ${formatShape(filters)}`,
        loc,
      );
    }
    const [kh, kw, c, f] = filters;
    const geometry = geometryOf('conv2d', x.shape, [kh, kw], options ?? {}, [1, 1], loc);
    const patches = g.patches(x.id, geometry, 0);
    const [n, oh, ow] = g.shapeOf(patches);
    const rows = g.reshape(patches, [n * oh * ow, kh * kw * c]);
    const product = g.matmul(rows, g.reshape(w.id, [kh * kw * c, f]));
    return g.reshape(product, [n, oh, ow, f]);
  });
}

/** The largest element of each window: [N,OH,OW,C]; padding never wins (it reads -inf). */
export function maxPool2d<N extends number, C extends number>(
  x: Tensor<readonly [N, number, number, C]>,
  options: PoolOptions,
): Tensor<[N, number, number, C]> {
  return windowed(x, 'maxPool2d', (g, loc) => {
    const patches = g.patches(x.id, poolGeometry('maxPool2d', x.shape, options, loc), -Infinity);
    return g.reduceMax(patches, [3, 4]);
  });
}

/**
 * The mean of each window's elements inside the input: [N,OH,OW,C]. With 'same' padding a
 * window at the border averages fewer elements, as Keras does.
 */
export function avgPool2d<N extends number, C extends number>(
  x: Tensor<readonly [N, number, number, C]>,
  options: PoolOptions,
): Tensor<[N, number, number, C]> {
  return windowed(x, 'avgPool2d', (g, loc) => {
    const geometry = poolGeometry('avgPool2d', x.shape, options, loc);
    const sums = g.sum(g.patches(x.id, geometry, 0), [3, 4]);
    const [kh, kw] = geometry.kernel;
    if (geometry.padding.every((p) => p === 0)) return g.mul(sums, g.fill(1 / (kh * kw), []));
    const [, h, w] = x.shape;
    const inside = g.sum(g.patches(g.fill(1, [1, h, w, 1]), geometry, 0), [3, 4]);
    return g.div(sums, inside);
  });
}

/** The mean over the spatial axes: [N,H,W,C] → [N,C]. */
export function globalAvgPool<N extends number, C extends number>(
  x: Tensor<readonly [N, number, number, C]>,
): Tensor<[N, C]> {
  return windowed(x, 'globalAvgPool', (g, loc) => {
    const shape = x.shape as NHWC;
    if (shape.length !== 4) throw new GradcError(`globalAvgPool takes an NHWC tensor [N,H,W,C], got ${formatShape(shape)}`, loc);
    return g.mul(g.sum(x.id, [1, 2]), g.fill(1 / (shape[1] * shape[2]), []));
  });
}

/** Every axis but the first in one: [N, ...] → [N, product of the rest]. */
export function flatten<N extends number>(x: Tensor<readonly [N, ...number[]]>): Tensor<[N, number]> {
  return windowed(x, 'flatten', (g) => {
    const [n, ...rest] = x.shape;
    return g.reshape(x.id, [n, rest.reduce((a, b) => a * b, 1)]);
  });
}
