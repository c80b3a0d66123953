/**
 * The losses of dsl/nn.ts against float64 references written here from their definitions:
 * values and gradients of `sigmoidCrossEntropy` (random logits and soft labels, and logits far
 * beyond where e^x overflows), `huber` (both regimes, random deltas) and
 * `sparseSoftmaxCrossEntropy` (random logits and class indices, labels [B] and [B, 1]), through
 * the compiled train graph in float64 and, for extreme logits and class indices, through the js
 * and c kernels in float32.
 *
 * Each loss is declared over a parameter (the logits or predictions) and trained by SGD with
 * learning rate 1, so the train graph's new parameter is p - dL/dp: the gradient is read back
 * as p - update.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { defineModel, huber, sgd, sigmoidCrossEntropy, sparseSoftmaxCrossEntropy } from '../dsl/index.ts';
import type { ModelContext, Shape, Tensor } from '../dsl/index.ts';
import { compileModel } from '../compiler/compile.ts';
import { openBuiltModel } from '../runtime/open-built-model.ts';
import { evaluateOutputs } from '../ir/evaluate.ts';
import type { ModelInstance } from '../runtime/model.ts';
import { buildDefinition } from './build-definition.ts';
import { U32 } from './float32-bound.ts';
import { scratchFolders } from './scratch.ts';

const ROWS = 4;
const COLS = 3;
const COUNT = ROWS * COLS;
/** float64 evaluation of a few dozen operations per element. */
const F64_TOL = 1e-12;

const GRID = [ROWS, COLS] as const;

type Loss<S extends Shape> = (p: Tensor<typeof GRID>, target: Tensor<S>) => Tensor<[]>;

/** A model whose loss is `loss(p, target)` over a parameter p [4, 3] and an input target. */
function lossModel<S extends Shape>(loss: Loss<S>, targetShape: S) {
  return defineModel({
    name: 'loss-check',
    batch: ROWS,
    optimizer: sgd({ learningRate: 1 }),
    build(m: ModelContext) {
      const p = m.param('p', GRID, 'zeros');
      const target = m.input('target', targetShape);
      return { loss: loss(p, target), predictions: {} };
    },
  });
}

/** Evaluates the train graph in float64: the loss at p and its gradient dL/dp. */
function lossEvaluator<S extends Shape>(
  loss: Loss<S>,
  targetShape: S,
): (p: readonly number[], target: readonly number[]) => { loss: number; grad: number[] } {
  const train = compileModel(lossModel(loss, targetShape).declare()).graphs.find((g) => g.name === 'train')!.graph;
  return (p, target) => {
    const out = evaluateOutputs(train, { p, target, lr: [1] });
    return { loss: out['loss'][0], grad: p.map((v, i) => v - out['update:p'][i]) };
  };
}

/** The largest |a - b| over max(1, |a|, |b|). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i]), Math.abs(b[i])));
  return worst;
}

const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;

// ---- sigmoid cross-entropy: -z log s - (1 - z) log(1 - s), s = 1 / (1 + e^-x) ----

/** log(1 + e^-x) = -log sigmoid(x), without overflow on either side. */
function minusLogSigmoid(x: number): number {
  return x >= 0 ? Math.log1p(Math.exp(-x)) : -x + Math.log1p(Math.exp(x));
}

function sigmoidOf(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** -z log s(x) - (1 - z) log s(-x), per element, and its derivative (s(x) - z), both over the mean. */
function binaryCrossEntropyReference(x: readonly number[], z: readonly number[]) {
  return {
    loss: mean(x.map((xi, i) => z[i] * minusLogSigmoid(xi) + (1 - z[i]) * minusLogSigmoid(-xi))),
    grad: x.map((xi, i) => (sigmoidOf(xi) - z[i]) / x.length),
  };
}

const logitsArb = fc.array(fc.double({ min: -40, max: 40, noNaN: true }), { minLength: COUNT, maxLength: COUNT });
const labelsArb = fc.array(fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: COUNT, maxLength: COUNT });
/** Logits of any size, and 0 (where |x| and max(x, 0) have their ties). */
const EXTREME_LOGITS = [-1000, -200, -89, -40, -1e-9, 0, 0, 1e-9, 40, 89, 200, 1000];
const BINARY_LABELS = [0, 1, 0, 1, 0, 1, 0.5, 0, 1, 0, 1, 0];

