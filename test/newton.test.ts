/**
 * Newton-CG (`newtonCg`, dsl/optim.ts) and the Hessian-vector products it reads
 * (`m.hessianTimes`, resolved in compiler/lower-model.ts), on the logistic regression of
 * examples/logistic-newton.ts. The references are written here in float64 from the formulas:
 * with a = [x, 1], p = sigmoid(a θ), θ = [w0, w1, w2, b], the mean cross-entropy has gradient
 * mean((p - y) a) and Hessian mean(p (1 - p) a aᵀ).
 *
 * (1) H v against a central difference of that gradient, for v the gradient itself and for
 *     v = H g (a product that reads another), at a generic point and at θ = 0 (every logit 0).
 * (2) One Newton-CG step with as many iterations as parameters (CG is then exact) against
 *     θ - (H + damping I)^-1 g by a dense solve: in float64 through the reference interpreter,
 *     and in float32 on the js and c backends.
 * (3) The steps to reach the minimum's loss + 1e-4: Newton-CG against gradient descent at its
 *     best of a few learning rates, on js and c. The counts are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newtonCg, sgd } from '../dsl/index.ts';
import type { Optimizer, Tensor } from '../dsl/index.ts';
import type { Shape } from '../dsl/shape.ts';
import { buildTrainGraph } from '../compiler/lower-model.ts';
import { evaluate } from '../ir/evaluate.ts';
import type { Feeds } from '../ir/evaluate.ts';
import { openBuiltModel } from '../runtime/open-built-model.ts';
import { DivergenceError } from '../runtime/model.ts';
import type { ModelInstance } from '../runtime/model.ts';
import { FEATURES, SAMPLES, illConditionedData, logisticRegression } from '../examples/logistic-newton.ts';
import { buildDefinition } from './build-definition.ts';
import { scratchFolders } from './scratch.ts';

const THIS_FILE = 'test/newton.test.ts';
const DATA = illConditionedData();
/** θ = [w0, w1, w2, b]. */
const PARAMS = FEATURES + 1;

// ---------------------------------------------------------------- float64 reference

type Vector = readonly number[];
type Matrix = readonly Vector[];

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Row i of the data with the bias's 1 appended. */
function augmentedRow(i: number): number[] {
  return [...DATA.x.subarray(i * FEATURES, (i + 1) * FEATURES), 1];
}

function dotProduct(a: Vector, b: Vector): number {
  return a.reduce((sum, ai, i) => sum + ai * b[i], 0);
}

/** The mean cross-entropy at θ, its gradient and its Hessian. */
function lossGradientHessian(theta: Vector): { loss: number; grad: number[]; hessian: number[][] } {
  let loss = 0;
  const grad = new Array<number>(PARAMS).fill(0);
  const hessian = Array.from({ length: PARAMS }, () => new Array<number>(PARAMS).fill(0));
  for (let i = 0; i < SAMPLES; i++) {
    const a = augmentedRow(i);
    const z = dotProduct(a, theta);
    const p = sigmoid(z);
    const y = DATA.y[i];
    loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    for (let j = 0; j < PARAMS; j++) {
      grad[j] += ((p - y) * a[j]) / SAMPLES;
      for (let k = 0; k < PARAMS; k++) hessian[j][k] += (p * (1 - p) * a[j] * a[k]) / SAMPLES;
    }
  }
  return { loss: loss / SAMPLES, grad, hessian };
}

/** H v by a central difference of the gradient along v: (g(θ + h v) - g(θ - h v)) / 2h. */
function differencedHessianTimes(theta: Vector, v: Vector): number[] {
  const h = 1e-5 / Math.max(...v.map(Math.abs));
  const at = (sign: number) => lossGradientHessian(theta.map((t, j) => t + sign * h * v[j])).grad;
  const [plus, minus] = [at(1), at(-1)];
  return plus.map((g, j) => (g - minus[j]) / (2 * h));
}

