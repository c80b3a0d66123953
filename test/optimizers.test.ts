/**
 * Every optimizer's first three steps through the generated kernels (js and c) against a
 * float64 reference written here from the optimizer's formula: AdaGrad, RMSprop (with and
 * without momentum), Adam, AdamW, Nadam, clipping by global norm (above and below the
 * threshold, and after clipping by value), and the L1 and L2 penalties.
 *
 * The model is tiny: inputs x and t of 2 values, parameters w [2] and b [1], and the loss
 * sum((x w + b - t)^2), whose gradient the reference writes down: with r = x w + b - t,
 * dL/dw = 2 r x and dL/db = 2 sum(r). The parameters are one vector [w0, w1, b0] to the
 * reference, so a norm over all gradients is the norm of that vector.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adagrad, adam, adamw, add, defineModel, momentum, mul, nadam, rmsprop, sgd, sub, sumAll,
} from '../dsl/index.ts';
import type { ModelDefinition, Optimizer } from '../dsl/index.ts';
import { openBuiltModel } from '../runtime/open-built-model.ts';
import type { ModelInstance } from '../runtime/model.ts';
import { buildDefinition } from './build-definition.ts';
import { scratchFolders } from './scratch.ts';

const THIS_FILE = 'test/optimizers.test.ts';
const STEPS = 3;
const LR = 0.1;
/**
 * float32 parameters, state and constants (1 - 0.999 is 1.3e-5 off in float32, which moves
 * Adam's second moment by as much) over three steps: 1e-5 of max(1, |value|). Every rule moves
 * a parameter by about lr = 0.1 a step, so a wrong term shows far above it.
 */
const TOL = 1e-5;

const X = [1.5, -0.8].map(Math.fround);
const TARGET = [0.3, 0.7].map(Math.fround);
/** [w0, w1, b0]: b starts at 0, where sign(b) is 0 (L1 adds nothing there). */
const START = [0.5, -0.25, 0].map(Math.fround);

/** The loss and its gradient at theta = [w0, w1, b0], in float64. */
function lossAndGradient(theta: readonly number[]): { loss: number; grad: number[] } {
  const r = X.map((x, j) => x * theta[j] + theta[2] - TARGET[j]);
  return {
    loss: r[0] ** 2 + r[1] ** 2,
    grad: [2 * r[0] * X[0], 2 * r[1] * X[1], 2 * (r[0] + r[1])],
  };
}

function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

/** What every optimizer does to the gradient first: clip by value, by global norm, add penalties. */
interface GradientRule {
  readonly clipValue?: number;
  readonly clipNorm?: number;
  readonly weightDecay?: number;
  readonly l1?: number;
}

function preparedGradient(theta: readonly number[], grad: readonly number[], o: GradientRule): number[] {
  const byValue = grad.map((g) => (o.clipValue === undefined ? g : Math.min(o.clipValue, Math.max(-o.clipValue, g))));
  const n = norm(byValue);
  const byNorm = o.clipNorm !== undefined && n > o.clipNorm ? byValue.map((g) => (g * o.clipNorm!) / n) : byValue;
  return byNorm.map((g, i) => g + (o.weightDecay ?? 0) * theta[i] + (o.l1 ?? 0) * Math.sign(theta[i]));
}

/** One reference step: the new parameters from the prepared gradient at step t (1, 2, ...). */
type Step = (theta: readonly number[], g: readonly number[], t: number) => number[];

const zeros = () => START.map(() => 0);

function sgdRule(): Step {
  return (theta, g) => theta.map((p, i) => p - LR * g[i]);
}

function momentumRule(mu: number): Step {
  const v = zeros();
  return (theta, g) =>
    theta.map((p, i) => {
      v[i] = mu * v[i] - LR * g[i];
      return p + v[i];
    });
}

function adagradRule(epsilon: number, initial: number): Step {
  const r = START.map(() => initial);
  return (theta, g) =>
    theta.map((p, i) => {
      r[i] += g[i] * g[i];
      return p - (LR * g[i]) / Math.sqrt(r[i] + epsilon);
    });
}

function rmspropRule(rho: number, epsilon: number, mu: number): Step {
  const s = zeros();
  const v = zeros();
  return (theta, g) =>
    theta.map((p, i) => {
      s[i] = rho * s[i] + (1 - rho) * g[i] * g[i];
      v[i] = mu * v[i] + (LR * g[i]) / Math.sqrt(s[i] + epsilon);
      return p - v[i];
    });
}

/** Adam; with `decay`, AdamW's decoupled weight decay. */
function adamRule(beta1: number, beta2: number, epsilon: number, decay = 0): Step {
  const m = zeros();
  const v = zeros();
  return (theta, g, t) =>
    theta.map((p, i) => {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - beta1 ** t);
      const vHat = v[i] / (1 - beta2 ** t);
      return p - LR * (mHat / (Math.sqrt(vHat) + epsilon) + decay * p);
    });
}

