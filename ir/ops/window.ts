/**
 * Sliding windows over the two spatial axes of an NHWC tensor, the primitives of convolution and
 * pooling. `patches` gathers every window: [N,H,W,C] → [N,OH,OW,KH,KW,C], reading `fill` where a
 * window reaches into the padding. `unpatches` is its adjoint: it adds every window element back
 * onto the input position it came from, [N,OH,OW,KH,KW,C] → [N,H,W,C]. Each is the other's VJP,
 * so a network of convolutions can be differentiated twice.
 *
 * A convolution is a matrix product over patches (dsl/conv.ts), max pooling a max over the
 * window axes of patches filled with -inf, average pooling a sum.
 *
 * attrs of both: { kernel: [KH, KW], strides: [SH, SW], dilation: [DH, DW], padding: [top,
 * bottom, left, right] }; `patches` adds { fill }, `unpatches` { shape } (the [N,H,W,C] it
 * adds into).
 */
import type { Attrs, Shape } from '../types.ts';
import { formatShape, sizeOf } from '../types.ts';
import { ShapeError } from '../errors.ts';
import type { WindowAxis, WindowView } from '../layout.ts';
import { stridesOf, windowIndex } from '../layout.ts';
import type { OpDef } from './op.ts';

/** How windows slide over the spatial axes (H, W) of an NHWC tensor. */
export interface WindowGeometry {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilation: readonly [number, number];
  /** Rows and columns of padding: top, bottom, left, right. */
  readonly padding: readonly [number, number, number, number];
}

/** The geometry attributes of a `patches` or `unpatches` node. */
export function windowGeometry(attrs: Attrs): WindowGeometry {
  return {
    kernel: attrs.kernel as unknown as WindowGeometry['kernel'],
    strides: attrs.strides as unknown as WindowGeometry['strides'],
    dilation: attrs.dilation as unknown as WindowGeometry['dilation'],
    padding: attrs.padding as unknown as WindowGeometry['padding'],
  };
}

/** The attributes that carry a geometry (plain arrays, so nodes intern and print). */
export function geometryAttrs(g: WindowGeometry): Attrs {
  return { kernel: [...g.kernel], strides: [...g.strides], dilation: [...g.dilation], padding: [...g.padding] };
}

/** Windows along one axis: floor((size + before + after - dilation·(kernel-1) - 1) / stride) + 1. */
export function windowCount(size: number, kernel: number, stride: number, dilation: number, before: number, after: number): number {
  return Math.floor((size + before + after - dilation * (kernel - 1) - 1) / stride) + 1;
}

const isCount = (v: unknown, least: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= least;

function checkGeometry(g: WindowGeometry): void {
  const pairs = [
    ['kernel', g.kernel, 1],
    ['strides', g.strides, 1],
    ['dilation', g.dilation, 1],
  ] as const;
  for (const [what, value, least] of pairs) {
    if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => isCount(v, least))) {
      throw new ShapeError(`${what} must be two positive integers, got ${JSON.stringify(value)}`);
    }
  }
  if (!Array.isArray(g.padding) || g.padding.length !== 4 || !g.padding.every((v) => isCount(v, 0))) {
    throw new ShapeError(`padding must be four integers >= 0 (top, bottom, left, right), got ${JSON.stringify(g.padding)}`);
  }
}

/** [OH, OW] for an NHWC input, or a ShapeError saying why no window fits. */
export function windowGrid(x: Shape, g: WindowGeometry): [number, number] {
  checkGeometry(g);
  if (x.length !== 4) throw new ShapeError(`windows slide over an NHWC tensor [N,H,W,C], got ${formatShape(x)}`);
  const [, h, w] = x;
  const oh = windowCount(h, g.kernel[0], g.strides[0], g.dilation[0], g.padding[0], g.padding[1]);
  const ow = windowCount(w, g.kernel[1], g.strides[1], g.dilation[1], g.padding[2], g.padding[3]);
  if (oh < 1 || ow < 1) {
    const extent = g.kernel.map((k, i) => g.dilation[i] * (k - 1) + 1);
    throw new ShapeError(
      `a ${extent[0]}x${extent[1]} window does not fit the ${h}x${w} input ${formatShape(x)} ` +
        `with padding [${g.padding}]`,
    );
  }
  return [oh, ow];
}

/** The shape of `patches(x)`: [N, OH, OW, KH, KW, C]. */
export function patchesShape(x: Shape, g: WindowGeometry): Shape {
  const [oh, ow] = windowGrid(x, g);
  return [x[0], oh, ow, g.kernel[0], g.kernel[1], x[3]];
}

