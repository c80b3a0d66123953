/**
 * How far a float32 backend may be from the float64 reference: a forward error bound per
 * element, propagated through the graph node by node.
 *
 * Every node's computed value is the exact value of the node applied to its inputs' computed
 * values, then rounded. So the bound of a node is what its inputs' bounds can change it by
 * (taken over the corners of the input error boxes, exact for the monotone primitives) plus
 * one rounding. Sums and products use the classic worst case for any summation order:
 * |ŝ - s| ≤ γ_n Σ|x_i| with γ_n = n·u / (1 - n·u). The bound therefore grows with the
 * condition of the computation (cancellation, log near 1, long sums) rather than being one
 * fixed tolerance, and stays tight where the computation is well conditioned.
 */
import type { Graph, Node, NodeId } from '../compiler/ir/types.ts';
import { sizeOf } from '../compiler/ir/types.ts';
import { OPS } from '../compiler/ops/index.ts';
import { isElementwise } from '../compiler/ops/op.ts';

/** Unit roundoff of float32: one correctly rounded operation is off by at most U32·|x|. */
export const U32 = 2 ** -24;

/**
 * expf, logf, tanhf and powf of glibc are within 2 ulp (its documented worst cases are 1-2
 * ulp on x86-64), and 1 ulp ≤ 2·U32·|x|.
 */
export const LIBM_ULPS = 2;

/** A rounding in the subnormal range is off by at most half the smallest subnormal. */
const SUBNORMAL_HALF_ULP = 2 ** -150;

/** Beyond this a float32 result overflows; no bound is claimed (generators avoid it). */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The tolerance tests apply: BOUND_SAFETY × the propagated bound. The bound is already a
 * worst case; the factor 2 only absorbs libm implementations that miss their ulp claim
 * slightly. Any indexing or semantic bug is off by the size of a value, many orders more.
 */
export const BOUND_SAFETY = 2;

/** Rounding error factor of each elementwise primitive, in units of U32·|result|. */
const ROUNDINGS: Readonly<Record<string, number>> = {
  neg: 0,
  maximum: 0,
  add: 1,
  sub: 1,
  mul: 1,
  div: 1,
  sqrt: 1,
  exp: 2 * LIBM_ULPS,
  log: 2 * LIBM_ULPS,
  tanh: 2 * LIBM_ULPS,
  pow: 2 * LIBM_ULPS,
};

/** γ_n = n·u / (1 - n·u): the relative error bound of any n-term float32 sum or dot. */
export function gamma(n: number): number {
  return (n * U32) / (1 - n * U32);
}

/**
 * Absolute error bounds for every node in `values` (the float64 reference, as `evaluate`
 * returns it), given inputs fed exactly as float32.
 */
export function errorBounds(
  graph: Graph,
  values: ReadonlyMap<NodeId, Float64Array>,
): Map<NodeId, Float64Array> {
  const errors = new Map<NodeId, Float64Array>();
  graph.nodes.forEach((node, id) => {
    const value = values.get(id);
    if (!value) return;
    const srcValues = node.src.map((s) => values.get(s)!);
    const srcErrors = node.src.map((s) => errors.get(s)!);
    const error = nodeError(graph, node, value, srcValues, srcErrors);
    errors.set(id, capOverflow(value, error));
  });
  return errors;
}

function nodeError(
  graph: Graph,
  node: Node,
  value: Float64Array,
  xs: readonly Float64Array[],
  es: readonly Float64Array[],
): Float64Array {
  const srcShapes = node.src.map((s) => graph.nodes[s].shape);
  const evalOn = (inputs: Float64Array[]) =>
    OPS[node.kind].evalRef({ inputs, srcShapes, shape: node.shape, attrs: node.attrs });
  switch (node.kind) {
    case 'input':
      return value.map((v) => Math.abs(v - Math.fround(v)));
    case 'fill':
      return value.map((v) => Math.abs(v - Math.fround(v)));
    case 'broadcast':
    case 'reshape':
    case 'transpose':
    case 'reduce_max':
      // Exact operations, 1-Lipschitz in the max norm: errors move (or take their max).
      return evalOn([es[0]]);
    case 'sum':
      return sumError(evalOn, xs[0], es[0], sizeOf(srcShapes[0]) / Math.max(1, value.length));
    case 'matmul':
      return matmulError(evalOn, xs, es, srcShapes[0], node);
    default:
      return elementwiseError(node, value, xs, es);
  }
}

/** Σe + γ_n Σ(|x| + e): the propagated errors plus any-order summation of the computed x. */
function sumError(
  evalOn: (inputs: Float64Array[]) => Float64Array,
  x: Float64Array,
  e: Float64Array,
  n: number,
): Float64Array {
  const propagated = evalOn([e]);
  const magnitude = evalOn([x.map((v, i) => Math.abs(v) + e[i])]);
  return propagated.map((p, i) => p + gamma(n) * magnitude[i] + n * SUBNORMAL_HALF_ULP);
}

