/**
 * The graphs every backend is checked on (test/backends.test.ts for C and JS,
 * test/wgsl.test.ts for WebGPU, test/cuda-emulated.test.ts for CUDA): every primitive over
 * several layouts, index ramps, Philox draws, the DSL's dropout and batch normalisation,
 * reductions, movement,
 * every matmul transposition, exact literals and random fused graphs, each with seeded random
 * feeds, plus what merges them into one schedule and compares outputs with the float64
 * reference `evaluate` within a float32 error bound (test/float32-bound.ts).
 */
import fc from 'fast-check';
import { GraphBuilder } from '../ir/builder.ts';
import { ModelContext } from '../dsl/model.ts';
import type { Tensor } from '../dsl/tensor.ts';
import { batchNorm, dropout, mul } from '../dsl/index.ts';
import { evaluate } from '../ir/evaluate.ts';
import { planMemory } from '../compiler/memory.ts';
import type { Backend, DeviceBuffer, PreparedProgram } from '../runtime/backend.ts';
import { allocateStorages } from '../runtime/model.ts';
import type { Graph, NodeId, PrimKind, Shape } from '../ir/types.ts';
import type { BinaryKind, ElementwiseKind, UnaryKind } from '../ir/ops/index.ts';
import { sizeOf } from '../ir/types.ts';
import type { Kernel, Program, ProgramIO, Schedule } from '../compiler/codegen/kernel-ir.ts';
import type { ErrorModel } from './float32-bound.ts';
import type { WindowGeometry } from '../ir/ops/window.ts';
import { LIBM_ERROR_MODEL, errorBounds, worstMismatch } from './float32-bound.ts';

// ---- test graphs ----

/** Where an input's random values come from; all values are exact float32. */
export type Domain = 'any' | 'positive' | 'nonzero' | 'small-int' | 'count';

export interface Case {
  readonly name: string;
  readonly graph: Graph;
  readonly feeds: Readonly<Record<string, Float32Array>>;
}

/** mulberry32: a small seeded generator, so every run feeds the same numbers. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(domain: Domain, rand: () => number): number {
  switch (domain) {
    case 'any':
      return Math.fround(4 * rand() - 2);
    case 'positive':
      return Math.fround(0.25 + 3.75 * rand());
    case 'nonzero':
      return Math.fround((0.5 + 1.5 * rand()) * (rand() < 0.5 ? -1 : 1));
    case 'small-int':
      return Math.floor(4 * rand()) - 1;
    case 'count':
      return Math.floor(10000 * rand());
  }
}

export interface CaseInputs {
  readonly b: GraphBuilder;
  input(name: string, shape: Shape, domain?: Domain): NodeId;
}

let caseSeed = 1;

/** A graph built by `build`, with random feeds for the inputs it declared. */
export function makeCase(name: string, build: (t: CaseInputs) => Record<string, NodeId>): Case {
  const b = new GraphBuilder();
  const rand = random(caseSeed++);
  const feeds: Record<string, Float32Array> = {};
  const input = (inputName: string, shape: Shape, domain: Domain = 'any') => {
    const values = new Float32Array(sizeOf(shape));
    for (let i = 0; i < values.length; i++) values[i] = sample(domain, rand);
    feeds[inputName] = values;
    return b.input(inputName, shape);
  };
  const outputs = build({ b, input });
  return { name, graph: b.finish(outputs), feeds };
}

/** Operand shapes: equal, a row broadcast over rows, an outer-product broadcast. */
const BINARY_LAYOUTS: readonly (readonly [Shape, Shape])[] = [
  [[4, 6], [4, 6]],
  [[5, 9], [9]],
  [[4, 1], [1, 12]],
];

/** The cases of one elementwise primitive, built when the corpus is (feeds come from seeds in order). */
type PrimitiveCases<K extends ElementwiseKind> = (kind: K) => Case[];

/** A unary primitive on its operand's domain: alone, and of a broadcast. */
function unaryCases(domain: Domain): PrimitiveCases<UnaryKind> {
  return (kind) => [
    makeCase(`${kind} [7,9]`, ({ b, input }) => ({ y: b.make(kind, [input('x', [7, 9], domain)]) })),
    makeCase(`${kind} of a broadcast [3]→[4,3]`, ({ b, input }) => ({
      y: b.make(kind, [b.broadcastTo(input('x', [3], domain), [4, 3])]),
    })),
  ];
}

/** A binary primitive on its operands' domains, over every BINARY_LAYOUTS. */
function binaryCases(da: Domain, db: Domain): PrimitiveCases<BinaryKind> {
  return (kind) =>
    BINARY_LAYOUTS.map(([sa, sb]) =>
      makeCase(`${kind} [${sa}] [${sb}]`, ({ b, input }) => ({
        y: b.binary(kind, input('x', sa, da), input('y', sb, db)),
      })),
    );
}

const whereCases: PrimitiveCases<'where'> = () => [
  makeCase('where(less(x,y), u, v) with broadcasts', ({ b, input }) => {
    const c = b.less(input('x', [3, 5]), input('y', [5]));
    return { y: b.where(c, input('u', [3, 1]), input('v', [3, 5])) };
  }),
  makeCase('where on a fed 0/1 mask', ({ b, input }) => ({
    y: b.where(input('c', [6, 4], 'small-int'), input('u', [6, 4]), input('v', [4])),
  })),
];

/**
 * The cases of every elementwise primitive, in this order: a primitive missing here, or given
 * cases of another arity, is a tsc error.
 */
const ELEMENTWISE_CASES: { readonly [K in ElementwiseKind]: PrimitiveCases<K> } = {
  neg: unaryCases('any'),
  exp: unaryCases('any'),
  log: unaryCases('positive'),
  sqrt: unaryCases('positive'),
  tanh: unaryCases('any'),
  stop_gradient: unaryCases('any'),
  add: binaryCases('any', 'any'),
  sub: binaryCases('any', 'any'),
  mul: binaryCases('any', 'any'),
  div: binaryCases('any', 'nonzero'),
  pow: binaryCases('positive', 'any'),
  maximum: binaryCases('small-int', 'any'),
  less: binaryCases('small-int', 'small-int'),
  equal: binaryCases('small-int', 'small-int'),
  where: whereCases,
};