const term = (axis: number, coef: number) => ({ axis, coef });
const identityAxis = (axis: number): WindowAxis => ({ terms: [term(axis, 1)], offset: 0, divisor: 1 });

/**
 * The gather `patches` is: window element (n, oh, ow, kh, kw, c) reads x at row
 * oh·SH + kh·DH - top and column ow·SW + kw·DW - left, or `fill` in the padding.
 */
export function patchesView(x: Shape, g: WindowGeometry, fill: number): WindowView {
  const spatial = (outAxis: number, kernelAxis: number, d: 0 | 1): WindowAxis => ({
    terms: [term(outAxis, g.strides[d]), term(kernelAxis, g.dilation[d])],
    offset: -g.padding[2 * d],
    divisor: 1,
  });
  return {
    outShape: patchesShape(x, g),
    inShape: x,
    axes: [identityAxis(0), spatial(1, 3, 0), spatial(2, 4, 1), identityAxis(5)],
    fill,
  };
}

/**
 * `unpatches` as a sum of KH·KW gathers from the patches: the term for window offset (kh, kw)
 * reads, for input position (n, h, w, c), the window at oh = (h + top - kh·DH) / SH and
 * ow = (w + left - kw·DW) / SW when those divide exactly and lie inside the grid, else 0.
 */
export function unpatchesTerms(patches: Shape, g: WindowGeometry, x: Shape): WindowView[] {
  const views: WindowView[] = [];
  for (let kh = 0; kh < g.kernel[0]; kh++) {
    for (let kw = 0; kw < g.kernel[1]; kw++) {
      const spatial = (outAxis: number, k: number, d: 0 | 1): WindowAxis => ({
        terms: [term(outAxis, 1)],
        offset: g.padding[2 * d] - k * g.dilation[d],
        divisor: g.strides[d],
      });
      const fixed = (k: number): WindowAxis => ({ terms: [], offset: k, divisor: 1 });
      views.push({
        outShape: x,
        inShape: patches,
        axes: [identityAxis(0), spatial(1, kh, 0), spatial(2, kw, 1), fixed(kh), fixed(kw), identityAxis(3)],
        fill: 0,
      });
    }
  }
  return views;
}

/** Every window of an NHWC input; attrs: geometry and { fill } for the padding. */
export const patches: OpDef = {
  kind: 'patches',
  category: 'window',
  arity: 1,
  inferShape: ([x], attrs) => patchesShape(x, windowGeometry(attrs)),
  vjp: ({ b, g, node }) => [
    b.unpatches(g, windowGeometry(node.attrs), b.shapeOf(node.src[0])),
  ],
  evalRef({ inputs, srcShapes, attrs, shape }) {
    const view = patchesView(srcShapes[0], windowGeometry(attrs), attrs.fill as number);
    const out = new Float64Array(sizeOf(shape));
    for (let i = 0; i < out.length; i++) {
      const at = windowIndex(view, i);
      out[i] = at === undefined ? view.fill : inputs[0][at];
    }
    return out;
  },
};

/** The adjoint of `patches`: window elements added back where they came from; attrs: geometry and { shape }. */
export const unpatches: OpDef = {
  kind: 'unpatches',
  category: 'window',
  arity: 1,
  inferShape([p], attrs) {
    const x = attrs.shape as unknown as Shape;
    const expected = patchesShape(x, windowGeometry(attrs));
    if (formatShape(p) !== formatShape(expected)) {
      throw new ShapeError(`unpatches into ${formatShape(x)} takes patches ${formatShape(expected)}, got ${formatShape(p)}`);
    }
    return x;
  },
  vjp: ({ b, g, node }) => [b.patches(g, windowGeometry(node.attrs), 0)],
  // A scatter over the patches, written independently of `unpatchesTerms`' gathers.
  evalRef({ inputs, srcShapes, attrs, shape }) {
    const g = windowGeometry(attrs);
    const [n, oh, ow, kh, kw, c] = srcShapes[0];
    const [, h, w] = shape;
    const xStrides = stridesOf(shape);
    const out = new Float64Array(sizeOf(shape));
    let i = 0;
    for (let b = 0; b < n; b++)
      for (let y = 0; y < oh; y++)
        for (let x = 0; x < ow; x++)
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++)
              for (let ch = 0; ch < c; ch++, i++) {
                const row = y * g.strides[0] + ky * g.dilation[0] - g.padding[0];
                const col = x * g.strides[1] + kx * g.dilation[1] - g.padding[2];
                if (row < 0 || row >= h || col < 0 || col >= w) continue;
                out[b * xStrides[0] + row * xStrides[1] + col * xStrides[2] + ch] += inputs[0][i];
              }
    return out;
  },
};