describe('sigmoidCrossEntropy', () => {
  const evaluate = lossEvaluator(sigmoidCrossEntropy, GRID);

  it('equals the binary cross-entropy of sigmoid(logits), and its gradient (sigmoid(x) - z) / n', () => {
    fc.assert(
      fc.property(logitsArb, labelsArb, (x, z) => {
        const got = evaluate(x, z);
        const expected = binaryCrossEntropyReference(x, z);
        expect(relError([got.loss], [expected.loss])).toBeLessThan(F64_TOL);
        expect(relError(got.grad, expected.grad)).toBeLessThan(F64_TOL);
      }),
      { numRuns: 200 },
    );
  });

  it('stays finite and exact for logits far beyond where e^x overflows, and at 0', () => {
    const got = evaluate(EXTREME_LOGITS, BINARY_LABELS);
    const expected = binaryCrossEntropyReference(EXTREME_LOGITS, BINARY_LABELS);
    expect(Number.isFinite(got.loss)).toBe(true);
    expect(relError([got.loss], [expected.loss])).toBeLessThan(F64_TOL);
    expect(relError(got.grad, expected.grad)).toBeLessThan(F64_TOL);
    // The naive form overflows here: a stable formula is what the test checks.
    expect(Math.log(1 + Math.exp(1000))).toBe(Infinity);
  });
});

// ---- Huber: d^2 / 2 where |d| <= delta, delta (|d| - delta / 2) beyond ----

function huberReference(pred: readonly number[], target: readonly number[], delta: number) {
  const d = pred.map((p, i) => p - target[i]);
  return {
    loss: mean(d.map((di) => (Math.abs(di) <= delta ? (di * di) / 2 : delta * (Math.abs(di) - delta / 2)))),
    grad: d.map((di) => Math.max(-delta, Math.min(delta, di)) / d.length),
  };
}

const valuesArb = fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: COUNT, maxLength: COUNT });

describe('huber', () => {
  it('is quadratic within delta and linear beyond, with gradient d clipped to [-delta, delta]', () => {
    const evaluators = new Map<number, ReturnType<typeof lossEvaluator>>();
    const evaluatorFor = (delta: number) => {
      if (!evaluators.has(delta)) evaluators.set(delta, lossEvaluator((p, t) => huber(p, t, delta), GRID));
      return evaluators.get(delta)!;
    };
    const regimes = { quadratic: 0, linear: 0 };
    fc.assert(
      fc.property(valuesArb, valuesArb, fc.constantFrom(0.25, 1, 2.5), (pred, target, delta) => {
        const got = evaluatorFor(delta)(pred, target);
        const expected = huberReference(pred, target, delta);
        expect(relError([got.loss], [expected.loss])).toBeLessThan(F64_TOL);
        expect(relError(got.grad, expected.grad)).toBeLessThan(F64_TOL);
        for (let i = 0; i < COUNT; i++) regimes[Math.abs(pred[i] - target[i]) <= delta ? 'quadratic' : 'linear']++;
      }),
      { numRuns: 150 },
    );
    expect(regimes.quadratic).toBeGreaterThan(100);
    expect(regimes.linear).toBeGreaterThan(100);
  });

  it('defaults delta to 1 and meets both branches at |d| = delta', () => {
    const evaluate = lossEvaluator(huber, GRID);
    // Differences 0.5 and 3 (one per regime), -1 and 1 exactly at the joint, 0.
    const pred = [0.5, 3, -1, 1, 0, 0.5, 3, -1, 1, 0, 2, -2];
    const target = pred.map(() => 0);
    const got = evaluate(pred, target);
    const expected = huberReference(pred, target, 1);
    expect(relError([got.loss], [expected.loss])).toBeLessThan(F64_TOL);
    expect(relError(got.grad, expected.grad)).toBeLessThan(F64_TOL);
    expect(relError(got.grad.slice(0, 5).map((g) => g * COUNT), [0.5, 1, -1, 1, 0])).toBeLessThan(F64_TOL);
  });
});

// ---- sparse softmax cross-entropy: logsumexp(row) - row[label], labels as class indices ----

/**
 * The mean over rows of logsumexp(x_b) - x_b[label_b], and its gradient (softmax(x_b) - onehot) / B;
 * a row whose label is no class index has no one-hot entry: no loss, no gradient.
 */
function sparseCrossEntropyReference(x: readonly number[], labels: readonly number[]) {
  const rows = labels.map((label, b) => {
    const row = x.slice(b * COLS, (b + 1) * COLS);
    if (!(Number.isInteger(label) && label >= 0 && label < COLS)) return { loss: 0, grad: row.map(() => 0) };
    const top = Math.max(...row);
    const total = row.reduce((s, v) => s + Math.exp(v - top), 0);
    return {
      loss: top + Math.log(total) - row[label],
      grad: row.map((v, c) => (Math.exp(v - top) / total - (c === label ? 1 : 0)) / labels.length),
    };
  });
  return { loss: mean(rows.map((r) => r.loss)), grad: rows.flatMap((r) => r.grad) };
}

