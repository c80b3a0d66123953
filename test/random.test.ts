/**
 * Counter-based random numbers (ir/ops/random.ts): Philox4x32-10 against the published
 * known-answer vectors, its 32-bit high product against exact integer arithmetic, the uniform
 * draws' range, resolution, mean and spread over bins, and what keys and counts them.
 *
 * The kernels of every backend draw these same bits: the backend-equivalence corpus
 * (test/backend-corpus.ts, `randomUniformCases`) runs Philox draws on js and c
 * (test/backends.test.ts), WebGPU (test/wgsl.test.ts) and the CUDA emulator
 * (test/cuda-emulated.test.ts) with an error bound of zero against this reference, and the
 * first case below ties the kernels' own counter layout to the first published vector.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import { evaluate } from '../ir/evaluate.ts';
import { GradcError } from '../ir/errors.ts';
import { mulhi32, philox4x32, philoxUniform, unitFloat } from '../ir/ops/random.ts';

/**
 * Random123's tests/kat_vectors (D. E. Shaw Research), the three `philox4x32 10` lines:
 * counter (4 words), key (2 words), expected output (4 words).
 */
const KNOWN_ANSWERS = [
  {
    name: 'zeros',
    counter: [0x00000000, 0x00000000, 0x00000000, 0x00000000],
    key: [0x00000000, 0x00000000],
    output: [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  },
  {
    name: 'all ones',
    counter: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    key: [0xffffffff, 0xffffffff],
    output: [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  },
  {
    name: 'digits of pi',
    counter: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    key: [0xa4093822, 0x299f31d0],
    output: [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  },
] as const;

/** Draws of elements 0..n-1 under one key and step. */
function draws(n: number, seed: number, stream: number, step: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => philoxUniform(seed, stream, i, step));
}

describe('Philox4x32-10', () => {
  it.each(KNOWN_ANSWERS)('gives the published known answer: $name', ({ counter, key, output }) => {
    expect(philox4x32(counter, key)).toEqual([...output]);
  });

  it('takes the high word of a 32-bit product exactly (16-bit halves against BigInt)', () => {
    const word = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    fc.assert(
      fc.property(word, word, (a, b) => {
        expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
      }),
      { numRuns: 2000 },
    );
    for (const [a, b] of [[0xffffffff, 0xffffffff], [0xd2511f53, 0xffffffff], [0x10000, 0x10000], [0, 0xffffffff]]) {
      expect(mulhi32(a, b), `${a} * ${b}`).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }
  });
});

describe('uniform draws', () => {
  it('are the top 24 bits of the first word of Philox of (element, step, 0, 0) under (seed, stream)', () => {
    // Element 0 at step 0 under key (0, 0) is the first word of the first published vector.
    expect(philoxUniform(0, 0, 0, 0)).toBe(0x6627e8 / 2 ** 24);
    expect(philoxUniform(0xa4093822, 0x299f31d0, 0x243f6a88, 0x85a308d3)).toBe(
      unitFloat(philox4x32([0x243f6a88, 0x85a308d3, 0, 0], [0xa4093822, 0x299f31d0])[0]),
    );
    expect(unitFloat(0xffffffff)).toBe(1 - 2 ** -24);
    expect(unitFloat(0xff)).toBe(0);
  });

  it('lie in [0, 1) on a grid of 2^-24, exact in float32', () => {
    const off = draws(10_000, 3, 1, 17).filter(
      (u) => !(u >= 0 && u < 1 && Number.isInteger(u * 2 ** 24) && Math.fround(u) === u),
    );
    expect(Array.from(off)).toEqual([]);
  });

  it('have mean 1/2 within 0.003 and fill 64 equal bins evenly (chi-squared < 120) over 2^18 draws', () => {
    // The mean of n uniforms has standard deviation sqrt(1/12/n) = 0.00056 for n = 2^18, so
    // 0.003 is over 5 of them. Chi-squared with 63 degrees of freedom has mean 63 and standard
    // deviation 11.2: 120 is 5 of them above the mean.
    const n = 2 ** 18;
    const bins = new Array<number>(64).fill(0);
    let sum = 0;
    for (const u of draws(n, 20240531, 0, 5)) {
      sum += u;
      bins[Math.floor(u * 64)]++;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.003);
    const expected = n / 64;
    const chiSquared = bins.reduce((acc, count) => acc + (count - expected) ** 2 / expected, 0);
    expect(chiSquared).toBeLessThan(120);
  });

  it('are uncorrelated between neighbouring elements and between steps (|r| < 0.02 over 2^16 pairs)', () => {
    // The correlation of n independent pairs has standard deviation 1/sqrt(n) = 0.0039.
    const n = 2 ** 16;
    const a = draws(n + 1, 1, 0, 0);
    const nextStep = draws(n, 1, 0, 1);
    const correlation = (x: ArrayLike<number>, y: ArrayLike<number>) => {
      let sxy = 0;
      for (let i = 0; i < n; i++) sxy += (x[i] - 0.5) * (y[i] - 0.5);
      return sxy / n / (1 / 12);
    };
    expect(Math.abs(correlation(a, a.subarray(1)))).toBeLessThan(0.02);
    expect(Math.abs(correlation(a, nextStep))).toBeLessThan(0.02);
  });

  it('change with the step, the stream and the seed, and repeat for the same ones', () => {
    const base = draws(256, 7, 0, 3);
    expect(draws(256, 7, 0, 3)).toEqual(base);
    for (const other of [draws(256, 7, 0, 4), draws(256, 7, 1, 3), draws(256, 8, 0, 3)]) {
      const same = base.filter((u, i) => u === other[i]).length;
      expect(same).toBeLessThan(3);
    }
  });
});

describe('the random_uniform primitive', () => {
  it('draws element i from philoxUniform(seed, stream, i, counter[i])', () => {
    const b = new GraphBuilder();
    const step = b.input('step', []);
    const u = b.randomUniform(step, [3, 4], 11, 2);
    const got = evaluate(b.finish({ u }), { step: [9] }).get(u)!;
    expect(Array.from(got)).toEqual(Array.from(draws(12, 11, 2, 9)));
  });

  it('refuses a seed or stream that is not a 32-bit word', () => {
    const b = new GraphBuilder();
    const step = b.input('step', []);
    expect(() => b.randomUniform(step, [2], 2 ** 32, 0)).toThrow(GradcError);
    expect(() => b.randomUniform(step, [2], 1, -1)).toThrow(/stream -1 is not an integer in \[0, 2\^32\)/);
    expect(() => b.randomUniform(step, [2], 0.5, 0)).toThrow(/seed 0\.5/);
  });
});
