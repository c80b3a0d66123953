/**
 * 2-D matrix product with optional transposed operands: attrs { transA, transB }.
 * Folding transposes into the product keeps the backward pass free of copies.
 */
import type { Attrs, Shape } from '../types.ts';
import { formatShape } from '../types.ts';
import { ShapeError } from '../errors.ts';
import type { OpDef } from './op.ts';

export interface MatmulDims {
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

export function matmulDims(a: Shape, b: Shape, attrs: Attrs): MatmulDims {
  if (a.length !== 2 || b.length !== 2) {
    throw new ShapeError(`matmul needs 2-D operands, got ${formatShape(a)} and ${formatShape(b)}`);
  }
  const [m, ka] = attrs.transA ? [a[1], a[0]] : [a[0], a[1]];
  const [kb, n] = attrs.transB ? [b[1], b[0]] : [b[0], b[1]];
  if (ka !== kb) {
    const ta = attrs.transA ? 'ᵀ' : '';
    const tb = attrs.transB ? 'ᵀ' : '';
    throw new ShapeError(
      `matmul ${formatShape(a)}${ta} x ${formatShape(b)}${tb}: inner sizes differ (${ka} vs ${kb})`,
    );
  }
  return { m, k: ka, n };
}

export const matmul: OpDef = {
  kind: 'matmul',
  category: 'matmul',
  arity: 2,
  inferShape([a, b], attrs) {
    const { m, n } = matmulDims(a, b, attrs);
    return [m, n];
  },
  /** With op(X) = X or Xᵀ: dA from dC op(B)ᵀ, dB from op(A)ᵀ dC, each folded back to A's layout. */
  vjp: ({ b, g, node }) => {
    const [x, y] = node.src;
    const tA = node.attrs.transA as boolean;
    const tB = node.attrs.transB as boolean;
    const dx = tA ? b.matmul(y, g, tB, true) : b.matmul(g, y, false, !tB);
    const dy = tB ? b.matmul(g, x, true, tA) : b.matmul(x, g, !tA, false);
    return [dx, dy];
  },
  evalRef({ inputs, srcShapes, attrs }) {
    const { m, k, n } = matmulDims(srcShapes[0], srcShapes[1], attrs);
    const [a, bm] = inputs;
    const aCols = srcShapes[0][1];
    const bCols = srcShapes[1][1];
    const at = (i: number, p: number) => (attrs.transA ? a[p * aCols + i] : a[i * aCols + p]);
    const bt = (p: number, j: number) => (attrs.transB ? bm[j * bCols + p] : bm[p * bCols + j]);
    const out = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += at(i, p) * bt(p, j);
        out[i * n + j] = acc;
      }
    }
    return out;
  },
};
