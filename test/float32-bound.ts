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
import type { Graph, Node, NodeId, PrimKind } from '../ir/types.ts';
import { sizeOf } from '../ir/types.ts';
import type { KindOfAccuracy } from '../ir/ops/index.ts';
import { OPS, elementwiseOp } from '../ir/ops/index.ts';
import type { Float32Accuracy } from '../ir/ops/op.ts';
import { isElementwise } from '../ir/ops/op.ts';

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

/** The elementwise primitives computed by a math library function (accuracy `libm`). */
type LibmKind = KindOfAccuracy<'libm'>;
/** The elementwise primitives that round at all (accuracy `rounded` or `libm`). */
type InexactKind = KindOfAccuracy<'rounded' | 'libm'>;

/**
 * Rounding error factor of each accuracy class of the op records (ir/ops/), in units of
 * U32·|result|, on the host: none, one correct rounding, glibc's LIBM_ULPS.
 */
const LIBM_ROUNDINGS: Readonly<Record<Float32Accuracy, number>> = {
  exact: 0,
  rounded: 1,
  libm: 2 * LIBM_ULPS,
};

/**
 * How a target rounds: the error one elementwise primitive adds beyond what its inputs carry,
 * at computed inputs `x` that are each within `e` of the exact values, as `relative` (in units
 * of U32·|result|) plus `absolute`; and the error of a result in the subnormal range.
 */
export interface ErrorModel {
  readonly name: string;
  rounding(
    kind: PrimKind,
    value: number,
    x: readonly number[],
    e: readonly number[],
  ): { readonly relative: number; readonly absolute: number };
  /** 2^-150 when subnormals are rounded, 2^-126 when they may be flushed to zero. */
  readonly subnormal: number;
}

/** C and JS on the host: IEEE arithmetic, glibc's transcendental functions (LIBM_ULPS). */
export const LIBM_ERROR_MODEL: ErrorModel = relativeModel(
  'libm',
  (kind) => LIBM_ROUNDINGS[elementwiseOp(kind).accuracy],
);

/** A model whose roundings are a relative factor per primitive, subnormals kept. */
function relativeModel(name: string, relativeOf: (kind: PrimKind) => number): ErrorModel {
  return {
    name,
    rounding: (kind) => ({ relative: relativeOf(kind), absolute: 0 }),
    subnormal: SUBNORMAL_HALF_ULP,
  };
}

/**
 * Maximum ulp errors of CUDA's single-precision functions, as the CUDA C++ Programming Guide
 * states them (Mathematical Functions, full range), for code compiled without
 * --use_fast_math: expf 2, logf 1, tanhf 2, powf 4. The guide counts them from the correctly
 * rounded result, which is itself half an ulp from the exact one.
 */
export const CUDA_ULPS: Readonly<Record<LibmKind, number>> = { exp: 2, log: 1, tanh: 2, pow: 4 };

/** `ulps` from the correctly rounded result, plus its half ulp, in units of U32·|result|. */
function cudaRounding(ulps: number): number {
  return 2 * ulps + 1;
}

/**
 * Rounding error factor of an elementwise primitive on CUDA, in units of U32·|result|: the
 * host's for the exact and correctly rounded operations, CUDA's own for the library functions.
 */
function cudaRelative(kind: PrimKind): number {
  const { accuracy } = elementwiseOp(kind);
  return accuracy === 'libm' ? cudaRounding(CUDA_ULPS[kind as LibmKind]) : LIBM_ROUNDINGS[accuracy];
}

/**
 * CUDA kernels as nvcc compiles them for gradc (artifact/cuda-compile.ts): `+ - *`,
 * `/` (--prec-div=true) and sqrtf (--prec-sqrt=true) correctly rounded; expf, logf, tanhf and
 * powf within CUDA_ULPS; subnormals kept (--ftz=false). Multiply-adds contracted into one FMA
 * (--fmad=true) round once where the separate operations round twice, so they stay within the
 * bound of the separate operations; sums and products in any order are covered by γ_n.
 */
export const CUDA_ERROR_MODEL: ErrorModel = relativeModel('cuda', cudaRelative);

