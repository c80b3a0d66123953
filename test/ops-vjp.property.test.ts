/**
 * Property tests for every primitive's VJP rule: the symbolic gradient built by `grad` and run
 * by the float64 reference interpreter must agree with central finite differences of the same
 * interpreter. Shapes, attributes and values are drawn by fast-check; values stay away from the
 * points where an op is not differentiable (log/sqrt/pow at 0, ties in maximum/less/reduce_max).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { grad } from '../compiler/autodiff/grad.ts';
import { GradcError, ShapeError } from '../ir/errors.ts';
import { GraphBuilder, broadcastShapes } from '../ir/builder.ts';
import { evaluate } from '../ir/evaluate.ts';
import { PRIM_KINDS, sizeOf } from '../ir/types.ts';
import type { Attrs, NodeId, PrimKind, Shape, SourceLoc } from '../ir/types.ts';
import { OPS } from '../ir/ops/index.ts';
import type { BinaryKind, UnaryKind } from '../ir/ops/index.ts';
import type { WindowGeometry } from '../ir/ops/window.ts';
import { geometryAttrs, patchesShape } from '../ir/ops/window.ts';

type Leaf = 'input' | 'fill' | 'iota';
type Tested = Exclude<PrimKind, Leaf>;
const LEAVES: readonly Leaf[] = ['input', 'fill', 'iota'];

/** Central differences use the step h = FD_STEP * max(1, |x|). */
const FD_STEP = 1e-6;

/**
 * Bound on max |symbolic - fd| / max(1, |symbolic|, |fd|) over all gradient entries.
 * With h = 1e-6 the truncation error (~h^2 f''') is ~1e-12 and the rounding error is
 * ~eps |f| / h (~1e-10 for |f| ~ 1). The worst error seen over two soaks of 100k drawn cases
 * (GRADC_PROP_RUNS=5000) was 1.2e-9 (exp, reduce_max and pow lead); 1e-8 keeps a ~10x margin
 * while any wrong VJP rule shows up as an O(1e-2..1) error. The afterAll hook prints the worst.
 */
const VJP_REL_TOL = 1e-8;

/** Runs per primitive; GRADC_PROP_RUNS overrides it for a longer soak. */
const NUM_RUNS = Number(process.env.GRADC_PROP_RUNS ?? 200);

interface Operand {
  readonly shape: Shape;
  readonly values: readonly number[];
  /** Whether the gradient with respect to this operand is checked (false: a mask). */
  readonly diff: boolean;
}

interface OpCase {
  readonly kind: Tested;
  readonly operands: readonly Operand[];
  readonly attrs: Attrs;
  /** Weights of the scalar objective f = sum(op(...) * w), one per output element. */
  readonly weights: readonly number[];
}

// ---------------------------------------------------------------- arbitraries

const dimArb = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank = 0, maxRank = 3) =>
  fc.array(dimArb, { minLength: minRank, maxLength: maxRank });

const numArb = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

const valuesArb = (n: number, min: number, max: number) =>
  fc.array(numArb(min, max), { minLength: n, maxLength: n });

/** Magnitudes in [min, max] with either sign: keeps denominators away from 0. */
const signedAwayFromZero = (n: number, min: number, max: number) =>
  fc.array(
    fc.tuple(fc.boolean(), numArb(min, max)).map(([neg, m]) => (neg ? -m : m)),
    { minLength: n, maxLength: n },
  );

/** Pairs (x, y) with |x - y| >= 0.05 (no ties within the FD step); `ties` allows x === y. */
const separatedPairs = (n: number, ties: boolean) =>
  fc
    .array(
      fc.tuple(numArb(-2, 2), numArb(0.05, 1.5), fc.boolean(), fc.boolean()),
      { minLength: n, maxLength: n },
    )
    .map((rows) => {
      const xs = rows.map(([x]) => x);
      const ys = rows.map(([x, d, below, tie]) => (ties && tie ? x : below ? x - d : x + d));
      return [xs, ys] as const;
    });