/** Dozat's Nadam as Keras computes it, with mu_t = beta1 (1 - 0.5 * 0.96^t). */
function nadamRule(beta1: number, beta2: number, epsilon: number): Step {
  const m = zeros();
  const v = zeros();
  const mu = (t: number) => beta1 * (1 - 0.5 * 0.96 ** t);
  const muProduct = (t: number) => Array.from({ length: t }, (_, i) => mu(i + 1)).reduce((a, b) => a * b, 1);
  return (theta, g, t) =>
    theta.map((p, i) => {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const mHat = (mu(t + 1) * m[i]) / (1 - muProduct(t + 1)) + ((1 - mu(t)) * g[i]) / (1 - muProduct(t));
      const vHat = v[i] / (1 - beta2 ** t);
      return p - (LR * mHat) / (Math.sqrt(vHat) + epsilon);
    });
}

/** The reference run: the loss before each step, the parameters after it, and the raw gradient norms. */
function referenceRun(step: Step, rule: GradientRule) {
  let theta = [...START];
  const losses: number[] = [];
  const thetas: number[][] = [];
  const norms: number[] = [];
  for (let t = 1; t <= STEPS; t++) {
    const { loss, grad } = lossAndGradient(theta);
    losses.push(loss);
    norms.push(norm(grad));
    theta = step(theta, preparedGradient(theta, grad, rule), t);
    thetas.push(theta);
  }
  return { losses, thetas, norms };
}

interface Case {
  readonly name: string;
  readonly optimizer: Optimizer;
  readonly reference: () => Step;
  readonly rule?: GradientRule;
}

const CASES: readonly Case[] = [
  { name: 'adagrad, defaults', optimizer: adagrad({ learningRate: LR }), reference: () => adagradRule(1e-7, 0.1) },
  {
    name: 'adagrad, epsilon 0.01 from a zero accumulator',
    optimizer: adagrad({ learningRate: LR, epsilon: 0.01, initialAccumulator: 0 }),
    reference: () => adagradRule(0.01, 0),
  },
  { name: 'rmsprop, defaults', optimizer: rmsprop({ learningRate: LR }), reference: () => rmspropRule(0.9, 1e-7, 0) },
  {
    name: 'rmsprop, rho 0.8, epsilon 0.01, momentum 0.9',
    optimizer: rmsprop({ learningRate: LR, rho: 0.8, epsilon: 0.01, momentum: 0.9 }),
    reference: () => rmspropRule(0.8, 0.01, 0.9),
  },
  { name: 'adam, defaults', optimizer: adam({ learningRate: LR }), reference: () => adamRule(0.9, 0.999, 1e-8) },
  {
    name: 'adamw, weight decay 0.5, epsilon 0.01',
    optimizer: adamw({ learningRate: LR, weightDecay: 0.5, epsilon: 0.01 }),
    reference: () => adamRule(0.9, 0.999, 0.01, 0.5),
  },
  { name: 'nadam, defaults', optimizer: nadam({ learningRate: LR }), reference: () => nadamRule(0.9, 0.999, 1e-7) },
  {
    name: 'nadam, beta1 0.8, beta2 0.99, epsilon 0.01',
    optimizer: nadam({ learningRate: LR, beta1: 0.8, beta2: 0.99, epsilon: 0.01 }),
    reference: () => nadamRule(0.8, 0.99, 0.01),
  },
  {
    name: 'sgd clipped by global norm 1 (above it in steps 1 and 2, below in step 3)',
    optimizer: sgd({ learningRate: LR, clipNorm: 1 }),
    reference: sgdRule,
    rule: { clipNorm: 1 },
  },
  {
    name: 'sgd clipped by global norm 10 (below it)',
    optimizer: sgd({ learningRate: LR, clipNorm: 10 }),
    reference: sgdRule,
    rule: { clipNorm: 10 },
  },
  {
    name: 'momentum clipped by value 0.5, then by global norm 0.6',
    optimizer: momentum({ learningRate: LR, momentum: 0.9, clipValue: 0.5, clipNorm: 0.6 }),
    reference: () => momentumRule(0.9),
    rule: { clipValue: 0.5, clipNorm: 0.6 },
  },
  {
    name: 'adam clipped by global norm 1',
    optimizer: adam({ learningRate: LR, clipNorm: 1 }),
    reference: () => adamRule(0.9, 0.999, 1e-8),
    rule: { clipNorm: 1 },
  },
  { name: 'sgd with L1 0.3', optimizer: sgd({ learningRate: LR, l1: 0.3 }), reference: sgdRule, rule: { l1: 0.3 } },
  {
    name: 'rmsprop with L1 0.3 and L2 0.2',
    optimizer: rmsprop({ learningRate: LR, l1: 0.3, weightDecay: 0.2 }),
    reference: () => rmspropRule(0.9, 1e-7, 0),
    rule: { l1: 0.3, weightDecay: 0.2 },
  },
];