function casesOf<K extends ElementwiseKind>(kind: K): Case[] {
  return (ELEMENTWISE_CASES[kind] as PrimitiveCases<K>)(kind);
}

export function elementwiseCases(): Case[] {
  const kinds = Object.keys(ELEMENTWISE_CASES) as ElementwiseKind[];
  return [
    ...kinds.flatMap(casesOf),
    makeCase('large flat map (parallel): exp(x) * y', ({ b, input }) => ({
      y: b.mul(b.exp(input('x', [300, 300])), input('y', [300, 300])),
    })),
    makeCase('large rows map (parallel): relu(x + bias)', ({ b, input }) => ({
      y: b.maximum(b.add(input('x', [256, 300]), input('bias', [300])), b.fill(0, [])),
    })),
  ];
}

/** Sums and maxima over random non-empty axis sets of random shapes. */
export function reductionCases(): Case[] {
  const rand = random(99);
  const cases: Case[] = [];
  for (let t = 0; t < 24; t++) {
    const rank = 1 + Math.floor(rand() * 4);
    const shape = Array.from({ length: rank }, () => 1 + Math.floor(rand() * 6));
    let axes = shape.map((_, i) => i).filter(() => rand() < 0.5);
    if (axes.length === 0) axes = [Math.floor(rand() * rank)];
    const keepDims = rand() < 0.5;
    const kind = t % 2 === 0 ? 'sum' : 'reduce_max';
    cases.push(
      makeCase(`${kind} [${shape}] axes [${axes}] keepDims=${keepDims}`, ({ b, input }) => {
        const x = input('x', shape);
        return { y: kind === 'sum' ? b.sum(x, axes, keepDims) : b.reduceMax(x, axes, keepDims) };
      }),
    );
  }
  for (const axes of [[0], [1], [0, 1]]) {
    cases.push(
      makeCase(`sum [512,160] axes [${axes}] (parallel)`, ({ b, input }) => ({
        y: b.sum(input('x', [512, 160]), axes),
      })),
    );
  }
  return cases;
}

/**
 * Reductions whose neighbouring outputs read neighbouring elements, in rows of at least 8, which
 * the C backend reduces a row at a time (`reduceColumns`): pooling's layout, a bias gradient's
 * single row, a max pool over patches.
 */
export function columnReductionCases(): Case[] {
  const pool: WindowGeometry = { kernel: [2, 2], strides: [2, 2], dilation: [1, 1], padding: [0, 0, 0, 0] };
  return [
    makeCase('columns: max [4,3,2,2,16] axes [2,3] (windows)', ({ b, input }) => ({
      y: b.reduceMax(input('x', [4, 3, 2, 2, 16]), [2, 3]),
    })),
    makeCase('columns: sum [4,3,2,2,16] axes [2,3] (windows)', ({ b, input }) => ({
      y: b.sum(input('x', [4, 3, 2, 2, 16]), [2, 3]),
    })),
    makeCase('columns: max [300,24] axis 0 (one row)', ({ b, input }) => ({
      y: b.reduceMax(input('x', [300, 24]), [0]),
    })),
    makeCase('columns: sum [300,24] axis 0 (one row)', ({ b, input }) => ({
      y: b.sum(input('x', [300, 24]), [0]),
    })),
    makeCase('columns: max pool 2x2 stride 2 [2,6,6,8]', ({ b, input }) => ({
      y: b.reduceMax(b.patches(input('x', [2, 6, 6, 8]), pool, -Infinity), [3, 4]),
    })),
  ];
}

export function movementCases(): Case[] {
  const perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  const cases = perms.map((perm) =>
    makeCase(`transpose [2,3,4] perm [${perm}]`, ({ b, input }) => ({
      y: b.transpose(input('x', [2, 3, 4]), perm),
    })),
  );
  cases.push(
    makeCase('reshape of a transpose', ({ b, input }) => ({
      y: b.reshape(b.transpose(input('x', [2, 3, 4]), [1, 0, 2]), [6, 4]),
    })),
    makeCase('transpose of a broadcast', ({ b, input }) => ({
      y: b.transpose(b.broadcastTo(input('x', [3, 1, 4]), [2, 3, 5, 4]), [3, 1, 0, 2]),
    })),
    makeCase('broadcast of a transpose, added', ({ b, input }) => ({
      y: b.add(b.transpose(input('x', [4, 3]), [1, 0]), input('y', [2, 3, 4])),
    })),
    makeCase('x + xᵀ (one buffer, two views)', ({ b, input }) => {
      const x = input('x', [9, 9]);
      return { y: b.add(x, b.transpose(x, [1, 0])) };
    }),
    makeCase('reshape then broadcast', ({ b, input }) => ({
      y: b.mul(b.reshape(input('x', [12]), [3, 4, 1]), input('y', [5])),
    })),
  );
  return cases;
}

/** Every transA/transB combination over sizes with ragged tiles, k past one block, threads. */
export function matmulCases(): Case[] {
  const sizes = [[1, 1, 1], [5, 7, 3], [13, 37, 300], [64, 65, 33], [100, 70, 520]];
  const cases: Case[] = [];
  for (const [m, n, k] of sizes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const name = `matmul ${m}x${n}x${k} transA=${transA} transB=${transB}`;
        cases.push(
          makeCase(name, ({ b, input }) => {
            const a = input('a', transA ? [k, m] : [m, k]);
            const bm = input('b', transB ? [n, k] : [k, n]);
            return { y: b.matmul(a, bm, transA, transB) };
          }),
        );
      }
    }
  }
  cases.push(
    makeCase('matmul of a fused map and a transpose, plus bias', ({ b, input }) => {
      const h = b.tanh(input('x', [6, 5]));
      const w = b.transpose(input('w', [4, 5]), [1, 0]);
      return { y: b.add(b.matmul(h, w), input('bias', [4])) };
    }),
  );
  return cases;
}