/** Where WGSL's log and log2 promise an absolute error instead of ULPs. */
function nearOne(x: number, e: number): boolean {
  return x + e >= 0.5 && x - e <= 2;
}

/**
 * WGSL's f32 accuracy as the WebGPU Shading Language spec states it ("Floating Point
 * Accuracy"), where an ULP of x is at most 2·U32·|x|:
 * - `+ - *` correctly rounded; `x / y` 2.5 ULP (for |y| in [2^-126, 2^126]).
 * - exp(x): 3 + 2|x| ULP. log(x): 3 ULP outside [0.5, 2], absolute 2^-21 inside.
 * - sqrt(x): inherited from 1.0 / inverseSqrt(x): 2 ULP, then a division's 2.5 ULP.
 * - tanh(x): inherited from sinh(x) / cosh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)).
 *   Each exp is off by (3 + 2|x|) ULP of itself, so the quotient is off by up to
 *   (6 + 4|x|)·U32·(1 + |tanh x|) in absolute terms (not relative: near 0 the difference
 *   of the exps cancels), plus the subtraction's and the division's rounding.
 * - pow(x, y): inherited from exp2(y · log2(x)); log2 is off by 3 ULP (absolute 2^-21 on
 *   [0.5, 2]), so t = y·log2(x) by |y|·that plus its rounding, 2^t by a factor 2^(error of t),
 *   and exp2 adds 3 + 2|t| ULP.
 * - Subnormal inputs and results may be flushed to zero.
 */
export const WGSL_ERROR_MODEL: ErrorModel = {
  name: 'wgsl',
  rounding(kind, value, x, e) {
    if (elementwiseOp(kind).accuracy === 'exact') return { relative: 0, absolute: 0 };
    const hi = x.map((v, i) => Math.abs(v) + e[i]);
    return WGSL_ROUNDINGS[kind as InexactKind](value, x, e, hi);
  },
  subnormal: 2 ** -126,
};

/** One primitive's WGSL rounding at computed inputs x ± e, hi = |x| + e (see WGSL_ERROR_MODEL). */
type WgslRounding = (
  value: number,
  x: readonly number[],
  e: readonly number[],
  hi: readonly number[],
) => { readonly relative: number; readonly absolute: number };

