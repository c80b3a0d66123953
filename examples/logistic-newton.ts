/**
 * Logistic regression on an ill-conditioned two-class problem, trained by Newton-CG: each step
 * solves (H + damping I) d = -g by conjugate gradients over Hessian-vector products that the
 * compiler derives from the gradient, so the step follows the curvature that makes gradient
 * descent crawl. The features have scales 1, 4 and 0.25, so the loss's curvatures differ by
 * about 250x; test/newton.test.ts counts the steps each optimizer needs.
 */
import { add, defineModel, matmul, newtonCg, sigmoid, sigmoidCrossEntropy } from 'gradc';
import type { ModelDefinition, Optimizer } from 'gradc';

/** Samples in the data set, all in one batch: each step sees the whole loss. */
export const SAMPLES = 64;
/** The scale of each feature. */
export const FEATURE_SCALES: readonly number[] = [1, 4, 0.25];
export const FEATURES = 3;

/** p(y = 1 | x) = sigmoid(x w + b), trained on the mean binary cross-entropy. */
export function logisticRegression(optimizer: Optimizer): ModelDefinition {
  return defineModel({
    name: 'logistic-newton',
    batch: SAMPLES,
    seed: 1,
    optimizer,
    build(m, B) {
      const x = m.input('x', [B, FEATURES]);
      const y = m.input('y', [B, 1]);
      const w = m.param('w', [FEATURES, 1], 'zeros');
      const b = m.param('b', [1], 'zeros');
      const logits = add(matmul(x, w), b);
      return { loss: sigmoidCrossEntropy(logits, y), predictions: { probability: sigmoid(logits) } };
    },
  });
}

/** A small deterministic generator (mulberry32): uniform numbers in [0, 1). */
function uniform(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The data set: x row-major [SAMPLES, FEATURES], feature j normal with standard deviation
 * FEATURE_SCALES[j]; y in {0, 1} drawn from sigmoid(sum_j 1.5 x_j / scale_j + 0.3), so the
 * classes overlap and the loss has a finite minimum.
 */
export function illConditionedData(seed = 7): { x: Float32Array; y: Float32Array } {
  const next = uniform(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const x = new Float32Array(SAMPLES * FEATURES);
  const y = new Float32Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    const row = FEATURE_SCALES.map((scale) => scale * normal());
    x.set(row, i * FEATURES);
    const logit = row.reduce((sum, value, j) => sum + (1.5 * value) / FEATURE_SCALES[j], 0.3);
    y[i] = next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return { x, y };
}

export default logisticRegression(newtonCg());
