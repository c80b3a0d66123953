/**
 * Property tests on whole random graphs. A small stack machine decodes a fast-check drawn
 * program into a graph: it starts from 1-3 inputs of random small shapes, repeatedly applies a
 * unary / binary / reduce / movement / matmul step to nodes already on the stack (decoding each
 * step into something the shapes allow), and ends with a weighted sum to a scalar `f`.
 *
 * Checked: grad(f) and Hessian-vector products against central finite differences, that
 * `optimize` preserves every output and does not grow the graph, and the JSON round trip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grad } from '../compiler/autodiff/grad.ts';
import { GraphBuilder, broadcastShapes } from '../ir/builder.ts';
import { evaluate, evaluateOutputs } from '../ir/evaluate.ts';
import type { Feeds } from '../ir/evaluate.ts';
import { graphFromJson, graphToJson, printGraph } from '../ir/print.ts';
import { PRIM_KINDS, sizeOf } from '../ir/types.ts';
import type { Graph, NodeId, PrimKind, Shape } from '../ir/types.ts';
import { compact, optimize } from '../compiler/passes/index.ts';

/** Runs per property; GRADC_PROP_RUNS overrides it for a longer soak. */
const NUM_RUNS = Number(process.env.GRADC_PROP_RUNS ?? 100);
/** Per-test timeout in ms, scaled for soaks (100 runs take well under a second). */
const TIMEOUT = Math.max(20_000, NUM_RUNS * 10);

/** Central-difference step along a coordinate: h = FD_STEP * max(1, |x|). */
const FD_STEP = 1e-6;
/** Step along the direction v (|v_i| <= 1) for the Hessian-vector product check. */
const HVP_STEP = 1e-5;

/**
 * Bounds on max |symbolic - fd| / max(1, |symbolic|, |fd|). Random graphs compose up to
 * MAX_STEPS ops, so f can reach |f| ~ 1e2 and its higher derivatives are larger than for one
 * op; the rounding error eps |f| / h then dominates. Worst seen in soaks (GRADC_PROP_RUNS=10000
 * to 40000 graphs): gradient 2.9e-8, Hessian-vector 2.0e-8, so 1e-6 keeps a >30x margin; a
 * wrong rule gives O(1e-2) or more. Points within a step of a kink are skipped (see
 * comparisonsAgree): 1 graph in 40k for the Hessian-vector check, none for the gradient.
 */
const GRAD_REL_TOL = 1e-6;
const HVP_REL_TOL = 1e-6;
/** optimize() may only reassociate fill arithmetic; everything else is bit-identical. */
const OPT_REL_TOL = 1e-12;

const MAX_STEPS = 8;
const MAX_SIZE = 36;
const MAX_RANK = 3;

// ---------------------------------------------------------------- program and decoding

interface Step {
  readonly op: number;
  readonly a: number;
  readonly b: number;
  readonly p: number;
  readonly flag: boolean;
}

