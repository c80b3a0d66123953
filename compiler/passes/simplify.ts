/**
 * Algebraic simplification and constant folding. Constants are always uniform fills, so every
 * fold stays a fill: no tensors are materialised at build time.
 *
 * Every rule keeps IEEE float values, so a NaN or infinity reaches the loss as it would
 * unoptimised: `x*1` and `-(-x)` hold for every float and `x+0` differs only in the sign of a
 * zero; `x*0 → 0` does not hold (inf·0 and NaN·0 are NaN) and is not a rule. Where a gradient is zero because nothing depends on a
 * value, autodiff emits the zero fill directly.
 */
import type { NodeId } from '../../ir/types.ts';
import { sizeOf } from '../../ir/types.ts';
import type { GraphBuilder, NodeProposal, RewriteRule } from '../../ir/builder.ts';
import { OPS, isElementwise } from '../../ir/ops/index.ts';

function fillValue(b: GraphBuilder, id: NodeId): number | undefined {
  const node = b.node(id);
  return node.kind === 'fill' ? (node.attrs.value as number) : undefined;
}

function isFillOf(b: GraphBuilder, id: NodeId, value: number): boolean {
  return fillValue(b, id) === value;
}

function rule(name: string, apply: RewriteRule['apply']): RewriteRule {
  return { name, apply };
}

/** An elementwise op or a movement op over fills is a fill. */
const foldFills = rule('fold-fills', (b, n) => {
  const op = OPS[n.kind];
  if (n.src.length === 0) return undefined;
  const values = n.src.map((s) => fillValue(b, s));
  if (values.some((v) => v === undefined)) return undefined;
  if (isElementwise(op)) return b.fill(op.scalar(...(values as number[])), n.shape);
  if (op.category === 'movement') return b.fill(values[0]!, n.shape);
  if (n.kind === 'sum') {
    const count = sizeOf(b.shapeOf(n.src[0])) / sizeOf(n.shape);
    return b.fill(values[0]! * count, n.shape);
  }
  if (n.kind === 'reduce_max') return b.fill(values[0]!, n.shape);
  return undefined;
});

function binaryIdentity(
  name: string,
  kind: NodeProposal['kind'],
  side: 0 | 1,
  value: number,
): RewriteRule {
  return rule(name, (b, n) => {
    if (n.kind !== kind || !isFillOf(b, n.src[side], value)) return undefined;
    return n.src[1 - side];
  });
}

const zeroMinus = rule('0-x', (b, n) =>
  n.kind === 'sub' && isFillOf(b, n.src[0], 0) ? b.neg(n.src[1]) : undefined,
);

const subOfNeg = rule('x-(-y)', (b, n) => {
  if (n.kind !== 'sub' || b.node(n.src[1]).kind !== 'neg') return undefined;
  return b.add(n.src[0], b.node(n.src[1]).src[0]);
});

const addOfNeg = rule('x+(-y)', (b, n) => {
  if (n.kind !== 'add' || b.node(n.src[1]).kind !== 'neg') return undefined;
  return b.sub(n.src[0], b.node(n.src[1]).src[0]);
});

const doubleNeg = rule('-(-x)', (b, n) =>
  n.kind === 'neg' && b.node(n.src[0]).kind === 'neg' ? b.node(n.src[0]).src[0] : undefined,
);

const mulByMinusOne = rule('x*-1', (b, n) => {
  if (n.kind !== 'mul') return undefined;
  if (isFillOf(b, n.src[1], -1)) return b.neg(n.src[0]);
  if (isFillOf(b, n.src[0], -1)) return b.neg(n.src[1]);
  return undefined;
});

const reshapeOfReshape = rule('reshape(reshape)', (b, n) => {
  if (n.kind !== 'reshape' || b.node(n.src[0]).kind !== 'reshape') return undefined;
  return b.reshape(b.node(n.src[0]).src[0], n.shape);
});

const reshapeIdentity = rule('reshape-identity', (b, n) =>
  n.kind === 'reshape' && sameShapeAs(b, n.src[0], n.shape) ? n.src[0] : undefined,
);

const broadcastIdentity = rule('broadcast-identity', (b, n) =>
  n.kind === 'broadcast' && sameShapeAs(b, n.src[0], n.shape) ? n.src[0] : undefined,
);

const transposeOfTranspose = rule('transpose(transpose)', (b, n) => {
  if (n.kind !== 'transpose' || b.node(n.src[0]).kind !== 'transpose') return undefined;
  const inner = b.node(n.src[0]);
  const innerPerm = inner.attrs.perm as readonly number[];
  const perm = (n.attrs.perm as readonly number[]).map((p) => innerPerm[p]);
  return b.transpose(inner.src[0], perm);
});

/** matmul(transpose(a), b) reads `a` transposed instead of copying it. */
const foldTransposeIntoMatmul = rule('matmul(transpose)', (b, n) => {
  if (n.kind !== 'matmul') return undefined;
  const [x, y] = n.src.map((s) => b.node(s));
  // Only a real swap [1,0]: an identity transpose made with `make` must not flip the flag.
  const swaps = (t: typeof x) => t.kind === 'transpose' && (t.attrs.perm as number[])[0] === 1;
  const xT = swaps(x) && x.shape.length === 2;
  const yT = swaps(y) && y.shape.length === 2;
  if (!xT && !yT) return undefined;
  return b.matmul(
    xT ? x.src[0] : n.src[0],
    yT ? y.src[0] : n.src[1],
    xT ? !n.attrs.transA : (n.attrs.transA as boolean),
    yT ? !n.attrs.transB : (n.attrs.transB as boolean),
  );
});

function sameShapeAs(b: GraphBuilder, id: NodeId, shape: readonly number[]): boolean {
  const s = b.shapeOf(id);
  return s.length === shape.length && s.every((d, i) => d === shape[i]);
}

/** The rules of the `simplify` pass, in the order they are tried. */
export const SIMPLIFY_RULES: readonly RewriteRule[] = [
  foldFills,
  binaryIdentity('x*1', 'mul', 1, 1),
  binaryIdentity('1*x', 'mul', 0, 1),
  mulByMinusOne,
  binaryIdentity('x+0', 'add', 1, 0),
  binaryIdentity('0+x', 'add', 0, 0),
  binaryIdentity('x-0', 'sub', 1, 0),
  binaryIdentity('x/1', 'div', 1, 1),
  binaryIdentity('x^1', 'pow', 1, 1),
  zeroMinus,
  subOfNeg,
  addOfNeg,
  doubleNeg,
  reshapeIdentity,
  reshapeOfReshape,
  broadcastIdentity,
  transposeOfTranspose,
  foldTransposeIntoMatmul,
];