/** Distinct values (gaps >= 0.15) in random order: every reduction has a unique maximum. */
const distinctValues = (n: number) =>
  fc
    .tuple(
      fc.shuffledSubarray(range(n), { minLength: n, maxLength: n }),
      valuesArb(n, 0, 0.05),
    )
    .map(([perm, jitter]) => perm.map((p, i) => (p - n / 2) * 0.2 + jitter[i]));

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function withWeights(
  kind: Tested,
  operands: readonly Operand[],
  attrs: Attrs,
): fc.Arbitrary<OpCase> {
  const outShape = OPS[kind].inferShape(
    operands.map((o) => o.shape),
    attrs,
  );
  return valuesArb(sizeOf(outShape), -1, 1).map((weights) => ({
    kind,
    operands,
    attrs,
    weights,
  }));
}

function unaryCase(kind: UnaryKind, min: number, max: number): fc.Arbitrary<OpCase> {
  return shapeArb()
    .chain((shape) => valuesArb(sizeOf(shape), min, max).map((values) => ({ shape, values })))
    .chain(({ shape, values }) => withWeights(kind, [{ shape, values, diff: true }], {}));
}

function binaryCase(
  kind: BinaryKind,
  draw: (n: number) => fc.Arbitrary<readonly [readonly number[], readonly number[]]>,
): fc.Arbitrary<OpCase> {
  return shapeArb()
    .chain((shape) => draw(sizeOf(shape)).map((xy) => ({ shape, xy })))
    .chain(({ shape, xy: [x, y] }) =>
      withWeights(
        kind,
        [
          { shape, values: x, diff: true },
          { shape, values: y, diff: true },
        ],
        {},
      ),
    );
}

const independent =
  (x: (n: number) => fc.Arbitrary<number[]>, y: (n: number) => fc.Arbitrary<number[]>) =>
  (n: number) =>
    fc.tuple(x(n), y(n));

function reduceCase(kind: 'sum' | 'reduce_max'): fc.Arbitrary<OpCase> {
  return shapeArb()
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        axes: fc.subarray(range(shape.length)),
        keepDims: fc.boolean(),
        values:
          kind === 'reduce_max' ? distinctValues(sizeOf(shape)) : valuesArb(sizeOf(shape), -2, 2),
      }),
    )
    .chain(({ shape, axes, keepDims, values }) =>
      withWeights(kind, [{ shape, values, diff: true }], { axes, keepDims }),
    );
}

/** A shape that broadcasts to `target`: a suffix of it with some axes set to 1. */
function broadcastSourceArb(target: Shape): fc.Arbitrary<number[]> {
  return fc
    .integer({ min: 0, max: target.length })
    .chain((rank) =>
      fc
        .array(fc.boolean(), { minLength: rank, maxLength: rank })
        .map((ones) => target.slice(target.length - rank).map((d, i) => (ones[i] ? 1 : d))),
    );
}

const broadcastCase: fc.Arbitrary<OpCase> = shapeArb()
  .chain((target) => broadcastSourceArb(target).map((source) => ({ target, source })))
  .chain(({ target, source }) =>
    valuesArb(sizeOf(source), -2, 2).chain((values) =>
      withWeights('broadcast', [{ shape: source, values, diff: true }], { shape: target }),
    ),
  );

/** Every shape of rank 0..4 whose dims multiply to `size`. */
function shapesOfSize(size: number): number[][] {
  const out: number[][] = [];
  const grow = (prefix: number[], rest: number) => {
    if (rest === 1) out.push(prefix);
    if (prefix.length === 4) return;
    for (let d = 1; d <= rest; d++) {
      if (rest % d === 0 && !(d === 1 && prefix.length >= 3)) grow([...prefix, d], rest / d);
    }
  };
  grow([], size);
  return out;
}

const reshapeCase: fc.Arbitrary<OpCase> = shapeArb()
  .chain((source) =>
    fc.record({
      source: fc.constant(source),
      target: fc.constantFrom(...shapesOfSize(sizeOf(source))),
      values: valuesArb(sizeOf(source), -2, 2),
    }),
  )
  .chain(({ source, target, values }) =>
    withWeights('reshape', [{ shape: source, values, diff: true }], { shape: target }),
  );