/** |A|·eB + eA·|B| + eA·eB + γ_k (|A| + eA)(|B| + eB). */
function matmulError(
  evalOn: (inputs: Float64Array[]) => Float64Array,
  [a, b]: readonly Float64Array[],
  [ea, eb]: readonly Float64Array[],
  aShape: readonly number[],
  node: Node,
): Float64Array {
  const k = node.attrs.transA ? aShape[0] : aShape[1];
  const absA = a.map(Math.abs);
  const absB = b.map(Math.abs);
  const hiA = absA.map((v, i) => v + ea[i]);
  const hiB = absB.map((v, i) => v + eb[i]);
  const propagated = evalOn([absA, eb]);
  const fromA = evalOn([ea, absB]);
  const cross = evalOn([ea, eb]);
  const magnitude = evalOn([hiA, hiB]);
  return propagated.map(
    (p, i) => p + fromA[i] + cross[i] + gamma(k) * magnitude[i] + k * SUBNORMAL_HALF_ULP,
  );
}

function elementwiseError(
  node: Node,
  value: Float64Array,
  xs: readonly Float64Array[],
  es: readonly Float64Array[],
): Float64Array {
  const op = OPS[node.kind];
  if (!isElementwise(op)) throw new Error(`no error rule for ${node.kind}`);
  const out = new Float64Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const x = xs.map((v) => v[i]);
    const e = es.map((v) => v[i]);
    out[i] = pointError(node.kind, op.scalar, value[i], x, e);
  }
  return out;
}

/** The error bound of one element of an elementwise node. */
function pointError(
  kind: string,
  scalar: (...xs: number[]) => number,
  value: number,
  x: readonly number[],
  e: readonly number[],
): number {
  if (kind === 'less' || kind === 'equal') {
    // Exact unless the operands are close enough for their errors to flip the comparison.
    const uncertain = e[0] + e[1] > 0 && Math.abs(x[0] - x[1]) <= e[0] + e[1];
    return uncertain ? 1 : 0;
  }
  if (kind === 'where') {
    const flips = e[0] > 0 && Math.abs(x[0]) <= e[0];
    if (flips) return Math.max(e[1], e[2]) + Math.abs(x[1] - x[2]);
    return x[0] !== 0 ? e[1] : e[2];
  }
  if (kind === 'div' && Math.abs(x[1]) <= e[1]) return Infinity;
  const propagated = cornerSpread(scalar, value, x, e);
  const rounding = ROUNDINGS[kind];
  if (rounding === undefined) throw new Error(`no rounding rule for ${kind}`);
  if (rounding === 0) return propagated;
  return propagated + rounding * U32 * (Math.abs(value) + propagated) + SUBNORMAL_HALF_ULP;
}

/**
 * max |f(corner) - f(x)| over the corners of the box x ± e: the exact spread for functions
 * monotone in each argument (all the smooth primitives on their domains). A corner outside
 * the domain (log of a negative) gives no bound.
 */
function cornerSpread(
  scalar: (...xs: number[]) => number,
  value: number,
  x: readonly number[],
  e: readonly number[],
): number {
  if (e.every((v) => v === 0)) return 0;
  let spread = 0;
  const corner = x.slice();
  const visit = (d: number): void => {
    if (d === x.length) {
      const f = scalar(...corner);
      spread = Number.isNaN(f) ? Infinity : Math.max(spread, Math.abs(f - value));
      return;
    }
    for (const sign of e[d] === 0 ? [0] : [-1, 1]) {
      corner[d] = x[d] + sign * e[d];
      visit(d + 1);
    }
  };
  visit(0);
  return spread;
}

function capOverflow(value: Float64Array, error: Float64Array): Float64Array {
  return error.map((err, i) => (Math.abs(value[i]) + err > FLOAT32_MAX ? Infinity : err));
}

export interface Mismatch {
  readonly index: number;
  readonly got: number;
  readonly want: number;
  readonly bound: number;
}

/** The worst element outside BOUND_SAFETY × bound, or undefined when all are within. */
export function worstMismatch(
  got: Float32Array,
  want: Float64Array,
  bound: Float64Array,
): Mismatch | undefined {
  if (got.length !== want.length) {
    return { index: -1, got: got.length, want: want.length, bound: 0 };
  }
  let worst: Mismatch | undefined;
  let worstRatio = 1;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) && Number.isNaN(got[i])) continue;
    if (got[i] === want[i] || bound[i] === Infinity) continue;
    const tolerance = BOUND_SAFETY * bound[i];
    const diff = Math.abs(got[i] - want[i]);
    const ratio = tolerance > 0 ? diff / tolerance : Infinity;
    if (!(diff <= tolerance) && (Number.isNaN(ratio) || ratio >= worstRatio)) {
      worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
      worst = { index: i, got: got[i], want: want[i], bound: tolerance };
    }
  }
  return worst;
}
