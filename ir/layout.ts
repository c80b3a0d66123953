/** Index arithmetic shared by the reference evaluator and the kernel lowering. */
import type { Shape } from './types.ts';

/** Row-major strides of a contiguous tensor. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Strides that read an input of `inShape` at the multi-index of an output of `outShape` under
 * numpy broadcasting (shapes aligned on the right; a size-1 or missing axis has stride 0).
 */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const inStrides = stridesOf(inShape);
  const offset = outShape.length - inShape.length;
  return outShape.map((_, axis) => {
    const inAxis = axis - offset;
    if (inAxis < 0 || inShape[inAxis] === 1) return 0;
    return inStrides[inAxis];
  });
}

/** Strides that read the input of `transpose(x, perm)` at an output multi-index. */
export function transposeStrides(inShape: Shape, perm: readonly number[]): number[] {
  const inStrides = stridesOf(inShape);
  return perm.map((p) => inStrides[p]);
}

/**
 * A strided view: output element `i` (row-major over `outShape`) reads input element
 * `sum_d ((i / outStrides[d]) % outShape[d]) * inStrides[d]`.
 */
export interface StridedView {
  readonly outShape: Shape;
  readonly inStrides: readonly number[];
}

/**
 * The view that maps an element of `shape` to its index along `axis`: stride 1 on that axis,
 * 0 on the others. `axisView([2, 3], 1)` maps elements 0..5 to 0, 1, 2, 0, 1, 2.
 */
export function axisView(shape: Shape, axis: number): StridedView {
  return { outShape: shape, inStrides: shape.map((_, d) => (d === axis ? 1 : 0)) };
}

export function viewIndex(view: StridedView, i: number): number {
  const outStrides = stridesOf(view.outShape);
  let index = 0;
  for (let d = 0; d < view.outShape.length; d++) {
    if (view.inStrides[d] === 0) continue;
    index += (Math.floor(i / outStrides[d]) % view.outShape[d]) * view.inStrides[d];
  }
  return index;
}

/** One loop axis of a view: `size` steps of `stride` elements of the input. */
export interface ViewAxis {
  readonly size: number;
  readonly stride: number;
}

/**
 * A view reduced to the fewest axes that read the same elements: size-1 axes dropped and
 * neighbours merged when the outer one steps over the inner one exactly (broadcast runs merge
 * too). `{ outShape: [2,3,4], inStrides: [0,4,1] }` → `[{ size: 2, stride: 0 }, { size: 12,
 * stride: 1 }]`.
 */
export function simplifyView(view: StridedView): ViewAxis[] {
  const axes: ViewAxis[] = [];
  view.outShape.forEach((size, d) => {
    if (size === 1) return;
    const stride = view.inStrides[d];
    const last = axes[axes.length - 1];
    if (last && last.stride === stride * size) {
      axes[axes.length - 1] = { size: last.size * size, stride };
    } else {
      axes.push({ size, stride });
    }
  });
  return axes;
}

/** True when the view reads input element `i` for output element `i`. */
export function isIdentityAxes(axes: readonly ViewAxis[]): boolean {
  return axes.length === 0 || (axes.length === 1 && axes[0].stride === 1);
}

/** The shape `sum(x, axes, keepDims=true)` has. */
export function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

/**
 * A reduction split into an output part and a reduced part: input element for output `o` and
 * reduction step `r` is `outView(o) + redView(r)`.
 */
export interface ReductionLayout {
  readonly outView: StridedView;
  readonly redView: StridedView;
  readonly reduceSize: number;
}

export function reductionLayout(inShape: Shape, axes: readonly number[]): ReductionLayout {
  const inStrides = stridesOf(inShape);
  const keep = inShape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = keep.map((i) => inShape[i]);
  const redShape = axes.map((i) => inShape[i]);
  return {
    outView: { outShape, inStrides: keep.map((i) => inStrides[i]) },
    redView: { outShape: redShape, inStrides: axes.map((i) => inStrides[i]) },
    reduceSize: redShape.reduce((a, b) => a * b, 1),
  };
}

export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * One axis of the input a window view reads. Its coordinate for the output multi-index `o` is
 * `(Σ coef·o[axis] over terms + offset) / divisor`, defined when that numerator is a multiple of
 * `divisor` and the quotient lies in [0, size of the axis).
 */
export interface WindowAxis {
  readonly terms: readonly { readonly axis: number; readonly coef: number }[];
  readonly offset: number;
  readonly divisor: number;
}

/**
 * A gather that may fall outside its input: the patches of a convolution or pooling window
 * (with padding) and the terms of their adjoint (ir/ops/window.ts). Output element `i`
 * (row-major over `outShape`) reads the input (contiguous, of `inShape`) at the coordinates its
 * `axes` give, or `fill` where one of them is undefined.
 */
export interface WindowView {
  readonly outShape: Shape;
  readonly inShape: Shape;
  /** One per input axis. */
  readonly axes: readonly WindowAxis[];
  readonly fill: number;
}

/** The input element output element `i` of a window view reads, or undefined for `fill`. */
export function windowIndex(view: WindowView, i: number): number | undefined {
  const outStrides = stridesOf(view.outShape);
  const inStrides = stridesOf(view.inShape);
  const o = view.outShape.map((size, d) => Math.floor(i / outStrides[d]) % size);
  let index = 0;
  for (let j = 0; j < view.axes.length; j++) {
    const { terms, offset, divisor } = view.axes[j];
    const numerator = terms.reduce((acc, t) => acc + t.coef * o[t.axis], offset);
    if (numerator < 0 || numerator % divisor !== 0) return undefined;
    const coordinate = numerator / divisor;
    if (coordinate >= view.inShape[j]) return undefined;
    index += coordinate * inStrides[j];
  }
  return index;
}

/** The smallest and largest numerator of a window axis over every output index. */
export function windowAxisRange(axis: WindowAxis, outShape: Shape): { min: number; max: number } {
  let min = axis.offset;
  let max = axis.offset;
  for (const { axis: d, coef } of axis.terms) {
    const span = coef * (outShape[d] - 1);
    if (span < 0) min += span;
    else max += span;
  }
  return { min, max };
}