const transposeCase: fc.Arbitrary<OpCase> = shapeArb()
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      perm: fc.shuffledSubarray(range(shape.length), {
        minLength: shape.length,
        maxLength: shape.length,
      }),
      values: valuesArb(sizeOf(shape), -2, 2),
    }),
  )
  .chain(({ shape, perm, values }) =>
    withWeights('transpose', [{ shape, values, diff: true }], { perm }),
  );

const matmulCase: fc.Arbitrary<OpCase> = fc
  .record({ m: dimArb, k: dimArb, n: dimArb, transA: fc.boolean(), transB: fc.boolean() })
  .chain(({ m, k, n, transA, transB }) => {
    const aShape = transA ? [k, m] : [m, k];
    const bShape = transB ? [n, k] : [k, n];
    return fc
      .tuple(valuesArb(m * k, -2, 2), valuesArb(k * n, -2, 2))
      .chain(([a, bv]) =>
        withWeights(
          'matmul',
          [
            { shape: aShape, values: a, diff: true },
            { shape: bShape, values: bv, diff: true },
          ],
          { transA, transB },
        ),
      );
  });

const whereCase: fc.Arbitrary<OpCase> = shapeArb()
  .chain((shape) => {
    const n = sizeOf(shape);
    return fc.record({
      shape: fc.constant(shape),
      // Any non-zero condition selects x, not only 1.
      c: fc.array(fc.constantFrom(0, 1, -1.5, 2), { minLength: n, maxLength: n }),
      x: valuesArb(n, -2, 2),
      y: valuesArb(n, -2, 2),
    });
  })
  .chain(({ shape, c, x, y }) =>
    withWeights(
      'where',
      [
        { shape, values: c, diff: false },
        { shape, values: x, diff: true },
        { shape, values: y, diff: true },
      ],
      {},
    ),
  );

const padArb = fc.integer({ min: 0, max: 2 });

/** An NHWC input and a window geometry that fits it (some window, possibly all padding). */
const windowArb = fc
  .record({
    x: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 })),
    kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.tuple(padArb, padArb, padArb, padArb),
  })
  .filter(({ x, ...g }) => {
    try {
      return patchesShape(x, g).length === 6;
    } catch (e) {
      if (e instanceof ShapeError) return false;
      throw e;
    }
  })
  .map(({ x, ...geometry }) => ({ x: x as Shape, geometry: geometry as WindowGeometry, attrs: geometryAttrs(geometry) }));

const patchesCase: fc.Arbitrary<OpCase> = fc
  .tuple(windowArb, fc.constantFrom(0, -1.5))
  .chain(([{ x, attrs }, fill]) =>
    valuesArb(sizeOf(x), -2, 2).chain((values) => withWeights('patches', [{ shape: x, values, diff: true }], { ...attrs, fill })),
  );

const unpatchesCase: fc.Arbitrary<OpCase> = windowArb.chain(({ x, geometry, attrs }) => {
  const shape = patchesShape(x, geometry);
  return valuesArb(sizeOf(shape), -2, 2).chain((values) =>
    withWeights('unpatches', [{ shape, values, diff: true }], { ...attrs, shape: [...x] }),
  );
});

/**
 * One case generator per non-leaf primitive. The Record type makes a missing primitive a type
 * error, and a test below checks the keys against PRIM_KINDS at run time.
 */
