/**
 * Type tests: shape mistakes between literal shapes are tsc errors (`npm test` runs tsc over
 * this file, and an unused `@ts-expect-error` fails it). The same mistakes also fail at build
 * time with the user's file:line, which the runtime assertions check.
 */
import { describe, expect, it } from 'vitest';
import {
  add, defineModel, dense, matmul, mul, relu, sgd, softmax, softmaxCrossEntropy,
  sparseSoftmaxCrossEntropy, sub, sumAll, transpose,
} from '../dsl/index.ts';
import type { ModelContext, Tensor } from '../dsl/index.ts';
import type { BinaryKind, ComputedKind, PassThroughKind, UnaryKind } from '../ir/ops/index.ts';
import { OPS, isElementwise, isPassThrough } from '../ir/ops/index.ts';

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
function expectType<T extends true>(_: T): void {}

function declare(build: (m: ModelContext) => void): () => void {
  const model = defineModel({
    name: 'shapes',
    batch: 4,
    optimizer: sgd({ learningRate: 0.1 }),
    build(m) {
      build(m);
      const x = m.input('probe', [1]);
      return { loss: sumAll(relu(x)), predictions: {} };
    },
  });
  return () => model.declare();
}

describe('typed shapes', () => {
  it('infers literal shapes through matmul, broadcasting and layers', () => {
    declare((m) => {
      const x = m.input('x', [8, 784]);
      const w = m.param('w', [784, 250], 'he_normal');
      const h = matmul(x, w);
      expectType<Equal<typeof h, Tensor<[8, 250]>>>(true);
      const b = m.param('b', [250], 'zeros');
      const y = add(h, b);
      expectType<Equal<typeof y, Tensor<[8, 250]>>>(true);
      const s = mul(y, 2);
      expectType<Equal<typeof s, Tensor<[8, 250]>>>(true);
      const d = dense(m, 'fc', y, 10);
      expectType<Equal<typeof d, Tensor<[8, 10]>>>(true);
      const t = transpose(d);
      expectType<Equal<typeof t, Tensor<[10, 8]>>>(true);
      const p = softmax(d);
      expectType<Equal<typeof p, Tensor<[8, 10]>>>(true);
    })();
  });

  it('rejects a matmul whose inner sizes differ, in tsc and at build time', () => {
    const build = declare((m) => {
      const x = m.input('x', [8, 784]);
      const w = m.param('w', [250, 10], 'he_normal');
      // @ts-expect-error inner sizes 784 and 250 differ
      matmul(x, w);
    });
    expect(build).toThrow(/dsl-types\.test\.ts:\d+:\d+ matmul: matmul \[8,784\] x \[250,10\]: inner sizes differ/);
  });

  it('rejects elementwise operands that do not broadcast', () => {
    const build = declare((m) => {
      const a = m.input('a', [8, 3]);
      const b = m.input('b', [8, 4]);
      // @ts-expect-error [8,3] and [8,4] do not broadcast
      sub(a, b);
    });
    expect(build).toThrow(/dsl-types\.test\.ts:\d+:\d+ sub: shapes \[8,3\] and \[8,4\] do not broadcast/);
  });

  it('rejects labels whose class count differs from the logits', () => {
    declare((m) => {
      const logits = m.input('logits', [8, 10]);
      const labels = m.input('labels', [8, 9]);
      // @ts-expect-error 9 classes vs 10
      expect(() => softmaxCrossEntropy(logits, labels)).toThrow(/do not broadcast/);
    })();
  });

  it('takes class indices [B] or [B, 1] for sparse labels, and rejects another batch', () => {
    declare((m) => {
      const logits = m.input('logits', [8, 10]);
      expectType<Equal<ReturnType<typeof sparseSoftmaxCrossEntropy<8, 10>>, Tensor<[]>>>(true);
      sparseSoftmaxCrossEntropy(logits, m.input('rows', [8]));
      sparseSoftmaxCrossEntropy(logits, m.input('column', [8, 1]));
      const other = m.input('other', [7]);
      // @ts-expect-error 7 labels for 8 rows
      expect(() => sparseSoftmaxCrossEntropy(logits, other)).toThrow(/labels must have shape \[8\] or \[8, 1\]/);
    })();
  });

  it('rejects a dense layer fed the wrong rank', () => {
    declare((m) => {
      const x = m.input('x', [8, 2, 3]);
      // @ts-expect-error dense takes [batch, features]
      expect(() => dense(m, 'fc', x, 4)).toThrow();
    })();
  });
});

describe('primitive kinds derived from the op registry', () => {
  it('takes the unary kinds from the elementwise records of arity 1, and no others', () => {
    const unary: readonly UnaryKind[] = ['neg', 'exp', 'log', 'sqrt', 'tanh', 'stop_gradient'];
    const recorded = Object.values(OPS).filter((op) => isElementwise(op) && op.arity === 1);
    expect([...unary].sort()).toEqual(recorded.map((op) => op.kind).sort());
    // A binary primitive, and a reduction of one operand: neither is unary.
    expectType<Equal<Extract<UnaryKind, 'add' | 'sum'>, never>>(true);
    expectType<Equal<Extract<BinaryKind, 'neg' | 'where' | 'matmul'>, never>>(true);
  });

  it('leaves pass-through primitives out of what renderers emit', () => {
    expectType<Equal<PassThroughKind, 'stop_gradient'>>(true);
    expectType<Equal<Extract<ComputedKind, 'stop_gradient'>, never>>(true);
    expect(isPassThrough(OPS.stop_gradient)).toBe(true);
  });
});