/** Solves A x = b by Gaussian elimination with partial pivoting. */
function solve(a: Matrix, b: Vector): number[] {
  const n = b.length;
  const rows = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    const pivot = rows.slice(c).reduce((best, row, r) => (Math.abs(row[c]) > Math.abs(rows[best][c]) ? c + r : best), c);
    [rows[c], rows[pivot]] = [rows[pivot], rows[c]];
    for (let r = c + 1; r < n; r++) {
      const f = rows[r][c] / rows[c][c];
      for (let k = c; k <= n; k++) rows[r][k] -= f * rows[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    x[r] = (rows[r][n] - dotProduct(rows[r].slice(r + 1, n), x.slice(r + 1))) / rows[r][r];
  }
  return x;
}

/** The exact damped Newton step: θ - lr (H + damping I)^-1 g. */
function newtonStep(theta: Vector, damping: number, lr = 1): number[] {
  const { grad, hessian } = lossGradientHessian(theta);
  const damped = hessian.map((row, j) => row.map((h, k) => h + (j === k ? damping : 0)));
  const d = solve(damped, grad.map((g) => -g));
  return theta.map((t, j) => t + lr * d[j]);
}

/** The minimum's loss: exact Newton steps until they stop changing it. */
function minimumLoss(): number {
  let theta: Vector = new Array<number>(PARAMS).fill(0);
  for (let step = 0; step < 30; step++) theta = newtonStep(theta, 0);
  return lossGradientHessian(theta).loss;
}

/** The largest |a - b| over max(1, |a|, |b|). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i]), Math.abs(b[i])));
  return worst;
}

// ---------------------------------------------------------------- gradc's side

/** A point where no logit is 0 and every parameter matters. */
const GENERIC: Vector = [0.6, -0.2, 3, 0.1];
const ORIGIN: Vector = [0, 0, 0, 0];

/** The train graph's outputs in float64 at θ: each `update:<name>`; `scalars` feed hyperparameters and states (else 0). */
function updatesAt(
  optimizer: Optimizer,
  theta: Vector,
  scalars: Readonly<Record<string, number>> = {},
  data: { readonly x: Float32Array; readonly y: Float32Array } = DATA,
): Map<string, number[]> {
  const spec = logisticRegression(optimizer).declare();
  const graph = buildTrainGraph(spec);
  const feeds: Feeds = {
    ...Object.fromEntries([...spec.states, ...spec.hypers].map((d) => [d.name, [scalars[d.name] ?? 0]])),
    x: data.x,
    y: data.y,
    w: theta.slice(0, FEATURES),
    b: theta.slice(FEATURES),
  };
  const values = evaluate(graph, feeds);
  return new Map(Object.entries(graph.outputs).map(([name, id]) => [name, [...values.get(id)!]]));
}

/** Both parameters' new values as one θ. */
function thetaOf(updates: Map<string, number[]>): number[] {
  return [...updates.get('update:w')!, ...updates.get('update:b')!];
}

/**
 * An optimizer that only records products: the state `<param>.hg` takes its block of H g and
 * `<param>.hhg` its block of H (H g), g the gradient.
 */
const PRODUCT_PROBE: Optimizer = {
  name: 'probe',
  loc: undefined,
  update(m, param) {
    const index = m.params.findIndex((p) => m.graph.node(param.id).attrs.name === p.name);
    const name = m.params[index].name;
    const hg = m.hessianTimes(m.gradients());
    const hhg = m.hessianTimes(hg);
    const record = (suffix: string, value: Tensor<Shape>) => m.assign(m.state(`${name}.${suffix}`, param.shape), value);
    record('hg', hg[index]);
    record('hhg', hhg[index]);
  },
};

/** Relative error bound of the float64 products against central differences (h 1e-5: measured 1e-10 to 3e-10). */
const HVP_TOL = 1e-7;

describe('Hessian-vector products (m.hessianTimes) match central differences of the gradient', () => {
  it.each([
    { at: 'a generic point', theta: GENERIC },
    { at: 'θ = 0, where every logit is 0 (abs ties)', theta: ORIGIN },
  ])('H g and H (H g) at $at', ({ theta }) => {
    const updates = updatesAt(PRODUCT_PROBE, theta);
    const block = (suffix: string) => [...updates.get(`update:w.${suffix}`)!, ...updates.get(`update:b.${suffix}`)!];
    const { grad } = lossGradientHessian(theta);
    const hg = differencedHessianTimes(theta, grad);
    const hhg = differencedHessianTimes(theta, hg);
    expect(relError(block('hg'), hg)).toBeLessThan(HVP_TOL);
    expect(relError(block('hhg'), hhg)).toBeLessThan(HVP_TOL);
    // v reads the gradient: without the stop on v the product would be 2 H g.
    expect(relError(block('hg'), hg.map((h) => 2 * h))).toBeGreaterThan(1e3 * HVP_TOL);
  });

  it('asks for each product once, however many parameters update', () => {
    const spec = logisticRegression(PRODUCT_PROBE).declare();
    expect(spec.hessianProducts).toHaveLength(2);
    const names = spec.hessianProducts.map((p) => p.product.map((id) => spec.graph.nodes[id].attrs.name));
    expect(names).toEqual([['hvp:0:w', 'hvp:0:b'], ['hvp:1:w', 'hvp:1:b']]);
  });
});

// ---------------------------------------------------------------- one step

/** Damping large enough to move the step by far more than the tolerances below. */
const DAMPING = 0.01;
const ONE_STEP = newtonCg({ cgIterations: PARAMS, damping: DAMPING });
/** float64 CG over 4 dimensions against a dense solve: rounding only (measured 3e-13). */
const STEP_TOL_F64 = 1e-9;
/**
 * float32 on the backends: the products, inner products and CG's recurrences round to 2^-24,
 * amplified by the curvatures' spread (about 250); measured 3e-5 (js) and 1e-4 (c).
 */
const STEP_TOL_F32 = 5e-4;

describe('one Newton-CG step with cgIterations = parameters equals the damped Newton step', () => {
  const expected = newtonStep(GENERIC, DAMPING);

  it('the reference is sensitive: damping and a missing iteration both move it beyond the tolerances', () => {
    expect(relError(expected, newtonStep(GENERIC, 0))).toBeGreaterThan(10 * STEP_TOL_F32);
    const shortOfOne = thetaOf(updatesAt(newtonCg({ cgIterations: PARAMS - 1, damping: DAMPING }), GENERIC, { lr: 1 }));
    expect(relError(expected, shortOfOne)).toBeGreaterThan(10 * STEP_TOL_F32);
  });

  it('in float64 through the reference interpreter', () => {
    expect(relError(thetaOf(updatesAt(ONE_STEP, GENERIC, { lr: 1 })), expected)).toBeLessThan(STEP_TOL_F64);
  });

  it('scales the step by the learning rate', () => {
    const half = thetaOf(updatesAt(ONE_STEP, GENERIC, { lr: 0.5 }));
    expect(relError(half, newtonStep(GENERIC, DAMPING, 0.5))).toBeLessThan(STEP_TOL_F64);
  });

  it('stays finite where the gradient is exactly 0 and the Hessian singular (every ratio guarded)', () => {
    // x = 0 and y = 1/2 at θ = 0: p = y everywhere, so g = 0, and H has only the bias's entry.
    const flat = { x: new Float32Array(SAMPLES * FEATURES), y: new Float32Array(SAMPLES).fill(0.5) };
    const next = thetaOf(updatesAt(newtonCg({ damping: 0 }), ORIGIN, { lr: 1 }, flat));
    expect(next).toEqual([0, 0, 0, 0]);
  });
});

// ---------------------------------------------------------------- backends

const scratch = scratchFolders('newton-');
const BACKENDS = ['js', 'c'] as const;
type Backend = (typeof BACKENDS)[number];
/** Gradient descent's learning rates; the best one counts. */
const SGD_RATES = [0.25, 0.5, 1, 2];
/** Gradient descent runs stop here when the target is not reached. */
const SGD_MAX_STEPS = 5000;
const NEWTON_MAX_STEPS = 50;
/** How far above the minimum's loss a run counts as arrived. */
const TARGET_GAP = 1e-4;

const folders = new Map<string, string>();
beforeAll(() => {
  const optimizers: Record<string, Optimizer> = {
    oneStep: ONE_STEP,
    newton: newtonCg(),
    sgd: sgd({ learningRate: 1 }),
  };
  for (const [label, optimizer] of Object.entries(optimizers)) {
    const dir = scratch();
    buildDefinition(logisticRegression(optimizer), dir, BACKENDS, THIS_FILE);
    folders.set(label, dir);
  }
}, 120_000);

const opened: ModelInstance[] = [];
afterAll(() => {
  for (const model of opened) model.dispose();
});

async function openAt(label: string, backend: Backend, theta: Vector): Promise<ModelInstance> {
  const model = await openBuiltModel(folders.get(label)!, backend);
  opened.push(model);
  model.setParam('w', Float32Array.from(theta.slice(0, FEATURES)));
  model.setParam('b', Float32Array.from(theta.slice(FEATURES)));
  return model;
}

async function thetaOn(model: ModelInstance): Promise<number[]> {
  return [...(await model.getParam('w')), ...(await model.getParam('b'))];
}

/** Steps from θ = 0 until the loss before a step is at most `target`; undefined when not within `max`. */
async function stepsToReach(model: ModelInstance, target: number, max: number): Promise<number | undefined> {
  for (let step = 0; step < max; step++) {
    try {
      if ((await model.trainStep(DATA)) <= target) return step;
    } catch (e) {
      if (e instanceof DivergenceError) return undefined;
      throw e;
    }
  }
  return undefined;
}

describe.each(BACKENDS)('on the %s backend', (backend) => {
  it('one Newton-CG step matches the float64 damped Newton step', async () => {
    const model = await openAt('oneStep', backend, GENERIC);
    const loss = await model.trainStep(DATA);
    expect(relError([loss], [lossGradientHessian(GENERIC).loss])).toBeLessThan(1e-6);
    expect(relError(await thetaOn(model), newtonStep(GENERIC, DAMPING))).toBeLessThan(STEP_TOL_F32);
  });

  it('Newton-CG reaches the minimum\'s loss + 1e-4 in far fewer steps than gradient descent', async () => {
    const target = minimumLoss() + TARGET_GAP;
    const newton = await stepsToReach(await openAt('newton', backend, ORIGIN), target, NEWTON_MAX_STEPS);
    const descent: (number | undefined)[] = [];
    for (const rate of SGD_RATES) {
      const model = await openAt('sgd', backend, ORIGIN);
      model.setHyper('lr', rate);
      descent.push(await stepsToReach(model, target, SGD_MAX_STEPS));
    }
    const reached = descent.filter((steps): steps is number => steps !== undefined);
    const best = reached.length > 0 ? Math.min(...reached) : SGD_MAX_STEPS;
    console.log(
      `${backend}: Newton-CG (10 CG iterations) ${newton} steps; gradient descent ` +
        SGD_RATES.map((rate, i) => `lr ${rate}: ${descent[i] ?? `> ${SGD_MAX_STEPS}`}`).join(', '),
    );
    expect(newton).toBeDefined();
    expect(newton!).toBeLessThanOrEqual(8);
    expect(best).toBeGreaterThanOrEqual(50 * newton!);
  }, 120_000);
});