/**
 * Long reductions the schedule splits into slices (compiler/split.ts): products with a long k
 * and few outputs, in every transposition and with slices that are not a multiple of a tile,
 * and sums and maxima over a long first axis, whole or strided.
 */
export function splitCases(): Case[] {
  const cases: Case[] = [];
  const products: [number, number, number, boolean, boolean][] = [
    [5, 7, 4096, false, false],
    [5, 7, 4096, false, true],
    [5, 7, 4096, true, false],
    [5, 7, 4096, true, true],
    [13, 37, 2310, true, false],
    [13, 37, 2310, false, true],
    [70, 66, 2048, true, false],
    [66, 70, 2048, false, true],
  ];
  for (const [m, n, k, transA, transB] of products) {
    cases.push(
      makeCase(`split matmul ${m}x${n}x${k} transA=${transA} transB=${transB}`, ({ b, input }) => {
        const a = input('a', transA ? [k, m] : [m, k]);
        const bm = input('b', transB ? [n, k] : [k, n]);
        return { y: b.matmul(a, bm, transA, transB) };
      }),
    );
  }
  cases.push(
    makeCase('split sum [4096,40] axis 0 (a bias gradient)', ({ b, input }) => ({
      y: b.sum(input('x', [4096, 40]), [0]),
    })),
    makeCase('split max [3000,3] axis 0, kept', ({ b, input }) => ({
      y: b.reduceMax(input('x', [3000, 3]), [0], true),
    })),
    makeCase('split sum [2310,3] over everything', ({ b, input }) => ({
      y: b.sum(input('x', [2310, 3]), [0, 1]),
    })),
    makeCase('split max [3,2310] axis 1', ({ b, input }) => ({
      y: b.reduceMax(input('x', [3, 2310]), [1]),
    })),
    makeCase('split sum [4,2310,2] axis 1 (strided)', ({ b, input }) => ({
      y: b.sum(input('x', [4, 2310, 2]), [1]),
    })),
  );
  return cases;
}

/**
 * Convolution windows: patches with padding, strides and dilation (zero and -inf fills), a
 * convolution and pooling built on them, their adjoint alone and fused into later work.
 */
export function windowCases(): Case[] {
  const geometry = (kernel: number, stride: number, dilation: number, padding: readonly number[]): WindowGeometry => ({
    kernel: [kernel, kernel],
    strides: [stride, stride],
    dilation: [dilation, dilation],
    padding: padding as WindowGeometry['padding'],
  });
  const same3 = geometry(3, 1, 1, [1, 1, 1, 1]);
  const odd: WindowGeometry = { kernel: [2, 3], strides: [2, 1], dilation: [2, 1], padding: [0, 1, 2, 0] };
  const pool = geometry(2, 2, 1, [0, 0, 0, 0]);
  const padded = geometry(3, 2, 1, [1, 1, 1, 1]);
  return [
    makeCase('patches 3x3 same [2,5,5,3]', ({ b, input }) => ({ y: b.patches(input('x', [2, 5, 5, 3]), same3, 0) })),
    makeCase('patches 2x3, strides [2,1], dilation [2,1], padding [0,1,2,0]', ({ b, input }) => ({
      y: b.patches(input('x', [1, 7, 6, 2]), odd, 0),
    })),
    makeCase('max pool 2x2 stride 2 [2,6,6,3]', ({ b, input }) => ({
      y: b.reduceMax(b.patches(input('x', [2, 6, 6, 3]), pool, -Infinity), [3, 4]),
    })),
    makeCase('max pool 3x3 stride 2, padded with -inf', ({ b, input }) => ({
      y: b.reduceMax(b.patches(input('x', [1, 5, 5, 2]), padded, -Infinity), [3, 4]),
    })),
    makeCase('convolution 3x3 same [2,6,6,3] * [3,3,3,4]', ({ b, input }) => {
      const p = b.reshape(b.patches(input('x', [2, 6, 6, 3]), same3, 0), [72, 27]);
      return { y: b.reshape(b.matmul(p, b.reshape(input('w', [3, 3, 3, 4]), [27, 4])), [2, 6, 6, 4]) };
    }),
    // Products whose A is read through the window (implicit GEMM): forward and filter gradient
    // (A transposed), checked padding, one channel (an axis of one element), k split into
    // slices, and rows that cut across the window's axes (no row/step split of coordinates).
    makeCase('convolution 3x3 stride 2 padded [2,7,7,3] * [3,3,3,5]', ({ b, input }) => {
      const p = b.reshape(b.patches(input('x', [2, 7, 7, 3]), padded, 0), [32, 27]);
      return { y: b.matmul(p, b.reshape(input('w', [3, 3, 3, 5]), [27, 5])) };
    }),
    makeCase('convolution of one channel [2,6,6,1] * [3,3,1,4]', ({ b, input }) => {
      const p = b.reshape(b.patches(input('x', [2, 6, 6, 1]), same3, 0), [72, 9]);
      return { y: b.matmul(p, b.reshape(input('w', [3, 3, 1, 4]), [9, 4])) };
    }),
    makeCase('filter gradient 2x3, strides [2,1], dilation [2,1]: patchesᵀ · dy', ({ b, input }) => {
      const patches = b.patches(input('x', [2, 7, 6, 2]), odd, 0);
      const [n, oh, ow] = b.shapeOf(patches);
      const rows = n * oh * ow;
      return { y: b.matmul(b.reshape(patches, [rows, 12]), input('dy', [rows, 3]), true) };
    }),
    makeCase('filter gradient split into slices of k [8,32,32,2]', ({ b, input }) => {
      const p = b.reshape(b.patches(input('x', [8, 32, 32, 2]), same3, 0), [8192, 18]);
      return { y: b.matmul(p, input('dy', [8192, 4]), true) };
    }),
    makeCase('product whose rows cut across the window axes [1,8,8,1] pooled, as [8,8]', ({ b, input }) => {
      const p = b.reshape(b.patches(input('x', [1, 8, 8, 1]), pool, 0), [8, 8]);
      return { y: b.matmul(p, input('w', [8, 3])) };
    }),
    makeCase('large patches 3x3 same [4,28,28,8]', ({ b, input }) => ({
      y: b.patches(input('x', [4, 28, 28, 8]), same3, 0),
    })),
    makeCase('unpatches, strides 2, padding 1', ({ b, input }) => ({
      y: b.unpatches(input('p', [2, 3, 3, 3, 3, 2]), padded, [2, 5, 5, 2]),
    })),
    makeCase('unpatches 2x3, strides [2,1], dilation [2,1]', ({ b, input }) => ({
      y: b.unpatches(input('p', [1, 3, 6, 2, 3, 2]), odd, [1, 7, 6, 2]),
    })),
    makeCase('unpatches fused with a mask', ({ b, input }) => {
      const x = input('x', [2, 5, 5, 3]);
      return { y: b.mul(b.unpatches(input('p', [2, 5, 5, 3, 3, 3]), same3, [2, 5, 5, 3]), b.less(x, b.fill(0, []))) };
    }),
  ];
}

