/**
 * Convolution and pooling in the DSL (dsl/conv.ts): values and output sizes against direct
 * float64 loops written here from the definitions (Keras' `same` and `valid`), gradients of a
 * small convolutional network against finite differences, training steps of a CNN through the
 * js and c backends against the float64 reference of its train graph, and the errors a wrong
 * call gets at the user's line.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  avgPool2d, conv, conv2d, defineModel, dense, flatten, globalAvgPool, maxPool2d, mean, mul, relu,
  sgd, softmaxCrossEntropy, sumAll,
} from '../dsl/index.ts';
import type { ModelContext, ModelOutputs, Tensor } from '../dsl/index.ts';
import { compileModel } from '../compiler/compile.ts';
import { GradcError } from '../ir/errors.ts';
import { grad } from '../compiler/autodiff/grad.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { evaluate, evaluateOutputs } from '../ir/evaluate.ts';
import type { Graph, NodeId } from '../ir/types.ts';
import { sizeOf } from '../ir/types.ts';
import { tensorRole } from '../dsl/spec.ts';
import { buildAndOpen } from '../cli/build-and-open.ts';
import { random } from './backend-corpus.ts';

type Padding = 'same' | 'valid';

/** Keras' output size of one spatial axis. */
function outputSize(size: number, kernel: number, stride: number, dilation: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Keras' `same` padding before an axis: half the total, the odd one after. */
function padBefore(size: number, kernel: number, stride: number, dilation: number, padding: Padding): number {
  if (padding === 'valid') return 0;
  const total = Math.max((outputSize(size, kernel, stride, dilation, padding) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return Math.floor(total / 2);
}

interface Window {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly kh: number;
  readonly kw: number;
  readonly strides: [number, number];
  readonly dilation: [number, number];
  readonly padding: Padding;
}

/**
 * For each output position and window offset, the input position it reads or undefined in the
 * padding: the definition every reference below is written from.
 */
function forEachWindowElement(
  s: Window,
  visit: (b: number, oy: number, ox: number, ky: number, kx: number, iy: number | undefined, ix: number | undefined) => void,
): [number, number] {
  const oh = outputSize(s.h, s.kh, s.strides[0], s.dilation[0], s.padding);
  const ow = outputSize(s.w, s.kw, s.strides[1], s.dilation[1], s.padding);
  const top = padBefore(s.h, s.kh, s.strides[0], s.dilation[0], s.padding);
  const left = padBefore(s.w, s.kw, s.strides[1], s.dilation[1], s.padding);
  for (let b = 0; b < s.n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < s.kh; ky++)
          for (let kx = 0; kx < s.kw; kx++) {
            const iy = oy * s.strides[0] + ky * s.dilation[0] - top;
            const ix = ox * s.strides[1] + kx * s.dilation[1] - left;
            const inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
            visit(b, oy, ox, ky, kx, inside ? iy : undefined, inside ? ix : undefined);
          }
  return [oh, ow];
}

function referenceConv(s: Window, f: number, x: Float64Array, w: Float64Array): { shape: number[]; values: Float64Array } {
  const oh = outputSize(s.h, s.kh, s.strides[0], s.dilation[0], s.padding);
  const ow = outputSize(s.w, s.kw, s.strides[1], s.dilation[1], s.padding);
  const out = new Float64Array(s.n * oh * ow * f);
  forEachWindowElement(s, (b, oy, ox, ky, kx, iy, ix) => {
    if (iy === undefined || ix === undefined) return;
    for (let ch = 0; ch < s.c; ch++)
      for (let o = 0; o < f; o++) {
        out[((b * oh + oy) * ow + ox) * f + o] += x[((b * s.h + iy) * s.w + ix) * s.c + ch] * w[((ky * s.kw + kx) * s.c + ch) * f + o];
      }
  });
  return { shape: [s.n, oh, ow, f], values: out };
}

/** Max and mean over each window's elements inside the input. */
function referencePools(s: Window, x: Float64Array): { shape: number[]; max: Float64Array; avg: Float64Array } {
  const oh = outputSize(s.h, s.kh, s.strides[0], s.dilation[0], s.padding);
  const ow = outputSize(s.w, s.kw, s.strides[1], s.dilation[1], s.padding);
  const size = s.n * oh * ow * s.c;
  const max = new Float64Array(size).fill(-Infinity);
  const sum = new Float64Array(size);
  const count = new Float64Array(size);
  forEachWindowElement(s, (b, oy, ox, _ky, _kx, iy, ix) => {
    if (iy === undefined || ix === undefined) return;
    for (let ch = 0; ch < s.c; ch++) {
      const o = ((b * oh + oy) * ow + ox) * s.c + ch;
      const v = x[((b * s.h + iy) * s.w + ix) * s.c + ch];
      max[o] = Math.max(max[o], v);
      sum[o] += v;
      count[o]++;
    }
  });
  return { shape: [s.n, oh, ow, s.c], max, avg: sum.map((v, i) => v / count[i]) };
}

const windowArb: fc.Arbitrary<Window> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 7 }),
    w: fc.integer({ min: 1, max: 7 }),
    c: fc.integer({ min: 1, max: 3 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.constantFrom<Padding>('same', 'valid'),
  })
  .filter((s) => s.h >= s.dilation[0] * (s.kh - 1) + 1 && s.w >= s.dilation[1] * (s.kw - 1) + 1);

function randomValues(count: number, seed: number): Float64Array {
  const rand = random(seed);
  return Float64Array.from({ length: count }, () => Math.fround(4 * rand() - 2));
}

/** The graph a declaration builds, with its predictions as outputs. */
function declared(build: (m: ModelContext) => ModelOutputs): Graph {
  return defineModel({ name: 'windows', batch: 1, optimizer: sgd({ learningRate: 0.1 }), build: (m) => build(m) }).declare().graph;
}

/** The float64 values of a declaration's predictions (its updates need gradients, built later). */
function predictionsOf(graph: Graph, feeds: Record<string, Float64Array>): Record<string, Float64Array> {
  const names = Object.keys(graph.outputs).filter((name) => tensorRole(name)?.kind === 'predict');
  const values = evaluate(graph, feeds, names.map((name) => graph.outputs[name]));
  return Object.fromEntries(names.map((name) => [name, values.get(graph.outputs[name])!]));
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return a.length === b.length ? worst : Infinity;
}

describe('convolution and pooling values', () => {
  it('conv2d, maxPool2d and avgPool2d equal direct loops, with Keras output sizes', () => {
    fc.assert(
      fc.property(windowArb, fc.integer({ min: 1, max: 3 }), fc.nat(), (s, f, seed) => {
        const x = randomValues(s.n * s.h * s.w * s.c, seed);
        const w = randomValues(s.kh * s.kw * s.c * f, seed + 1);
        const options = { strides: s.strides, padding: s.padding } as const;
        const graph = declared((m) => {
          const xt = m.input('x', [s.n, s.h, s.w, s.c]);
          const wt = m.param('w', [s.kh, s.kw, s.c, f], 'zeros');
          const y = conv2d(xt, wt, { ...options, dilation: s.dilation });
          const pool = { size: [s.kh, s.kw], ...options } as const;
          const predictions = { conv: y, max: maxPool2d(xt, pool), avg: avgPool2d(xt, pool) };
          return { loss: sumAll(y), predictions };
        });
        const out = predictionsOf(graph, { x, w });
        const conv = referenceConv(s, f, x, w);
        expect(graph.nodes[graph.outputs['predict:conv']].shape).toEqual(conv.shape);
        expect(maxDifference(out['predict:conv'], conv.values)).toBeLessThan(1e-12);
        // Pools slide windows without dilation.
        const pools = referencePools({ ...s, dilation: [1, 1] }, x);
        expect(graph.nodes[graph.outputs['predict:max']].shape).toEqual(pools.shape);
        expect(maxDifference(out['predict:max'], pools.max)).toBe(0);
        expect(maxDifference(out['predict:avg'], pools.avg)).toBeLessThan(1e-12);
      }),
      { numRuns: 150 },
    );
  });

  it('globalAvgPool and flatten', () => {
    const x = randomValues(2 * 3 * 4 * 5, 7);
    const graph = declared((m) => {
      const xt = m.input('x', [2, 3, 4, 5]);
      return { loss: sumAll(xt), predictions: { g: globalAvgPool(xt), f: flatten(xt) } };
    });
    const out = predictionsOf(graph, { x });
    const expected = new Float64Array(10);
    for (let i = 0; i < x.length; i++) expected[Math.floor(i / 60) * 5 + (i % 5)] += x[i] / 12;
    expect(maxDifference(out['predict:g'], expected)).toBeLessThan(1e-12);
    expect(graph.nodes[graph.outputs['predict:f']].shape).toEqual([2, 60]);
    expect([...out['predict:f']]).toEqual([...x]);
  });
});

describe('gradients through convolution and pooling', () => {
  /** A loss over conv, ReLU, max and average pooling with strides, padding and dilation. */
  function network(m: ModelContext): ModelOutputs {
    const x = m.input('x', [2, 7, 6, 2]);
    const h = relu(conv(m, 'c1', x, 3, { kernel: [3, 2], padding: 'same', dilation: [2, 1] }));
    const p = maxPool2d(h, { size: [2, 2], strides: [2, 1], padding: 'same' });
    const q = avgPool2d(conv(m, 'c2', p, 2, { kernel: [2, 2], strides: [2, 2] }), { size: [2, 2], strides: [1, 1], padding: 'same' });
    const y = dense(m, 'out', flatten(q), 3);
    return { loss: mean(mul(y, y)) as Tensor<[]>, predictions: {} };
  }

  it('grad of the loss matches central differences of the float64 reference', () => {
    const spec = defineModel({ name: 'cnn', batch: 2, optimizer: sgd({ learningRate: 0.1 }), build: network }).declare();
    const b = new GraphBuilder();
    const map = new Map<NodeId, NodeId>();
    spec.graph.nodes.forEach((node, id) => map.set(id, b.make(node.kind, node.src.map((s) => map.get(s)!), node.attrs)));
    const loss = map.get(spec.graph.outputs.loss)!;
    const params = spec.params.map((p) => b.input(p.name, p.shape));
    const grads = grad(b, loss, params);
    const graph = b.finish({ loss });
    const feeds: Record<string, Float64Array> = { x: randomValues(2 * 7 * 6 * 2, 3) };
    spec.params.forEach((p, i) => (feeds[p.name] = randomValues(sizeOf(p.shape), 10 + i).map((v) => v / 2)));
    const symbolic = evaluate(graph, feeds, grads);
    const lossAt = () => evaluate(graph, feeds, [loss]).get(loss)![0];
    let worst = 0;
    spec.params.forEach((p, i) => {
      const g = symbolic.get(grads[i])!;
      const values = feeds[p.name];
      for (let j = 0; j < values.length; j++) {
        const saved = values[j];
        const h = 1e-6 * Math.max(1, Math.abs(saved));
        values[j] = saved + h;
        const up = lossAt();
        values[j] = saved - h;
        const down = lossAt();
        values[j] = saved;
        worst = Math.max(worst, Math.abs(g[j] - (up - down) / (2 * h)) / Math.max(1, Math.abs(g[j])));
      }
    });
    expect(worst).toBeLessThan(1e-7);
  });
});

describe.each(['js', 'c'] as const)('a CNN trained through the %s backend', (backend) => {
  it('one step matches the float64 reference of the train graph, and training lowers the loss', async () => {
    const outDir = join('.cache', 'conv-test', backend);
    const { model, compiled } = await buildAndOpen('test/fixtures/tiny-cnn.ts', { backend, outDir });
    const train = compiled.graphs.find((g) => g.name === 'train')!.graph;
    const x = Float32Array.from(randomValues(4 * 8 * 8 * 1, 5));
    const y = new Float32Array(4 * 3);
    [0, 1, 2, 0].forEach((label, row) => (y[row * 3 + label] = 1));
    const before = Object.fromEntries(Object.entries(await model.snapshot()).map(([name, t]) => [name, t.data]));
    const hypers = Object.fromEntries(model.artifact.hypers.map((h) => [h.name, [h.value]]));
    const expected = evaluateOutputs(train, { ...before, ...hypers, x, y });
    const first = await model.trainStep({ x, y });
    expect(Math.abs(first - expected.loss[0]) / Math.max(1, Math.abs(expected.loss[0]))).toBeLessThan(1e-5);
    const after = await model.snapshot();
    for (const [name, t] of Object.entries(after)) {
      expect(maxDifference(t.data, expected[`update:${name}`]), name).toBeLessThan(1e-5);
    }
    let last = first;
    for (let step = 0; step < 30; step++) last = await model.trainStep({ x, y });
    expect(last).toBeLessThan(first / 2);
    model.dispose();
  });
});

describe('mistakes in convolution calls', () => {
  const THIS_FILE = 'test/conv.test.ts';
  function errorOf(build: (m: ModelContext) => Tensor<readonly number[]>): GradcError {
    try {
      const build2 = (m: ModelContext) => ({ loss: sumAll(build(m)), predictions: {} });
      compileModel(defineModel({ name: 'bad', batch: 2, optimizer: sgd({ learningRate: 0.1 }), build: build2 }).declare());
    } catch (e) {
      expect(e).toBeInstanceOf(GradcError);
      expect((e as GradcError).loc?.file, (e as Error).message).toBe(THIS_FILE);
      return e as GradcError;
    }
    throw new Error('no error');
  }

  it('names what is wrong at the line of the call', () => {
    const x = (m: ModelContext) => m.input('x', [2, 5, 5, 3] as number[]) as Tensor<[number, number, number, number]>;
    expect(errorOf((m) => conv2d(x(m), m.param('w', [3, 3, 2, 4] as number[], 'zeros') as Tensor<[number, number, number, number]>)).message).toMatch(
      /filters must be \[KH,KW,C,F\] with C = 3 \(the input's channels\), got \[3,3,2,4\]/,
    );
    expect(errorOf((m) => maxPool2d(x(m), { size: [7, 7] })).message).toMatch(/a 7x7 window does not fit the 5x5 input \[2,5,5,3\]/);
    expect(errorOf((m) => conv(m, 'c', x(m), 2, { kernel: [3, 3], padding: 'full' as 'same' })).message).toMatch(/padding must be 'same' or 'valid', got "full"/);
    expect(errorOf((m) => conv(m, 'c', x(m), 2, { kernel: [3, 3], strides: [0, 1] })).message).toMatch(/strides must be two positive integers/);
    expect(errorOf((m) => globalAvgPool(m.input('v', [2, 5]) as unknown as Tensor<[number, number, number, number]>)).message).toMatch(/NHWC/);
  });

  it('a convolution of 3x3 filters on 28x28 with same padding keeps the size at the type level', () => {
    defineModel({
      name: 'types',
      batch: 2,
      optimizer: sgd({ learningRate: 0.1 }),
      build(m) {
        const x = m.input('x', [2, 28, 28, 1]);
        const w = m.param('w', [3, 3, 1, 8], 'he_normal');
        const y: Tensor<[2, 28, 28, 8]> = conv2d(x, w, { padding: 'same' });
        const w2 = m.param('w2', [3, 3, 2, 8], 'he_normal');
        // A type error, never called: the filters have 2 input channels, the input 1.
        // @ts-expect-error
        const mismatched = () => conv2d(x, w2);
        expect(typeof mismatched).toBe('function');
        return { loss: softmaxCrossEntropy(dense(m, 'd', flatten(y), 2), m.input('y', [2, 2])), predictions: {} };
      },
    }).declare();
  });
});