const CASES: Record<Tested, fc.Arbitrary<OpCase>> = {
  neg: unaryCase('neg', -3, 3),
  exp: unaryCase('exp', -2, 2),
  log: unaryCase('log', 0.2, 3),
  sqrt: unaryCase('sqrt', 0.2, 3),
  tanh: unaryCase('tanh', -2.5, 2.5),
  // No gradient flows through it on purpose (checked below): its operand is not differentiated.
  stop_gradient: shapeArb()
    .chain((shape) => valuesArb(sizeOf(shape), -2, 2).map((values) => ({ shape, values })))
    .chain(({ shape, values }) => withWeights('stop_gradient', [{ shape, values, diff: false }], {})),
  // A draw per element, keyed by its attrs and counted by its operand (the step, a count),
  // which gets no gradient (checked below).
  random_uniform: shapeArb()
    .chain((shape) => fc.array(fc.nat(1000), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }).map((values) => ({ shape, values })))
    .chain(({ shape, values }) => withWeights('random_uniform', [{ shape, values, diff: false }], { seed: 7, stream: 1 })),
  add: binaryCase('add', independent((n) => valuesArb(n, -2, 2), (n) => valuesArb(n, -2, 2))),
  sub: binaryCase('sub', independent((n) => valuesArb(n, -2, 2), (n) => valuesArb(n, -2, 2))),
  mul: binaryCase('mul', independent((n) => valuesArb(n, -2, 2), (n) => valuesArb(n, -2, 2))),
  div: binaryCase(
    'div',
    independent((n) => valuesArb(n, -2, 2), (n) => signedAwayFromZero(n, 0.5, 2)),
  ),
  pow: binaryCase(
    'pow',
    independent((n) => valuesArb(n, 0.3, 2.5), (n) => valuesArb(n, -2, 2.5)),
  ),
  maximum: binaryCase('maximum', (n) => separatedPairs(n, false)),
  less: binaryCase('less', (n) => separatedPairs(n, false)),
  // equal(x, x) is symmetric under x +- h, so exact ties are fine for central differences.
  equal: binaryCase('equal', (n) => separatedPairs(n, true)),
  where: whereCase,
  sum: reduceCase('sum'),
  reduce_max: reduceCase('reduce_max'),
  broadcast: broadcastCase,
  reshape: reshapeCase,
  transpose: transposeCase,
  patches: patchesCase,
  unpatches: unpatchesCase,
  matmul: matmulCase,
};

// ---------------------------------------------------------------- the check

function sumAll(b: GraphBuilder, x: NodeId): NodeId {
  return b.sum(x, range(b.shapeOf(x).length));
}

const worstError: Partial<Record<Tested, number>> = {};

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1, Math.abs(a), Math.abs(b));
}

/** Max relative error of grad(f) against central differences, f = sum(op(xs) * w). */
function vjpError(c: OpCase): number {
  const b = new GraphBuilder();
  const xs = c.operands.map((o, i) => b.input(`x${i}`, o.shape));
  const y = b.make(c.kind, xs, c.attrs);
  const w = b.input('w', b.shapeOf(y));
  const f = sumAll(b, b.mul(y, w));
  expect(b.shapeOf(f)).toEqual([]);
  const diffIdx = range(xs.length).filter((i) => c.operands[i].diff);
  const grads = grad(
    b,
    f,
    diffIdx.map((i) => xs[i]),
  );
  const graph = b.finish({ f });

  const feeds: Record<string, number[]> = { w: [...c.weights] };
  c.operands.forEach((o, i) => (feeds[`x${i}`] = [...o.values]));
  const symbolic = evaluate(graph, feeds, grads);
  const fAt = () => evaluate(graph, feeds, [f]).get(f)![0];

  let worst = 0;
  diffIdx.forEach((i, gi) => {
    const g = symbolic.get(grads[gi])!;
    expect(g.length).toBe(sizeOf(c.operands[i].shape));
    const x = feeds[`x${i}`];
    for (let j = 0; j < x.length; j++) {
      const v = x[j];
      const h = FD_STEP * Math.max(1, Math.abs(v));
      const [xp, xm] = [v + h, v - h];
      x[j] = xp;
      const fp = fAt();
      x[j] = xm;
      const fm = fAt();
      x[j] = v;
      worst = Math.max(worst, relErr(g[j], (fp - fm) / (xp - xm)));
    }
  });
  return worst;
}