function tinyModel(optimizer: Optimizer): ModelDefinition {
  return defineModel({
    name: 'tiny-optimizer',
    batch: 1,
    optimizer,
    build(m) {
      const x = m.input('x', [2]);
      const t = m.input('t', [2]);
      const w = m.param('w', [2], 'zeros');
      const b = m.param('b', [1], 'zeros');
      const r = sub(add(mul(x, w), b), t);
      return { loss: sumAll(mul(r, r)), predictions: {} };
    },
  });
}

const scratch = scratchFolders('optimizers-');
const BACKENDS = ['js', 'c'] as const;
type Backend = (typeof BACKENDS)[number];

/** Each case built once for both backends into its own folder. */
const folders: string[] = [];

beforeAll(() => {
  for (const c of CASES) {
    const outDir = scratch();
    buildDefinition(tinyModel(c.optimizer), outDir, BACKENDS, THIS_FILE);
    folders.push(outDir);
  }
}, 120_000);

const opened: ModelInstance[] = [];
afterAll(() => {
  for (const model of opened) model.dispose();
});

async function openCase(index: number, backend: Backend): Promise<ModelInstance> {
  const model = await openBuiltModel(folders[index], backend);
  opened.push(model);
  model.setParam('w', Float32Array.from(START.slice(0, 2)));
  model.setParam('b', Float32Array.from(START.slice(2)));
  return model;
}

/** The largest |a - b| over max(1, |a|, |b|). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i]), Math.abs(b[i])));
  return worst;
}

describe.each(BACKENDS)('the first three steps on the %s backend match the float64 reference', (backend) => {
  it.each(CASES.map((c, i) => ({ ...c, i })))('$name', async ({ i, reference, rule = {} }) => {
    const model = await openCase(i, backend);
    const expected = referenceRun(reference(), rule);
    const feeds = { x: Float32Array.from(X), t: Float32Array.from(TARGET) };
    for (let step = 0; step < STEPS; step++) {
      const loss = await model.trainStep(feeds);
      const theta = [...(await model.getParam('w')), ...(await model.getParam('b'))];
      expect(relError([loss], [expected.losses[step]]), `loss before step ${step + 1}`).toBeLessThan(TOL);
      expect(relError(theta, expected.thetas[step]), `parameters after step ${step + 1}`).toBeLessThan(TOL);
    }
  });
});

describe('the reference covers what it claims', () => {
  it('has gradient norms above and below the clipping thresholds', () => {
    const around = referenceRun(sgdRule(), { clipNorm: 1 }).norms;
    expect(around.map((n) => n > 1)).toEqual([true, true, false]);
    const below = referenceRun(sgdRule(), { clipNorm: 10 }).norms;
    expect(Math.max(...below)).toBeLessThan(10);
    // Clipping by value 0.5 changes the first gradient, whose norm is then still above 0.6.
    const { grad } = lossAndGradient(START);
    expect(norm(preparedGradient(START, grad, { clipValue: 0.5 }))).toBeGreaterThan(0.6);
    expect(Math.max(...grad.map(Math.abs))).toBeGreaterThan(0.5);
  });

  it('moves every parameter in every case, so a wrong term cannot hide under the tolerance', () => {
    for (const c of CASES) {
      const { thetas } = referenceRun(c.reference(), c.rule ?? {});
      const moves = thetas.flatMap((theta, s) => theta.map((p, i) => Math.abs(p - (s === 0 ? START : thetas[s - 1])[i])));
      expect(Math.min(...moves), c.name).toBeGreaterThan(100 * TOL);
    }
  });
});

describe('optimizer state', () => {
  it('is named after the parameter; Nadam keeps one momentum product for all parameters', () => {
    const states = (optimizer: Optimizer) => tinyModel(optimizer).declare().states.map((s) => s.name);
    expect(states(adagrad({ learningRate: LR }))).toEqual(['w.accumulator', 'b.accumulator']);
    expect(states(rmsprop({ learningRate: LR }))).toEqual(['w.meanSquare', 'b.meanSquare']);
    expect(states(rmsprop({ learningRate: LR, momentum: 0.5 }))).toEqual(['w.meanSquare', 'w.velocity', 'b.meanSquare', 'b.velocity']);
    expect(states(adamw({ learningRate: LR, weightDecay: 0.1 }))).toEqual(['step', 'w.m', 'w.v', 'b.m', 'b.v']);
    expect(states(nadam({ learningRate: LR }))).toEqual(['step', 'nadam.momentumProduct', 'w.m', 'w.v', 'b.m', 'b.v']);
  });

  it('starts AdaGrad\'s accumulator at its initial value', () => {
    const spec = tinyModel(adagrad({ learningRate: LR, initialAccumulator: 0.25 })).declare();
    expect(spec.states.map((s) => s.value)).toEqual([0.25, 0.25]);
  });
});