/**
 * Index ramps: alone along each axis, fused with a broadcast load (a rows loop), read twice,
 * reduced, and compared with fed class indices into one-hot rows.
 */
export function iotaCases(): Case[] {
  return [
    ...[0, 1, 2].map((axis) => makeCase(`iota [3,4,5] axis ${axis}`, ({ b }) => ({ y: b.iota([3, 4, 5], axis) }))),
    makeCase('iota [6,16] axis 1 plus a row broadcast (rows loop)', ({ b, input }) => ({
      y: b.add(b.iota([6, 16], 1), input('x', [16])),
    })),
    makeCase('iota [7,9] axis 0 read twice: i * i', ({ b }) => {
      const i = b.iota([7, 9], 0);
      return { y: b.mul(i, i) };
    }),
    makeCase('sum of iota [5,8] axis 1 over rows', ({ b }) => ({ y: b.sum(b.iota([5, 8], 1), [1]) })),
    makeCase('one-hot: equal(iota [6,4] axis 1, labels [6,1])', ({ b, input }) => ({
      y: b.equal(b.iota([6, 4], 1), b.broadcastTo(input('labels', [6, 1], 'small-int'), [6, 4])),
    })),
  ];
}

/**
 * Philox draws (random_uniform), which every backend must reproduce bit for bit (their error
 * bound is zero): counted by a fed step, alone and fused as dropout is, over extreme keys, with
 * a counter per element, read twice, and large enough for parallel loops and many workgroups.
 */
export function randomUniformCases(): Case[] {
  return [
    makeCase('random_uniform [3,5] seed 0 stream 0', ({ b, input }) => ({
      y: b.randomUniform(input('step', [], 'count'), [3, 5], 0, 0),
    })),
    makeCase('random_uniform [300,300] seed 2^32-1 stream 7 (parallel)', ({ b, input }) => ({
      y: b.randomUniform(input('step', [], 'count'), [300, 300], 2 ** 32 - 1, 7),
    })),
    makeCase('random_uniform with a counter per element [4,6]', ({ b, input }) => ({
      y: b.randomUniform(input('counter', [4, 6], 'count'), [4, 6], 12345, 0),
    })),
    makeCase('dropout pattern: where(u < 0.3, 0, (x + bias) / 0.7) (rows loop)', ({ b, input }) => {
      const u = b.randomUniform(input('step', [], 'count'), [64, 32], 42, 1);
      const kept = b.mul(b.add(input('x', [64, 32]), input('bias', [32])), b.fill(Math.fround(1 / 0.7), []));
      return { y: b.where(b.less(u, b.fill(0.3, [])), b.fill(0, []), kept) };
    }),
    makeCase('two streams, one read twice: u1 * u1 + u2', ({ b, input }) => {
      const step = input('step', [], 'count');
      const u1 = b.randomUniform(step, [5, 7], 9, 1);
      return { y: b.add(b.mul(u1, u1), b.randomUniform(step, [5, 7], 9, 2)), u1 };
    }),
  ];
}

/**
 * A graph declared with the DSL in training mode (`m.training` true), with random feeds for
 * every input it reads: the step counter a count, running variances positive.
 */
function trainingCase(name: string, build: (m: ModelContext) => Record<string, Tensor>): Case {
  const m = new ModelContext({ training: true, seed: 2024 });
  const outputs = Object.fromEntries(Object.entries(build(m)).map(([key, t]) => [key, t.id]));
  const graph = m.graph.finish(outputs);
  const rand = random(caseSeed++);
  const feeds: Record<string, Float32Array> = {};
  for (const node of graph.nodes) {
    if (node.kind !== 'input') continue;
    const input = node.attrs.name as string;
    const domain: Domain = input === 'step' ? 'count' : input.endsWith('.var') ? 'positive' : 'any';
    feeds[input] = Float32Array.from({ length: sizeOf(node.shape) }, () => sample(domain, rand));
  }
  return { name, graph, feeds };
}

/** The DSL's layers as the train program runs them: dropout's masks, batch normalisation. */
export function layerCases(): Case[] {
  return [
    trainingCase('dropout layer, rate 0.5, [48,40]', (m) => ({ y: dropout(m, m.input('x', [48, 40]), 0.5) })),
    trainingCase('two dropout layers (two streams), rate 0.2 then 0.6', (m) => {
      const x = m.input('x', [16, 12]);
      return { y: dropout(m, mul(dropout(m, x, 0.2), x), 0.6) };
    }),
    trainingCase('batchNorm in training over NHWC [4,3,3,5]', (m) => ({ y: batchNorm(m, 'bn', m.input('x', [4, 3, 3, 5])) })),
  ];
}

/** Values whose literals must survive rendering exactly (compared bit for bit). */
export const LITERALS = [
  0.1, 1 / 3, -2.5, 1e-45, 1.17549435e-38, 3.4028234663852886e38, 16777217, 123456789,
  Math.PI, -1e-7, 0.5, 1, -0,
];