describe('VJP rules vs central finite differences', () => {
  afterAll(() => {
    const summary = Object.entries(worstError)
      .map(([k, e]) => `${k}=${e!.toExponential(1)}`)
      .join(' ');
    console.log(`worst relative VJP error per primitive (bound ${VJP_REL_TOL}): ${summary}`);
  });

  it('covers every primitive except the leaves', () => {
    const expected = PRIM_KINDS.filter((k) => !(LEAVES as readonly string[]).includes(k));
    expect(Object.keys(CASES).sort()).toEqual([...expected].sort());
  });

  for (const kind of Object.keys(CASES) as Tested[]) {
    it(`${kind}: grad matches finite differences within ${VJP_REL_TOL}`, () => {
      fc.assert(
        fc.property(CASES[kind], (c) => {
          const err = vjpError(c);
          worstError[kind] = Math.max(worstError[kind] ?? 0, err);
          expect(err).toBeLessThanOrEqual(VJP_REL_TOL);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('reduce_max shares the gradient equally among tied maxima', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    const m = b.make('reduce_max', [x], { axes: [1], keepDims: false });
    const [gx] = grad(b, b.sum(m, [0]), [x]);
    const graph = b.finish({ gx });
    const out = evaluate(graph, { x: [5, 1, 5, 2, 2, 2] }).get(gx)!;
    expect(Array.from(out)).toEqual([0.5, 0, 0.5, 1 / 3, 1 / 3, 1 / 3]);
  });

  it('stop_gradient passes values and stops gradients: d/dx sum(stop_gradient(x) * x) = x', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [3]);
    const y = b.mul(b.stopGradient(x), x);
    const [gx] = grad(b, b.sum(y, [0]), [x]);
    const values = evaluate(b.finish({ y, gx }), { x: [1.5, -2, 0.25] });
    expect(Array.from(values.get(y)!)).toEqual([2.25, 4, 0.0625]);
    expect(Array.from(values.get(gx)!)).toEqual([1.5, -2, 0.25]);
  });

  it('random_uniform passes no gradient to its counter', () => {
    const b = new GraphBuilder();
    const step = b.input('step', []);
    const u = b.randomUniform(step, [4], 1, 2);
    const [gs] = grad(b, b.sum(b.mul(u, u), [0]), [step]);
    expect(Array.from(evaluate(b.finish({ gs }), { step: [3] }).get(gs)!)).toEqual([0]);
  });

  it('maximum sends the gradient of a tie to the second operand', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2]);
    const y = b.input('y', [2]);
    const [gx, gy] = grad(b, b.sum(b.maximum(x, y), [0]), [x, y]);
    const values = evaluate(b.finish({ gx, gy }), { x: [1, 3], y: [1, 2] });
    expect(Array.from(values.get(gx)!)).toEqual([0, 1]);
    expect(Array.from(values.get(gy)!)).toEqual([1, 0]);
  });
});

// ---------------------------------------------------------------- evalRef vs naive loops

/** Row-major multi-index of flat index `i`. */
function unravel(i: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: Shape): number {
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d] + idx[d];
  return flat;
}

/** Independent element-by-element meaning of the non-elementwise primitives. */
function naive(kind: Tested, xs: readonly Operand[], attrs: Attrs, outShape: Shape): number[] {
  const out = new Array<number>(sizeOf(outShape));
  const [a, bm] = xs;
  if (kind === 'sum' || kind === 'reduce_max') {
    const axes = attrs.axes as readonly number[];
    out.fill(kind === 'sum' ? 0 : -Infinity);
    a.values.forEach((v, i) => {
      const idx = unravel(i, a.shape);
      const kept = attrs.keepDims
        ? idx.map((d, ax) => (axes.includes(ax) ? 0 : d))
        : idx.filter((_, ax) => !axes.includes(ax));
      const o = ravel(kept, outShape);
      out[o] = kind === 'sum' ? out[o] + v : Math.max(out[o], v);
    });
    return out;
  }
  for (let o = 0; o < out.length; o++) {
    const idx = unravel(o, outShape);
    if (kind === 'broadcast') {
      const off = outShape.length - a.shape.length;
      const src = a.shape.map((d, ax) => (d === 1 ? 0 : idx[ax + off]));
      out[o] = a.values[ravel(src, a.shape)];
    } else if (kind === 'reshape') {
      out[o] = a.values[o];
    } else if (kind === 'transpose') {
      const perm = attrs.perm as readonly number[];
      const src = new Array<number>(perm.length);
      perm.forEach((p, ax) => (src[p] = idx[ax]));
      out[o] = a.values[ravel(src, a.shape)];
    } else if (kind === 'matmul') {
      const [i, j] = idx;
      const k = attrs.transA ? a.shape[0] : a.shape[1];
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const av = attrs.transA ? a.values[p * a.shape[1] + i] : a.values[i * a.shape[1] + p];
        const bv = attrs.transB ? bm.values[j * bm.shape[1] + p] : bm.values[p * bm.shape[1] + j];
        acc += av * bv;
      }
      out[o] = acc;
    } else {
      const op = OPS[kind];
      if (!('scalar' in op)) throw new Error(`no naive meaning for ${kind}`);
      const scalar = op.scalar as (...v: number[]) => number;
      out[o] = scalar(...xs.map((x) => x.values[o]));
    }
  }
  return out;
}