interface Program {
  readonly inputs: readonly Shape[];
  readonly steps: readonly Step[];
  /** Seeds the input values, the weights of f and the direction v. */
  readonly seed: number;
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: MAX_RANK });
const stepArb: fc.Arbitrary<Step> = fc.record({
  op: fc.nat(1000),
  a: fc.nat(1000),
  b: fc.nat(1000),
  p: fc.nat(1000),
  flag: fc.boolean(),
});
const programArb: fc.Arbitrary<Program> = fc.record({
  inputs: fc.array(shapeArb, { minLength: 1, maxLength: 3 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: MAX_STEPS }),
  seed: fc.integer(),
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Every shape of rank 0..3 whose dims multiply to `size`, without size-1 axes past rank 2. */
function shapesOfSize(size: number): number[][] {
  const out: number[][] = [];
  const grow = (prefix: number[], rest: number) => {
    if (rest === 1) out.push(prefix);
    if (prefix.length === MAX_RANK) return;
    for (let d = 1; d <= rest; d++) {
      if (rest % d === 0 && !(d === 1 && prefix.length >= 2)) grow([...prefix, d], rest / d);
    }
  };
  grow([], size);
  return out;
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) =>
    range(n).map((i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

function axesFrom(bits: number, rank: number): number[] {
  return range(rank).filter((i) => (bits >> i) & 1);
}

type StepFn = (b: GraphBuilder, x: NodeId, y: NodeId, s: Step) => NodeId | undefined;

function sumAll(b: GraphBuilder, x: NodeId): NodeId {
  return b.sum(x, range(b.shapeOf(x).length));
}

/** x*x + 1: a positive operand for log, sqrt, div and pow. */
function positive(b: GraphBuilder, x: NodeId): NodeId {
  return b.add(b.mul(x, x), b.fill(1, []));
}

/** y, or its total when it does not broadcast against x. */
function compatible(b: GraphBuilder, x: NodeId, y: NodeId): NodeId {
  try {
    broadcastShapes(b.shapeOf(x), b.shapeOf(y));
    return y;
  } catch {
    return sumAll(b, y);
  }
}

function binary(fn: (b: GraphBuilder, x: NodeId, y: NodeId) => NodeId): StepFn {
  return (b, x, y) => fn(b, x, compatible(b, x, y));
}

/** [p, q] view of x with q its last axis. */
function asMatrix(b: GraphBuilder, x: NodeId): NodeId {
  const shape = b.shapeOf(x);
  const q = shape.length ? shape[shape.length - 1] : 1;
  return b.reshape(x, [sizeOf(shape) / q, q]);
}

const STEPS: readonly StepFn[] = [
  (b, x) => b.neg(x),
  (b, x) => b.tanh(x),
  (b, x) => b.exp(b.tanh(x)),
  (b, x) => b.log(positive(b, x)),
  (b, x) => b.sqrt(positive(b, x)),
  binary((b, x, y) => b.add(x, y)),
  binary((b, x, y) => b.sub(x, y)),
  binary((b, x, y) => b.mul(x, y)),
  binary((b, x, y) => b.div(x, positive(b, y))),
  binary((b, x, y) => b.pow(positive(b, x), b.tanh(y))),
  binary((b, x, y) => b.maximum(x, y)),
  // A select on a comparison against a threshold, so that ties are not structural.
  binary((b, x, y) => b.where(b.less(x, b.fill(0.3, [])), b.mul(x, y), b.add(x, y))),
  // Argmax mask: equal against the spread maximum, as a softmax-style pattern would do.
  (b, x, _y, s) => {
    const axes = axesFrom(s.p, b.shapeOf(x).length);
    const max = b.broadcastTo(b.reduceMax(x, axes, true), b.shapeOf(x));
    return b.mul(x, b.equal(x, max));
  },
  // Softmax over some axes, shifted by a max that no gradient flows through: the value does
  // not depend on the shift, so the stopped gradient is the true one.
  (b, x, _y, s) => {
    const shape = b.shapeOf(x);
    const axes = axesFrom(s.p, shape.length);
    const shift = b.broadcastTo(b.stopGradient(b.reduceMax(x, axes, true)), shape);
    const e = b.exp(b.sub(x, shift));
    return b.div(e, b.broadcastTo(b.sum(e, axes, true), shape));
  },
  (b, x, _y, s) => b.sum(x, axesFrom(s.p, b.shapeOf(x).length), s.flag),
  (b, x, _y, s) => b.reduceMax(x, axesFrom(s.p, b.shapeOf(x).length), s.flag),
  (b, x, _y, s) => {
    const shape = b.shapeOf(x);
    const stretched = shape.map((d, i) => (d === 1 && (s.p >> i) & 1 ? 2 : d));
    const target = s.flag && shape.length < MAX_RANK ? [2, ...stretched] : stretched;
    return sizeOf(target) <= MAX_SIZE ? b.broadcastTo(x, target) : undefined;
  },
  (b, x, _y, s) => {
    const options = shapesOfSize(sizeOf(b.shapeOf(x)));
    return b.reshape(x, options[s.p % options.length]);
  },
  // With `flag`, a raw node that may be an identity transpose (the builder helper drops those).
  (b, x, _y, s) => {
    const perms = permutations(b.shapeOf(x).length);
    const perm = perms[s.p % perms.length];
    return s.flag ? b.make('transpose', [x], { perm }) : b.transpose(x, perm);
  },
  // matmul(op(X), op(Y)) with X = Aᵀ when transA (so optimize folds the transpose back), and
  // B = y viewed as [q, r] when its size allows, else Aᵀ.
  (b, x, y, s) => {
    const a = asMatrix(b, x);
    const [p, q] = b.shapeOf(a);
    const ySize = sizeOf(b.shapeOf(y));
    const bm = ySize % q === 0 ? b.reshape(y, [q, ySize / q]) : b.transpose(a, [1, 0]);
    const r = b.shapeOf(bm)[1];
    if (p * r > MAX_SIZE) return undefined;
    const transA = s.flag;
    const transB = (s.p & 1) === 1;
    // Sometimes wrap an operand in a raw identity transpose, which must stay a no-op.
    const raw = (m: NodeId) => ((s.p & 2) === 2 ? b.make('transpose', [m], { perm: [0, 1] }) : m);
    const xm = transA ? b.transpose(a, [1, 0]) : raw(a);
    const ym = transB ? b.transpose(bm, [1, 0]) : raw(bm);
    return b.matmul(xm, ym, transA, transB);
  },
  // x times uniform draws keyed by p, counted by a constant (as a step would count them).
  (b, x, _y, s) => b.mul(x, b.randomUniform(b.fill(s.p % 5, []), b.shapeOf(x), 7, s.p % 3)),
  // x times the index ramp along one of its axes (a source: no gradient flows into it).
  (b, x, _y, s) => {
    const shape = b.shapeOf(x);
    return shape.length === 0 ? undefined : b.mul(x, b.iota(shape, s.p % shape.length));
  },
  (b, x, y, s) => {
    const cond = b.less(y, b.fill(s.flag ? 0 : 0.5, []));
    return b.where(compatible(b, x, cond), x, b.neg(b.tanh(x)));
  },
  // Windows over x as a one-channel image [1, p, q, 1]: 2x2 windows, padding 1, strides 1 or
  // 2; a pooling-like sum over the window axes, or the adjoint adding them back onto x's shape.
  (b, x, _y, s) => {
    const [p, q] = b.shapeOf(asMatrix(b, x));
    const image = b.reshape(x, [1, p, q, 1]);
    const stride = (s.p % 2) + 1;
    const geometry = { kernel: [2, 2], strides: [stride, stride], dilation: [1, 1], padding: [1, 0, 1, 1] } as const;
    const patches = b.tanh(b.patches(image, geometry, s.p % 3 === 0 ? -0.5 : 0));
    if (s.flag) {
      const pooled = b.sum(b.mul(patches, patches), [3, 4]);
      const [, oh, ow] = b.shapeOf(pooled);
      return b.reshape(pooled, [oh, ow]);
    }
    return b.reshape(b.unpatches(patches, geometry, [1, p, q, 1]), b.shapeOf(x));
  },
];

interface Built {
  readonly graph: Graph;
  readonly xs: readonly NodeId[];
  readonly f: NodeId;
  readonly grads: readonly NodeId[];
  readonly hvps: readonly NodeId[];
  readonly feeds: Record<string, number[]>;
  readonly inputShapes: readonly Shape[];
}

/** mulberry32: uniform values from an integer seed (fast-check doubles cluster on ties). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(next: () => number, n: number, lo: number, hi: number): number[] {
  return range(n).map(() => lo + (hi - lo) * next());
}

function build(prog: Program): Built {
  const b = new GraphBuilder();
  const xs = prog.inputs.map((shape, i) => b.input(`x${i}`, shape));
  const stack: NodeId[] = [...xs];
  const consumed = new Set<NodeId>();
  for (const s of prog.steps) {
    const x = stack[s.a % stack.length];
    const y = stack[s.b % stack.length];
    const out = STEPS[s.op % STEPS.length](b, x, y, s);
    if (out === undefined || b.shapeOf(out).length > MAX_RANK) continue;
    if (sizeOf(b.shapeOf(out)) > MAX_SIZE) continue;
    consumed.add(x).add(y);
    stack.push(out);
  }
  // f sums every node that no step consumed (the top always among them), each weighted.
  const sinks = stack.filter((id, i) => !consumed.has(id) || i === stack.length - 1);
  const unique = [...new Set(sinks)];
  const next = rng(prog.seed);
  const feeds: Record<string, number[]> = {};
  const terms = unique.map((id, k) => {
    const w = b.input(`w${k}`, b.shapeOf(id));
    feeds[`w${k}`] = uniform(next, sizeOf(b.shapeOf(id)), -1, 1);
    return sumAll(b, b.mul(id, w));
  });
  const f = terms.reduce((acc, t) => b.add(acc, t));
  const grads = grad(b, f, xs);
  const vs = xs.map((x, i) => b.input(`v${i}`, b.shapeOf(x)));
  const dot = grads.map((g, i) => sumAll(b, b.mul(g, vs[i]))).reduce((acc, t) => b.add(acc, t));
  const hvps = grad(b, dot, xs);
  const outputs: Record<string, NodeId> = { f };
  grads.forEach((g, i) => (outputs[`g${i}`] = g));
  hvps.forEach((h, i) => (outputs[`hv${i}`] = h));
  prog.inputs.forEach((shape, i) => {
    feeds[`x${i}`] = uniform(next, sizeOf(shape), -1.5, 1.5);
    feeds[`v${i}`] = uniform(next, sizeOf(shape), -1, 1);
  });
  return { graph: b.finish(outputs), xs, f, grads, hvps, feeds, inputShapes: prog.inputs };
}

function relErr(a: number, b: number): number {
  if (Object.is(a, b)) return 0;
  return Math.abs(a - b) / Math.max(1, Math.abs(a), Math.abs(b));
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, relErr(a[i], b[i]));
  return worst;
}

function kindsOf(graph: Graph): Set<PrimKind> {
  return new Set(graph.nodes.map((n) => n.kind));
}

const describeGraph = (g: Built) => `\n${printGraph(g.graph)}\nfeeds ${JSON.stringify(g.feeds)}`;

/**
 * Whether every comparison (`less`, `equal`: the forward selects and the masks the VJPs of
 * maximum and reduce_max build) has the same value at all the given points. When it does not,
 * a kink of f (or of its gradient) lies between the points and finite differences there are
 * meaningless, so the check is skipped; the tests assert that such skips stay rare.
 */
function comparisonsAgree(g: Built, points: readonly Feeds[]): boolean {
  const masks = g.graph.nodes.flatMap((n, id) =>
    n.kind === 'less' || n.kind === 'equal' ? [id] : [],
  );
  const [first, ...rest] = points.map((feeds) => evaluate(g.graph, feeds, masks));
  const same = (values: Map<NodeId, Float64Array>, id: NodeId) =>
    maxRelErr(values.get(id)!, first.get(id)!) === 0;
  return rest.every((values) => masks.every((id) => same(values, id)));
}

/** At most 1% of the runs (and 2 in short runs) may land on a kink. */
const maxKinks = () => Math.max(2, NUM_RUNS / 100);

// ---------------------------------------------------------------- properties

describe('random graphs', () => {
  it('(a) whole-graph gradient matches central finite differences', () => {
    const seen = new Set<PrimKind>();
    let worst = 0;
    let kinks = 0;
    fc.assert(
      fc.property(programArb, (prog) => {
        const g = build(prog);
        kindsOf(g.graph).forEach((k) => seen.add(k));
        const feeds = g.feeds;
        const symbolic = evaluate(g.graph, feeds, g.grads);
        const fAt = () => evaluate(g.graph, feeds, [g.f]).get(g.f)![0];
        let err = 0;
        g.xs.forEach((_, i) => {
          const x = feeds[`x${i}`];
          const gi = symbolic.get(g.grads[i])!;
          for (let j = 0; j < x.length; j++) {
            const v = x[j];
            const h = FD_STEP * Math.max(1, Math.abs(v));
            const [xp, xm] = [v + h, v - h];
            x[j] = xp;
            const fp = fAt();
            x[j] = xm;
            const fm = fAt();
            x[j] = v;
            const e = relErr(gi[j], (fp - fm) / (xp - xm));
            const at = (t: number) => ({
              ...feeds,
              [`x${i}`]: x.map((u, k) => (k === j ? t : u)),
            });
            if (e > GRAD_REL_TOL && !comparisonsAgree(g, [at(xp), at(v), at(xm)])) kinks++;
            else err = Math.max(err, e);
          }
        });
        worst = Math.max(worst, err);
        if (err > GRAD_REL_TOL) expect.fail(`gradient error ${err}${describeGraph(g)}`);
      }),
      { numRuns: NUM_RUNS },
    );
    const summary = `worst gradient error ${worst.toExponential(1)} (bound ${GRAD_REL_TOL})`;
    console.log(`(a) ${summary}, ${kinks} coordinates skipped at kinks`);
    expect(kinks).toBeLessThanOrEqual(maxKinks());
    // The generator reaches every primitive (a new primitive needs a step above).
    expect([...seen].sort()).toEqual([...PRIM_KINDS].sort());
  }, TIMEOUT);

  it('(b) grad of grad: Hessian-vector products match differences of the gradient', () => {
    let worst = 0;
    let kinks = 0;
    fc.assert(
      fc.property(programArb, (prog) => {
        const g = build(prog);
        const hv = evaluate(g.graph, g.feeds, g.hvps);
        const along = (t: number) => {
          const feeds: Record<string, number[]> = { ...g.feeds };
          g.xs.forEach((_, i) => {
            const v = g.feeds[`v${i}`];
            feeds[`x${i}`] = g.feeds[`x${i}`].map((x, j) => x + t * v[j]);
          });
          return feeds;
        };
        const plus = evaluate(g.graph, along(HVP_STEP), g.grads);
        const minus = evaluate(g.graph, along(-HVP_STEP), g.grads);
        let err = 0;
        g.grads.forEach((gi, i) => {
          const fd = plus.get(gi)!.map((p, j) => (p - minus.get(gi)![j]) / (2 * HVP_STEP));
          err = Math.max(err, maxRelErr(hv.get(g.hvps[i])!, fd));
        });
        if (err > HVP_REL_TOL) {
          if (!comparisonsAgree(g, [along(HVP_STEP), g.feeds, along(-HVP_STEP)])) {
            kinks++;
            return;
          }
          expect.fail(`Hessian-vector error ${err}${describeGraph(g)}`);
        }
        worst = Math.max(worst, err);
      }),
      { numRuns: NUM_RUNS },
    );
    const summary = `worst Hessian-vector error ${worst.toExponential(1)} (bound ${HVP_REL_TOL})`;
    console.log(`(b) ${summary}, ${kinks} graphs skipped at kinks`);
    expect(kinks).toBeLessThanOrEqual(maxKinks());
  }, TIMEOUT);

  it('(c, d) optimize preserves every output and does not grow the graph', () => {
    let before = 0;
    let after = 0;
    fc.assert(
      fc.property(programArb, fc.integer(), (prog, seed) => {
        const g = build(prog);
        const once = optimize(g.graph).graph;
        const twice = optimize(once).graph;
        const live = compact(g.graph).nodes.length;
        before += live;
        after += once.nodes.length;
        expect(once.nodes.length).toBeLessThanOrEqual(live);
        expect(twice.nodes.length).toBeLessThanOrEqual(once.nodes.length);
        expect(Object.keys(once.outputs).sort()).toEqual(Object.keys(g.graph.outputs).sort());

        // Fresh random inputs, not only the ones the gradients were checked at.
        const next = rng(seed);
        const feeds: Record<string, number[]> = {};
        for (const [name, value] of Object.entries(g.feeds)) {
          feeds[name] = uniform(next, value.length, -2, 2);
        }
        const want = evaluateOutputs(g.graph, feeds);
        for (const opt of [once, twice]) {
          const got = evaluateOutputs(opt, feeds);
          for (const [name, id] of Object.entries(g.graph.outputs)) {
            expect(opt.nodes[opt.outputs[name]].shape).toEqual(g.graph.nodes[id].shape);
            const err = maxRelErr(got[name], want[name]);
            if (err > OPT_REL_TOL) {
              const shown = `${describeGraph(g)}\n${printGraph(opt)}`;
              expect.fail(`output ${name} changed by ${err}${shown}`);
            }
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
    console.log(`(c) optimize: ${before} live nodes -> ${after} over ${NUM_RUNS} graphs`);
  }, TIMEOUT);

  it('(e) the JSON round trip preserves the graph and its evaluation', () => {
    fc.assert(
      fc.property(programArb, (prog) => {
        const g = build(prog);
        for (const graph of [g.graph, optimize(g.graph).graph]) {
          const back = graphFromJson(graphToJson(graph));
          expect(printGraph(back)).toBe(printGraph(graph));
          expect(back.nodes.length).toBe(graph.nodes.length);
          const want = evaluateOutputs(graph, g.feeds);
          const got = evaluateOutputs(back, g.feeds);
          for (const name of Object.keys(want)) expect(maxRelErr(got[name], want[name])).toBe(0);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  }, TIMEOUT);

  it('(e) the JSON round trip keeps non-finite constants', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [3]);
    const masked = b.maximum(x, b.fill(-Infinity, []));
    const shrunk = b.div(x, b.fill(Infinity, []));
    const signed = b.div(b.fill(1, [3]), b.mul(x, b.fill(-0, [])));
    const graph = b.finish({ masked, shrunk, signed, nan: b.fill(NaN, [2]) });
    const back = graphFromJson(graphToJson(graph));
    const feeds: Feeds = { x: [1, -2, 3] };
    const want = evaluateOutputs(graph, feeds);
    const got = evaluateOutputs(back, feeds);
    expect(Array.from(want.masked)).toEqual([1, -2, 3]);
    expect(Array.from(got.masked)).toEqual(Array.from(want.masked));
    expect(Array.from(want.shrunk)).toEqual([0, -0, 0]);
    expect(Array.from(got.shrunk)).toEqual(Array.from(want.shrunk));
    expect(Array.from(want.signed)).toEqual([-Infinity, Infinity, -Infinity]);
    expect(Array.from(got.signed)).toEqual(Array.from(want.signed));
    expect(Array.from(got.nan)).toEqual([NaN, NaN]);
  });
});