export function literalCases(): Case[] {
  return LITERALS.map((value) =>
    makeCase(`literal ${value}`, ({ b }) => ({ y: b.fill(value, [2]) })),
  );
}

// ---- random fused graphs (fast-check) ----

const STEP_OPS = [
  'neg', 'tanh', 'exp', 'logsq', 'sqrtsq', 'add', 'sub', 'mul', 'divsq', 'powpos',
  'maximum', 'less', 'equal', 'where', 'sum', 'max', 'matmul',
] as const;

interface Step {
  readonly op: (typeof STEP_OPS)[number];
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly axesMask: number;
  readonly trans: number;
}

interface Recipe {
  readonly dims: readonly number[];
  readonly inputMasks: readonly number[];
  readonly steps: readonly Step[];
  readonly extraOutputs: readonly number[];
}

const recipeArb: fc.Arbitrary<Recipe> = fc.record({
  dims: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }),
  inputMasks: fc.array(fc.nat({ max: 15 }), { minLength: 1, maxLength: 3 }),
  steps: fc.array(
    fc.record({
      op: fc.constantFrom(...STEP_OPS),
      a: fc.nat(),
      b: fc.nat(),
      c: fc.nat(),
      axesMask: fc.nat({ max: 7 }),
      trans: fc.nat({ max: 3 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
  extraOutputs: fc.array(fc.nat(), { maxLength: 2 }),
});

/**
 * Builds a recipe: inputs broadcastable to `dims` (mask bits make axes 1, bit 3 drops the
 * leading axis), then each step applies a primitive, or a small composition that keeps the
 * primitive on its domain (log(x²+1), x/(y²+½), ...), to earlier values.
 */
function buildRecipe(recipe: Recipe, t: CaseInputs): Record<string, NodeId> {
  const { b, input } = t;
  const dims = recipe.dims;
  const pool: NodeId[] = recipe.inputMasks.map((mask, k) => {
    let shape = dims.map((d, axis) => ((mask >> axis) & 1 ? 1 : d));
    if (mask & 8 && shape.length > 1) shape = shape.slice(1);
    return input(`x${k}`, shape);
  });
  const one = b.fill(1, []);
  const half = b.fill(0.5, []);
  recipe.steps.forEach((step, s) => {
    const [x, y, z] = [step.a, step.b, step.c].map((i) => pool[i % pool.length]);
    const square = (v: NodeId) => b.mul(v, v);
    const rankOf = (v: NodeId) => b.shapeOf(v).length;
    const axes = (v: NodeId) => {
      const picked = b.shapeOf(v).map((_, i) => i).filter((i) => (step.axesMask >> i) & 1);
      return picked.length > 0 ? picked : [rankOf(v) - 1];
    };
    const build: Record<Step['op'], () => NodeId> = {
      neg: () => b.neg(x),
      tanh: () => b.tanh(x),
      exp: () => b.exp(x),
      logsq: () => b.log(b.add(square(x), one)),
      sqrtsq: () => b.sqrt(b.add(square(x), half)),
      add: () => b.add(x, y),
      sub: () => b.sub(x, y),
      mul: () => b.mul(x, y),
      divsq: () => b.div(x, b.add(square(y), half)),
      powpos: () => b.pow(b.add(square(x), half), b.tanh(y)),
      maximum: () => b.maximum(x, y),
      less: () => b.less(x, y),
      equal: () => b.equal(x, y),
      where: () => b.where(b.less(x, y), z, x),
      sum: () => b.sum(x, axes(x), true),
      max: () => b.reduceMax(x, axes(x), true),
      matmul: () => recipeMatmul(t, b.broadcastTo(x, dims), step.trans, s),
    };
    pool.push(build[step.op]());
  });
  const outputs: Record<string, NodeId> = { y: pool[pool.length - 1] };
  recipe.extraOutputs.forEach((i, k) => (outputs[`extra${k}`] = pool[i % pool.length]));
  return outputs;
}

/** x as a matrix [rows, last] times a fed square matrix, in one of the four layouts. */
function recipeMatmul({ b, input }: CaseInputs, x: NodeId, trans: number, s: number): NodeId {
  const shape = b.shapeOf(x);
  const cols = shape[shape.length - 1];
  const rows = sizeOf(shape) / cols;
  const x2 = b.reshape(x, [rows, cols]);
  const transA = (trans & 1) === 1;
  const transB = (trans & 2) === 2;
  let product: NodeId;
  if (!transA) {
    product = b.matmul(x2, input(`w${s}`, [cols, cols]), false, transB);
  } else {
    const xOperand = transB ? b.transpose(x2, [1, 0]) : x2;
    product = b.matmul(input(`w${s}`, [rows, rows]), xOperand, true, transB);
  }
  return b.reshape(product, shape);
}

/** Largest magnitude a random graph may reach before it is discarded (overflow risk). */
const RANDOM_GRAPH_MAX_MAGNITUDE = 1e6;

function isTame(c: Case): boolean {
  for (const value of evaluate(c.graph, c.feeds).values()) {
    for (const v of value) if (!(Math.abs(v) <= RANDOM_GRAPH_MAX_MAGNITUDE)) return false;
  }
  return true;
}

const RANDOM_GRAPHS = 60;

export function randomCases(): Case[] {
  const recipes = fc.sample(recipeArb, { seed: 20240531, numRuns: 4 * RANDOM_GRAPHS });
  const cases = recipes.map((recipe, i) =>
    makeCase(`random graph ${i}: ${JSON.stringify(recipe)}`, (t) => buildRecipe(recipe, t)),
  );
  return cases.filter(isTame).slice(0, RANDOM_GRAPHS);
}

// ---- one schedule for all of them ----

/**
 * Programs of separately scheduled graphs side by side, buffer ids renumbered, then (with
 * `plan`) a memory plan over all of them (compiler/memory.ts), so a backend also runs with
 * temporaries sharing storage within and across programs. Unplanned, every buffer has its own
 * allocation, where an emulator's guard pages catch a kernel writing past its buffer.
 */
export function mergeSchedules(parts: readonly Schedule[], plan = true): Schedule {
  const buffers: Schedule['buffers'][number][] = [];
  const programs: Program[] = [];
  for (const part of parts) {
    const offset = buffers.length;
    const at = (id: number) => id + offset;
    buffers.push(...part.buffers.map((d) => ({ ...d, id: at(d.id), storage: at(d.storage) })));
    for (const p of part.programs) {
      programs.push({
        ...p,
        kernels: p.kernels.map(
          (k): Kernel => ({ ...k, inputs: k.inputs.map(at), output: at(k.output) }),
        ),
        feeds: p.feeds.map((io) => ({ ...io, buffer: at(io.buffer) })),
        outputs: p.outputs.map((io) => ({ ...io, buffer: at(io.buffer) })),
      });
    }
  }
  return plan ? planMemory({ buffers, programs }) : { buffers, programs };
}

/** Each output outside its bound, described for the failure message. */
export function mismatches(
  c: Case,
  got: Record<string, Float32Array>,
  model: ErrorModel = LIBM_ERROR_MODEL,
): string[] {
  const values = evaluate(c.graph, c.feeds);
  const bounds = errorBounds(c.graph, values, model);
  const problems: string[] = [];
  for (const [name, id] of Object.entries(c.graph.outputs)) {
    const worst = worstMismatch(got[name], values.get(id)!, bounds.get(id)!);
    if (!worst) continue;
    const { index, got: g, want, bound } = worst;
    problems.push(`${name}[${index}]: got ${g}, reference ${want}, allowed ±${bound}`);
  }
  return problems;
}

/**
 * Elementwise work fused into a product's kernel as its epilogue (compiler/fuse.ts): bias and
 * ReLU, transposed operands with column-broadcast and full operands, an epilogue that reads an
 * operand of the product or the product twice, a convolution's (implicit GEMM), loads that do
 * not fit the product's rows, a random draw and an index ramp; and a product two kernels read,
 * which keeps no epilogue. Then in-place updates of an input: an SGD step in a product's
 * epilogue, an epilogue reading the old value twice with other inputs, one whose loads do not
 * fit the product's rows, a product alone, and a product that reads the old value as an
 * operand (which keeps its copy). Then the same for reductions (`reduction epilogue: ...`): a
 * bias update after a column sum, a max then exp, a row sum then log (short rows, and rows long
 * enough for whole warps and workgroup trees), a column sum times a vector, a broadcast operand,
 * the total of a split reduction, an epilogue that reads the reduced input; and a reduction two
 * kernels read, which keeps no epilogue.
 */
export function epilogueCases(): Case[] {
  const same3: WindowGeometry = { kernel: [3, 3], strides: [1, 1], dilation: [1, 1], padding: [1, 1, 1, 1] };
  return [
    makeCase('epilogue: relu(x · w + bias) [7,5]·[5,9]', ({ b, input }) => ({
      y: b.maximum(b.add(b.matmul(input('x', [7, 5]), input('w', [5, 9])), input('bias', [9])), b.fill(0, [])),
    })),
    makeCase('epilogue: tanh(aᵀ · bᵀ * c[m,1] + d[m,n]), 70x65x33', ({ b, input }) => {
      const p = b.matmul(input('a', [33, 70]), input('b', [65, 33]), true, true);
      return { y: b.tanh(b.add(b.mul(p, input('c', [70, 1])), input('d', [70, 65]))) };
    }),
    makeCase('epilogue reading an operand of the product: a · b + a', ({ b, input }) => {
      const a = input('a', [6, 6]);
      return { y: b.add(b.matmul(a, input('b', [6, 6])), a) };
    }),
    makeCase('epilogue reading the product twice: p * tanh(p)', ({ b, input }) => {
      const p = b.matmul(input('x', [64, 20]), input('w', [20, 72]));
      return { y: b.mul(p, b.tanh(p)) };
    }),
    makeCase('epilogue of a convolution: relu(conv 3x3 same [2,6,6,3] * [3,3,3,4] + bias)', ({ b, input }) => {
      const rows = b.reshape(b.patches(input('x', [2, 6, 6, 3]), same3, 0), [72, 27]);
      const product = b.reshape(b.matmul(rows, b.reshape(input('w', [3, 3, 3, 4]), [27, 4])), [2, 6, 6, 4]);
      return { y: b.maximum(b.add(product, input('bias', [4])), b.fill(0, [])) };
    }),
    makeCase('epilogue whose loads do not fit the rows: p as [6,4,2] + c[4,1]', ({ b, input }) => {
      const p = b.reshape(b.matmul(input('x', [6, 3]), input('w', [3, 8])), [6, 4, 2]);
      return { y: b.add(p, input('c', [4, 1])) };
    }),
    makeCase('epilogue with a random draw: p * (u < 0.5)', ({ b, input }) => {
      const p = b.matmul(input('x', [16, 4]), input('w', [4, 24]));
      const u = b.randomUniform(input('step', [], 'count'), [16, 24], 7, 3);
      return { y: b.mul(p, b.less(u, b.fill(0.5, []))) };
    }),
    makeCase('epilogue with an index ramp: p + iota along the columns', ({ b, input }) => ({
      y: b.add(b.matmul(input('x', [5, 3]), input('w', [3, 11])), b.iota([5, 11], 1)),
    })),
    makeCase('a product two kernels read keeps no epilogue: exp(p) and the sum of p', ({ b, input }) => {
      const p = b.matmul(input('x', [9, 4]), input('w', [4, 10]));
      return { y: b.exp(p), s: b.sum(p, [1]) };
    }),
    // In-place updates (compiler/in-place.ts): the updated input is read back after the run
    // (`programResults`).
    makeCase('in-place SGD step in the epilogue: update:w = w - lr * (xᵀ · dz), 48x80x64', ({ b, input }) => {
      const w = input('w', [48, 80]);
      const g = b.matmul(input('x', [64, 48]), input('dz', [64, 80]), true, false);
      return { 'update:w': b.sub(w, b.mul(input('lr', [], 'positive'), g)) };
    }),
    makeCase('in-place update reading the old value twice with a bias: w * 0.9 + tanh(w) - aᵀ · bᵀ * c[n]', ({ b, input }) => {
      const w = input('w', [13, 37]);
      const g = b.mul(b.matmul(input('a', [5, 13]), input('b', [37, 5]), true, true), input('c', [37]));
      return { 'update:w': b.sub(b.add(b.mul(w, b.fill(0.9, [])), b.tanh(w)), g) };
    }),
    makeCase('in-place update whose loads do not fit the rows: w[6,4,2] - (x · v as [6,4,2]) * c[4,1]', ({ b, input }) => {
      const w = input('w', [6, 4, 2]);
      const p = b.reshape(b.matmul(input('x', [6, 3]), input('v', [3, 8])), [6, 4, 2]);
      return { 'update:w': b.sub(w, b.mul(p, input('c', [4, 1]))) };
    }),
    makeCase('in-place update by the product alone: update:w = x · v', ({ b, input }) => {
      input('w', [7, 9]);
      return { 'update:w': b.matmul(input('x', [7, 3]), input('v', [3, 9])) };
    }),
    makeCase('an update whose product reads the old value keeps its copy: update:w = w - w · g', ({ b, input }) => {
      const w = input('w', [8, 8]);
      return { 'update:w': b.sub(w, b.matmul(w, input('g', [8, 8]))) };
    }),
    makeCase('reduction epilogue: a bias update b - 0.1 * sum(g, [0]), [60,25] (columns)', ({ b, input }) => ({
      y: b.sub(input('b', [25]), b.mul(b.fill(Math.fround(0.1), []), b.sum(input('g', [60, 25]), [0]))),
    })),
    makeCase('reduction epilogue: exp(max(x, [1])), [9,14]', ({ b, input }) => ({
      y: b.exp(b.reduceMax(input('x', [9, 14]), [1])),
    })),
    makeCase('reduction epilogue: log(sum(x, [1])), [12,30]', ({ b, input }) => ({
      y: b.log(b.sum(input('x', [12, 30], 'positive'), [1])),
    })),
    makeCase('reduction epilogue: log(sum(x, [1])) over long rows, [5,200]', ({ b, input }) => ({
      y: b.log(b.sum(input('x', [5, 200], 'positive'), [1])),
    })),
    makeCase('reduction epilogue: tanh(max(x, [1]) - c), [3,1500]', ({ b, input }) => ({
      y: b.tanh(b.sub(b.reduceMax(input('x', [3, 1500]), [1]), input('c', [3]))),
    })),
    makeCase('reduction epilogue: sum(x, [0]) * c[n], [40,32] (columns)', ({ b, input }) => ({
      y: b.mul(b.sum(input('x', [40, 32]), [0]), input('c', [32])),
    })),
    makeCase('reduction epilogue with a broadcast operand: relu(sum(x, [2]) + c[5]), [4,5,10]', ({ b, input }) => ({
      y: b.maximum(b.add(b.sum(input('x', [4, 5, 10]), [2]), input('c', [5])), b.fill(0, [])),
    })),
    makeCase('reduction epilogue on a split total: sum(x, [0]) * 0.5 + c, [4096,3]', ({ b, input }) => ({
      y: b.add(b.mul(b.sum(input('x', [4096, 3]), [0]), b.fill(0.5, [])), input('c', [3])),
    })),
    makeCase('reduction epilogue reading the reduced input: max(x, [0]) - x as [12], [1,12]', ({ b, input }) => {
      const x = input('x', [1, 12]);
      return { y: b.sub(b.reduceMax(x, [0]), b.reshape(x, [12])) };
    }),
    makeCase('a reduction two kernels read keeps no epilogue: exp(s) and -s, s = sum(x, [1])', ({ b, input }) => {
      const s = b.sum(input('x', [8, 6]), [1]);
      return { y: b.exp(s), z: b.neg(s) };
    }),
  ];
}

/**
 * Products large enough for the GPU targets' tiled and blocked kernels (more than 2^18
 * multiply-adds, at least 33 rows and columns: compiler/codegen/render/wgsl.ts and cuda.ts),
 * with edges that are no multiple of a 64 x 64 tile, of a vector of four or of a step of 16 in
 * k: every transposition, a split k, implicit GEMMs (a convolution and its filter gradient,
 * also split), epilogues and in-place updates.
 */
export function largeProductCases(): Case[] {
  const same3: WindowGeometry = { kernel: [3, 3], strides: [1, 1], dilation: [1, 1], padding: [1, 1, 1, 1] };
  const cases: Case[] = [];
  const products: [number, number, number, (readonly [boolean, boolean])[]][] = [
    [67, 130, 75, [[false, false], [false, true], [true, false], [true, true]]],
    [33, 257, 40, [[false, false], [true, true]]],
    [65, 67, 2048, [[false, false], [true, true]]],
  ];
  for (const [m, n, k, layouts] of products) {
    for (const [transA, transB] of layouts) {
      cases.push(
        makeCase(`large matmul ${m}x${n}x${k} transA=${transA} transB=${transB}`, ({ b, input }) => {
          const a = input('a', transA ? [k, m] : [m, k]);
          const bm = input('b', transB ? [n, k] : [k, n]);
          return { y: b.matmul(a, bm, transA, transB) };
        }),
      );
    }
  }
  cases.push(
    makeCase('large convolution 3x3 same [2,10,10,15] * [3,3,15,40] + bias, relu', ({ b, input }) => {
      const rows = b.reshape(b.patches(input('x', [2, 10, 10, 15]), same3, 0), [200, 135]);
      const product = b.matmul(rows, b.reshape(input('w', [3, 3, 15, 40]), [135, 40]));
      return { y: b.maximum(b.add(b.reshape(product, [2, 10, 10, 40]), input('bias', [40])), b.fill(0, [])) };
    }),
    makeCase('large filter gradient 3x3 same [2,10,10,15]: patchesᵀ · dy [200,40]', ({ b, input }) => {
      const rows = b.reshape(b.patches(input('x', [2, 10, 10, 15]), same3, 0), [200, 135]);
      return { y: b.matmul(rows, input('dy', [200, 40]), true) };
    }),
    makeCase('large filter gradient split into slices of k [4,32,32,4]: patchesᵀ · dy', ({ b, input }) => {
      const rows = b.reshape(b.patches(input('x', [4, 32, 32, 4]), same3, 0), [4096, 36]);
      return { y: b.matmul(rows, input('dy', [4096, 37]), true) };
    }),
    makeCase('large epilogue: relu(x · w + bias) [100,70]·[70,90]', ({ b, input }) => {
      const p = b.matmul(input('x', [100, 70]), input('w', [70, 90]));
      return { y: b.maximum(b.add(p, input('bias', [90])), b.fill(0, [])) };
    }),
    makeCase('large epilogue reading the product twice: p * tanh(p) * c[m,1], 70x99x61', ({ b, input }) => {
      const p = b.matmul(input('x', [70, 61]), input('w', [99, 61]), false, true);
      return { y: b.mul(b.mul(p, b.tanh(p)), input('c', [70, 1])) };
    }),
    makeCase('large in-place SGD step: update:w = w - lr * (xᵀ · dz), 80x97x65', ({ b, input }) => {
      const w = input('w', [80, 97]);
      const g = b.matmul(input('x', [65, 80]), input('dz', [65, 97]), true, false);
      return { 'update:w': b.sub(w, b.mul(input('lr', [], 'positive'), g)) };
    }),
    makeCase('large in-place update reading the old value twice: w * 0.9 + tanh(w) - aᵀ · bᵀ', ({ b, input }) => {
      const w = input('w', [45, 70]);
      const g = b.matmul(input('a', [90, 45]), input('b', [70, 90]), true, true);
      return { 'update:w': b.sub(b.add(b.mul(w, b.fill(0.9, [])), b.tanh(w)), g) };
    }),
  );
  return cases;
}

/**
 * The corpus's families of cases, in a fixed order (each case's feeds come from the next seed;
 * later families come last, so the feeds of the earlier ones stay as they were).
 */
const FAMILIES = {
  elementwise: elementwiseCases,
  reductions: reductionCases,
  movement: movementCases,
  matmul: matmulCases,
  split: splitCases,
  windows: windowCases,
  literals: literalCases,
  randomGraphs: randomCases,
  iota: iotaCases,
  randomUniform: randomUniformCases,
  layers: layerCases,
  columnReductions: columnReductionCases,
  epilogues: epilogueCases,
  largeProducts: largeProductCases,
} as const;

export type CorpusFamily = keyof typeof FAMILIES;

/**
 * The family whose graphs hold each primitive that is not elementwise (ELEMENTWISE_CASES holds
 * those): a primitive missing here is a tsc error, and test/backends.test.ts checks that the
 * family's graphs do hold it.
 */
const FAMILY_OF: Readonly<Record<Exclude<PrimKind, ElementwiseKind>, CorpusFamily>> = {
  input: 'elementwise',
  fill: 'literals',
  iota: 'iota',
  random_uniform: 'randomUniform',
  sum: 'reductions',
  reduce_max: 'reductions',
  broadcast: 'movement',
  reshape: 'movement',
  transpose: 'movement',
  patches: 'windows',
  unpatches: 'windows',
  matmul: 'matmul',
};

/** The family of cases that exercises `kind`. */
export function corpusFamilyOf(kind: PrimKind): CorpusFamily {
  return kind in ELEMENTWISE_CASES ? 'elementwise' : FAMILY_OF[kind as keyof typeof FAMILY_OF];
}

/** The whole corpus by family, in the fixed order of FAMILIES. */
export function corpusFamilies(): { readonly family: CorpusFamily; readonly cases: Case[] }[] {
  const families = Object.keys(FAMILIES) as CorpusFamily[];
  return families.map((family) => ({ family, cases: FAMILIES[family]() }));
}

/** The whole corpus, in a fixed order. */
export function corpusCases(): Case[] {
  return corpusFamilies().flatMap(({ cases }) => cases);
}

// ---- running a schedule on a device backend ----

/** A schedule's buffers allocated on a backend (one per storage) and its programs prepared. */
export interface ScheduleTarget {
  readonly backend: Backend;
  readonly buffers: readonly DeviceBuffer[];
  readonly programs: readonly PreparedProgram[];
}

/** Allocates every buffer of `schedule` on `backend` and prepares all its programs concurrently. */
export async function openScheduleTarget(backend: Backend, schedule: Schedule): Promise<ScheduleTarget> {
  const buffers = allocateStorages(schedule.buffers, (size) => backend.allocate(size));
  const launches = (p: Program) =>
    p.kernels.map((k) => ({ kernel: k.name, args: [...k.inputs, k.output].map((id) => buffers[id]) }));
  const programs = await Promise.all(schedule.programs.map((p) => backend.prepare(launches(p))));
  return { backend, buffers, programs };
}

/**
 * What a program's run is checked on: its outputs, and each fed buffer that a kernel of the
 * program writes (an `update:<name>` of a data input, updated in place or copied back) as
 * `update:<name>`.
 */
export function programResults(program: Program): ProgramIO[] {
  const written = new Set(program.kernels.map((k) => k.output));
  const updated = program.feeds.filter((f) => written.has(f.buffer));
  return [...program.outputs, ...updated.map((f) => ({ name: `update:${f.name}`, buffer: f.buffer }))];
}

/** Runs program `index` of `target` on `feeds`; returns its results (`programResults`) by name. */
export async function runScheduleProgram(
  target: ScheduleTarget,
  program: Program,
  index: number,
  feeds: Readonly<Record<string, Float32Array>>,
): Promise<Record<string, Float32Array>> {
  const { backend, buffers } = target;
  for (const feed of program.feeds) backend.upload(buffers[feed.buffer], feeds[feed.name]);
  target.programs[index].run();
  const out: Record<string, Float32Array> = {};
  for (const io of programResults(program)) out[io.name] = await backend.download(buffers[io.buffer]);
  return out;
}