/** WGSL's rounding of every primitive that rounds, so tsc names a new one without a rule. */
const WGSL_ROUNDINGS: Readonly<Record<InexactKind, WgslRounding>> = {
  add: () => ({ relative: 1, absolute: 0 }),
  sub: () => ({ relative: 1, absolute: 0 }),
  mul: () => ({ relative: 1, absolute: 0 }),
  div: (_, x, e, hi) => {
    const inRange = hi[1] <= 2 ** 126 && Math.abs(x[1]) - e[1] >= 2 ** -126;
    return { relative: inRange ? 5 : Infinity, absolute: 0 };
  },
  // 2 ULP of inverseSqrt (4·U32) inverted, then 2.5 ULP (5·U32), rounded up.
  sqrt: () => ({ relative: 10, absolute: 0 }),
  exp: (_, _x, _e, hi) => ({ relative: 2 * (3 + 2 * hi[0]), absolute: 0 }),
  log: (_, x, e) => ({ relative: 6, absolute: nearOne(x[0], e[0]) ? 2 ** -21 : 0 }),
  tanh: (value, _x, _e, hi) => ({
    relative: 8,
    absolute: (6 + 4 * hi[0]) * U32 * (1 + Math.abs(value)),
  }),
  pow: (_, x, e, hi) => {
    const log2 = Math.abs(Math.log2(x[0])) + e[0] / Math.max(x[0] - e[0], 2 ** -126);
    const log2Error = Math.max(6 * U32 * log2, nearOne(x[0], e[0]) ? 2 ** -21 : 0);
    const t = hi[1] * log2;
    const tError = hi[1] * log2Error + U32 * t;
    const factor = (1 + Math.expm1(Math.LN2 * tError)) * (1 + 2 * (3 + 2 * t) * U32) - 1;
    return { relative: factor / U32, absolute: 0 };
  },
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
  model: ErrorModel = LIBM_ERROR_MODEL,
): Map<NodeId, Float64Array> {
  const errors = new Map<NodeId, Float64Array>();
  graph.nodes.forEach((node, id) => {
    const value = values.get(id);
    if (!value) return;
    const srcValues = node.src.map((s) => values.get(s)!);
    const srcErrors = node.src.map((s) => errors.get(s)!);
    const error = nodeError(graph, node, value, srcValues, srcErrors, model);
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
  model: ErrorModel,
): Float64Array {
  const srcShapes = node.src.map((s) => graph.nodes[s].shape);
  const evalOn = (inputs: Float64Array[]) =>
    OPS[node.kind].evalRef({ inputs, srcShapes, shape: node.shape, attrs: node.attrs });
  switch (node.kind) {
    case 'input':
      return value.map((v) => Math.abs(v - Math.fround(v)));
    case 'fill':
    case 'iota':
      return value.map((v) => Math.abs(v - Math.fround(v)));
    case 'random_uniform': {
      // Integer arithmetic on an exact counter: every backend draws the reference's bits.
      const exact = es[0].every((e) => e === 0);
      return value.map(() => (exact ? 0 : Infinity));
    }
    case 'broadcast':
    case 'reshape':
    case 'transpose':
    case 'reduce_max':
      // Exact operations, 1-Lipschitz in the max norm: errors move (or take their max).
      return evalOn([es[0]]);
    case 'patches':
      // A gather: errors move; the padding is exact whatever it holds.
      return OPS.patches.evalRef({ inputs: [es[0]], srcShapes, shape: node.shape, attrs: { ...node.attrs, fill: 0 } });
    case 'sum': {
      const n = sizeOf(srcShapes[0]) / Math.max(1, value.length);
      return sumError(evalOn, xs[0], es[0], n, model);
    }
    case 'unpatches': {
      // A sum of at most KH·KW window elements per position.
      const [kh, kw] = node.attrs.kernel as readonly number[];
      return sumError(evalOn, xs[0], es[0], kh * kw, model);
    }
    case 'matmul':
      return matmulError(evalOn, xs, es, srcShapes[0], node, model);
    default:
      return elementwiseError(node, value, xs, es, model);
  }
}

/** Σe + γ_n Σ(|x| + e): the propagated errors plus any-order summation of the computed x. */
function sumError(
  evalOn: (inputs: Float64Array[]) => Float64Array,
  x: Float64Array,
  e: Float64Array,
  n: number,
  model: ErrorModel,
): Float64Array {
  const propagated = evalOn([e]);
  const magnitude = evalOn([x.map((v, i) => Math.abs(v) + e[i])]);
  return propagated.map((p, i) => p + gamma(n) * magnitude[i] + n * model.subnormal);
}

/** |A|·eB + eA·|B| + eA·eB + γ_k (|A| + eA)(|B| + eB). */
function matmulError(
  evalOn: (inputs: Float64Array[]) => Float64Array,
  [a, b]: readonly Float64Array[],
  [ea, eb]: readonly Float64Array[],
  aShape: readonly number[],
  node: Node,
  model: ErrorModel,
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
    (p, i) => p + fromA[i] + cross[i] + gamma(k) * magnitude[i] + k * model.subnormal,
  );
}

function elementwiseError(
  node: Node,
  value: Float64Array,
  xs: readonly Float64Array[],
  es: readonly Float64Array[],
  model: ErrorModel,
): Float64Array {
  const op = OPS[node.kind];
  if (!isElementwise(op)) throw new Error(`no error rule for ${node.kind}`);
  const out = new Float64Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const x = xs.map((v) => v[i]);
    const e = es.map((v) => v[i]);
    out[i] = pointError(node.kind, op.scalar, value[i], x, e, model);
  }
  return out;
}

/** The error bound of one element of an elementwise node. */
function pointError(
  kind: PrimKind,
  scalar: (...xs: number[]) => number,
  value: number,
  x: readonly number[],
  e: readonly number[],
  model: ErrorModel,
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
  const { relative, absolute } = model.rounding(kind, value, x, e);
  if (relative === 0 && absolute === 0) return propagated;
  const rounded = relative * U32 * (Math.abs(value) + propagated);
  return propagated + rounded + absolute + model.subnormal;
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