const classesArb = fc.array(fc.integer({ min: 0, max: COLS - 1 }), { minLength: ROWS, maxLength: ROWS });
const sparseLogitsArb = fc.array(fc.double({ min: -30, max: 30, noNaN: true }), { minLength: COUNT, maxLength: COUNT });

describe('sparseSoftmaxCrossEntropy', () => {
  it.each([
    { name: '[B]', shape: [ROWS] as const },
    { name: '[B, 1]', shape: [ROWS, 1] as const },
  ])('with labels $name equals logsumexp(row) - row[label], gradient (softmax - one-hot) / B', ({ shape }) => {
    const evaluate = lossEvaluator<typeof shape>(sparseSoftmaxCrossEntropy, shape);
    fc.assert(
      fc.property(sparseLogitsArb, classesArb, (x, labels) => {
        const got = evaluate(x, labels);
        const expected = sparseCrossEntropyReference(x, labels);
        expect(relError([got.loss], [expected.loss])).toBeLessThan(F64_TOL);
        expect(relError(got.grad, expected.grad)).toBeLessThan(F64_TOL);
      }),
      { numRuns: 150 },
    );
  });

  it('matches no column for a label that is no class index: the row adds no loss and gets no gradient', () => {
    const evaluate = lossEvaluator(sparseSoftmaxCrossEntropy, [ROWS] as const);
    const x = Array.from({ length: COUNT }, (_, i) => (i % 5) - 2);
    const labels = [0, 3, -1, 1.5];
    const got = evaluate(x, labels);
    const expected = sparseCrossEntropyReference(x, labels);
    expect(relError([got.loss], [expected.loss])).toBeLessThan(F64_TOL);
    expect(relError(got.grad, expected.grad)).toBeLessThan(F64_TOL);
    expect(got.grad.slice(COLS)).toEqual(new Array(3 * COLS).fill(0));
  });
});

// ---- the same on the kernels, in float32 ----

/** float32 logits and a dozen roundings per element; exp(-|x|) underflows to 0 gracefully. */
const F32_TOL = 1e-6;
/** A float32 gradient of size <= 1 / 12 is within a few roundings, far below this. */
const F32_GRAD_TOL = 1e-7;
const scratch = scratchFolders('losses-');
const opened: ModelInstance[] = [];
afterAll(() => {
  for (const model of opened) model.dispose();
});

describe.each(['js', 'c'] as const)('on the %s backend', (backend) => {
  it('sigmoidCrossEntropy stays finite for extreme logits, matching the reference', async () => {
    const outDir = scratch();
    buildDefinition(lossModel(sigmoidCrossEntropy, GRID), outDir, [backend], 'test/losses.test.ts');
    const model = await openBuiltModel(outDir, backend);
    opened.push(model);
    const logits = Float32Array.from(EXTREME_LOGITS);
    model.setParam('p', logits);
    const loss = await model.trainStep({ target: Float32Array.from(BINARY_LABELS) });
    const after = await model.getParam('p');
    const expected = binaryCrossEntropyReference([...logits], BINARY_LABELS);
    expect(relError([loss], [expected.loss])).toBeLessThan(F32_TOL);
    // p - update gives the gradient back up to the rounding of the update (U32 |p|: 6e-5 at 1000).
    logits.forEach((x, i) => {
      expect(Math.abs(x - after[i] - expected.grad[i]), `logit ${x}`).toBeLessThanOrEqual(2 * U32 * Math.abs(x) + F32_GRAD_TOL);
    });
  });

  it('sparseSoftmaxCrossEntropy builds its one-hot rows in the kernels (iota), matching the reference', async () => {
    const outDir = scratch();
    buildDefinition(lossModel(sparseSoftmaxCrossEntropy, [ROWS, 1] as const), outDir, [backend], 'test/losses.test.ts');
    const model = await openBuiltModel(outDir, backend);
    opened.push(model);
    const logits = Float32Array.from({ length: COUNT }, (_, i) => Math.fround(Math.sin(i) * 3));
    const labels = [2, 0, 1, 2];
    model.setParam('p', logits);
    const loss = await model.trainStep({ target: Float32Array.from(labels) });
    const after = await model.getParam('p');
    const expected = sparseCrossEntropyReference([...logits], labels);
    expect(relError([loss], [expected.loss])).toBeLessThan(F32_TOL);
    expect(relError(Array.from(logits, (v, i) => v - after[i]), expected.grad)).toBeLessThan(F32_TOL);
  });
});
