/** Runtime pieces: initialisers, shuffling, learning-rate schedules. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRng, initialValues } from '../runtime/init.ts';
import { shuffledIndices } from '../runtime/fit.ts';
import { learningRateAt } from '../runtime/lr-schedule.ts';

function variance(values: Float32Array): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
}

describe('initialisers', () => {
  it('He and Glorot draw with the variance their formulas give (±5% over 100k draws)', () => {
    const n = 100_000;
    const cases = [
      { kind: 'he_normal', expected: 2 / 784 },
      { kind: 'he_uniform', expected: 2 / 784 },
      { kind: 'glorot_normal', expected: 2 / (784 + 250) },
      { kind: 'glorot_uniform', expected: 2 / (784 + 250) },
    ] as const;
    for (const { kind, expected } of cases) {
      const values = initialValues({ kind, fanIn: 784, fanOut: 250 }, n, 1, 'w');
      expect(Math.abs(variance(values) / expected - 1), kind).toBeLessThan(0.05);
    }
  });

  it('uniform initialisers stay inside their limit', () => {
    const values = initialValues({ kind: 'glorot_uniform', fanIn: 10, fanOut: 20 }, 10_000, 3, 'w');
    const limit = Math.sqrt(6 / 30);
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(limit);
  });

  it('is deterministic per seed and name, and differs across names', () => {
    const spec = { kind: 'he_normal', fanIn: 4, fanOut: 4 } as const;
    expect(initialValues(spec, 16, 5, 'a')).toEqual(initialValues(spec, 16, 5, 'a'));
    expect(initialValues(spec, 16, 5, 'a')).not.toEqual(initialValues(spec, 16, 5, 'b'));
    expect(initialValues(spec, 16, 5, 'a')).not.toEqual(initialValues(spec, 16, 6, 'a'));
  });
});

describe('shuffledIndices', () => {
  it('is a permutation of 0..n-1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer(), (n, seed) => {
        const order = [...shuffledIndices(n, createRng(seed))].sort((a, b) => a - b);
        expect(order).toEqual([...Array(n).keys()]);
      }),
    );
  });
});

describe('learning-rate schedules', () => {
  it('follow their formulas', () => {
    expect(learningRateAt({ kind: 'constant' }, 0.1, 1000)).toBe(0.1);
    expect(learningRateAt({ kind: 'exponential', decay: 0.5, every: 10 }, 0.1, 20)).toBeCloseTo(0.025);
    const poly = { kind: 'polynomial', endFactor: 0.1, power: 1, steps: 100 } as const;
    expect(learningRateAt(poly, 1, 50)).toBeCloseTo(0.55);
    expect(learningRateAt(poly, 1, 500)).toBeCloseTo(0.1);
    expect(learningRateAt({ kind: 'inverse_sqrt', warmup: 100 }, 1, 399)).toBeCloseTo(0.5);
    const cosine = { kind: 'cosine', steps: 110, minFactor: 0, warmup: 10 } as const;
    expect(learningRateAt(cosine, 1, 4)).toBeCloseTo(0.5);
    expect(learningRateAt(cosine, 1, 60)).toBeCloseTo(0.5);
    expect(learningRateAt(cosine, 1, 110)).toBeCloseTo(0);
  });

  it('never exceed the base rate and stay positive (non-zero floors)', () => {
    const schedules = [
      { kind: 'exponential', decay: 0.9, every: 7 },
      { kind: 'polynomial', endFactor: 0.01, power: 2, steps: 50 },
      { kind: 'inverse_sqrt', warmup: 20 },
      { kind: 'cosine', steps: 80, minFactor: 0.01, warmup: 5 },
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...schedules), fc.nat(10_000), (schedule, step) => {
        const lr = learningRateAt(schedule, 0.3, step);
        expect(lr).toBeGreaterThan(0);
        expect(lr).toBeLessThanOrEqual(0.3 + 1e-12);
      }),
    );
  });
});