describe('evalRef agrees with naive index loops', () => {
  const kinds: Tested[] = ['sum', 'reduce_max', 'broadcast', 'reshape', 'transpose', 'matmul'];
  for (const kind of kinds) {
    it(kind, () => {
      fc.assert(
        fc.property(CASES[kind], (c) => {
          const srcShapes = c.operands.map((o) => o.shape);
          const shape = OPS[kind].inferShape(srcShapes, c.attrs);
          const got = OPS[kind].evalRef({
            inputs: c.operands.map((o) => Float64Array.from(o.values)),
            srcShapes,
            shape,
            attrs: c.attrs,
          });
          const want = naive(kind, c.operands, c.attrs, shape);
          expect(Array.from(got)).toHaveLength(want.length);
          got.forEach((v, i) => expect(relErr(v, want[i])).toBeLessThanOrEqual(1e-14));
        }),
        { numRuns: 100 },
      );
    });
  }

  it('the elementwise scalars mean what their names say', () => {
    const { neg, exp, log, sqrt, tanh, add, sub, mul, div, pow, maximum, less, equal, where } = OPS;
    const at = (op: unknown, ...v: number[]) =>
      (op as { scalar: (...v: number[]) => number }).scalar(...v);
    const unary = [at(neg, 2), at(exp, 0), at(log, 1), at(sqrt, 9), at(tanh, 0)];
    expect(unary).toEqual([-2, 1, 0, 3, 0]);
    expect([at(add, 2, 3), at(sub, 2, 3), at(mul, 2, 3), at(div, 3, 2)]).toEqual([5, -1, 6, 1.5]);
    expect([at(pow, 2, 3), at(maximum, 2, 3), at(maximum, 3, 2)]).toEqual([8, 3, 3]);
    const compare = [at(less, 2, 3), at(less, 3, 3), at(equal, 3, 3), at(equal, 3, 2)];
    expect(compare).toEqual([1, 0, 1, 0]);
    expect([at(where, 0, 1, 2), at(where, 1, 1, 2), at(where, -3, 1, 2)]).toEqual([2, 1, 1]);
  });
});

// ---------------------------------------------------------------- shape errors

function expectShapeError(action: () => unknown, fragment?: string): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ShapeError);
  if (fragment) expect((caught as Error).message).toContain(fragment);
}

describe('inferShape rejects bad shapes with a ShapeError', () => {
  it('matmul with mismatched inner sizes (every transA/transB combination)', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: dimArb,
          ka: dimArb,
          kb: dimArb,
          n: dimArb,
          transA: fc.boolean(),
          transB: fc.boolean(),
        }),
        ({ m, ka, kb, n, transA, transB }) => {
          const a = transA ? [ka, m] : [m, ka];
          const bShape = transB ? [n, kb] : [kb, n];
          const infer = () => OPS.matmul.inferShape([a, bShape], { transA, transB });
          if (ka === kb) expect(infer()).toEqual([m, n]);
          else expectShapeError(infer, 'inner sizes differ');
        },
      ),
    );
  });

  it('matmul with operands that are not 2-D', () => {
    fc.assert(
      fc.property(shapeArb(0, 4), shapeArb(0, 4), (a, bShape) => {
        fc.pre(a.length !== 2 || bShape.length !== 2);
        expectShapeError(
          () => OPS.matmul.inferShape([a, bShape], { transA: false, transB: false }),
          '2-D',
        );
      }),
    );
  });

  it('reshape to a different number of elements', () => {
    fc.assert(
      fc.property(shapeArb(), shapeArb(), (from, to) => {
        const infer = () => OPS.reshape.inferShape([from], { shape: to });
        if (sizeOf(from) === sizeOf(to)) expect(infer()).toEqual(to);
        else expectShapeError(infer, 'cannot reshape');
      }),
    );
  });

  it('transpose with something that is not a permutation of the axes', () => {
    fc.assert(
      fc.property(
        shapeArb(),
        fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 4 }),
        (shape, perm) => {
          const isPerm =
            perm.length === shape.length && [...perm].sort().every((p, i) => p === i);
          const infer = () => OPS.transpose.inferShape([shape], { perm });
          if (isPerm) expect(infer()).toEqual(perm.map((p) => shape[p]));
          else expectShapeError(infer, 'not a permutation');
        },
      ),
    );
  });

  it('broadcast to an incompatible shape', () => {
    fc.assert(
      fc.property(shapeArb(), shapeArb(), (from, to) => {
        const off = to.length - from.length;
        const ok = off >= 0 && from.every((d, i) => d === 1 || d === to[i + off]);
        const infer = () => OPS.broadcast.inferShape([from], { shape: to });
        if (ok) expect(infer()).toEqual(to);
        else expectShapeError(infer, 'cannot broadcast');
      }),
    );
    expectShapeError(() => broadcastShapes([2, 3], [4, 3]), 'do not broadcast');
    expect(broadcastShapes([2, 1], [4, 1, 3])).toEqual([4, 2, 3]);
  });

  it('elementwise operands of different shapes and bad reduction axes', () => {
    expectShapeError(() => OPS.add.inferShape([[2, 3], [3, 2]], {}), 'differ');
    expectShapeError(() => OPS.where.inferShape([[2], [2], [3]], {}), 'differ');
    for (const axes of [[2], [1, 0], [0, 0], [-1], [0.5]]) {
      expectShapeError(() => OPS.sum.inferShape([[2, 3]], { axes, keepDims: false }), 'axes');
      expectShapeError(() => OPS.reduce_max.inferShape([[2, 3]], { axes, keepDims: true }));
    }
  });
});

describe('the builder reports shape errors as GradcError at the user location', () => {
  const loc: SourceLoc = { file: 'model.ts', line: 12, column: 5, label: 'dense("fc2")' };

  function expectLocated(build: (b: GraphBuilder) => unknown, fragment: string): void {
    const b = new GraphBuilder();
    let caught: unknown;
    try {
      b.withLoc(loc, () => build(b));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GradcError);
    expect(caught).not.toBeInstanceOf(ShapeError);
    const err = caught as GradcError;
    expect(err.loc).toEqual(loc);
    expect(err.message).toContain('model.ts:12:5 dense("fc2")');
    expect(err.message).toContain(fragment);
  }

  it('matmul inner mismatch', () => {
    expectLocated((b) => b.matmul(b.input('a', [2, 3]), b.input('b', [4, 5])), 'inner sizes');
  });

  it('reshape size mismatch', () => {
    expectLocated((b) => b.reshape(b.input('a', [2, 3]), [4]), 'cannot reshape');
  });

  it('bad permutation', () => {
    expectLocated((b) => b.transpose(b.input('a', [2, 3]), [0, 0]), 'not a permutation');
  });

  it('incompatible broadcast, explicit and through a binary op', () => {
    expectLocated((b) => b.broadcastTo(b.input('a', [2, 3]), [3, 3]), 'cannot broadcast');
    expectLocated((b) => b.add(b.input('a', [2, 3]), b.input('b', [4, 3])), 'do not broadcast');
  });

  it('the location does not leak out of withLoc', () => {
    const b = new GraphBuilder();
    const a = b.input('a', [2, 3]);
    b.withLoc(loc, () => b.neg(a));
    let caught: unknown;
    try {
      b.reshape(a, [5]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GradcError);
    expect((caught as GradcError).loc).toBeUndefined();
  });
});
