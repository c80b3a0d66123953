/**
 * Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC11; Random123's philox.h), and the `random_uniform` primitive
 * built on it. A draw is a pure function of its key and counter, so every element of a tensor
 * draws on its own, in any order, on any backend, with no generator state to carry: each
 * backend renders the same integer arithmetic (compiler/codegen/render/*, templates
 * `support-philox`), and this module is the reference they are tested against.
 */
import type { Attrs } from '../types.ts';
import { ShapeError } from '../errors.ts';
import type { EvalArgs, FusedOpDef } from './op.ts';
import { NONDIFF } from './op.ts';

/** The round multipliers of Philox4x32. */
export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
/** The Weyl sequence the key is bumped by between rounds (golden ratio and sqrt(3) - 1). */
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

export type PhiloxCounter = readonly [number, number, number, number];
export type PhiloxKey = readonly [number, number];

/**
 * The high 32 bits of the 64-bit product of two 32-bit words, from 16-bit halves: every
 * partial product stays below 2^32, exact in a double (as WGSL, without 64-bit integers, does).
 */
export function mulhi32(a: number, b: number): number {
  const [a0, a1, b0, b1] = [a & 0xffff, a >>> 16, b & 0xffff, b >>> 16];
  const cross0 = a1 * b0;
  const cross1 = a0 * b1;
  const carry = (((a0 * b0) >>> 16) + (cross0 & 0xffff) + (cross1 & 0xffff)) >>> 16;
  return (a1 * b1 + (cross0 >>> 16) + (cross1 >>> 16) + carry) >>> 0;
}

/** Philox4x32-10 of `counter` under `key`: four 32-bit words. */
export function philox4x32(counter: PhiloxCounter, key: PhiloxKey): [number, number, number, number] {
  let [x0, x1, x2, x3] = counter.map((w) => w >>> 0);
  let [k0, k1] = key.map((w) => w >>> 0);
  for (let round = 0; round < PHILOX_ROUNDS; round++) {
    const [hi0, lo0] = [mulhi32(PHILOX_M0, x0), Math.imul(PHILOX_M0, x0) >>> 0];
    const [hi1, lo1] = [mulhi32(PHILOX_M1, x2), Math.imul(PHILOX_M1, x2) >>> 0];
    [x0, x1, x2, x3] = [(hi1 ^ x1 ^ k0) >>> 0, lo1, (hi0 ^ x3 ^ k1) >>> 0, lo0];
    [k0, k1] = [(k0 + PHILOX_W0) >>> 0, (k1 + PHILOX_W1) >>> 0];
  }
  return [x0, x1, x2, x3];
}

/** A word's top 24 bits as a float in [0, 1): exact in float32, so every backend agrees. */
export function unitFloat(word: number): number {
  return (word >>> 8) / 2 ** 24;
}

/**
 * The uniform draw of element `index` at counter value `counter` (the step) under key
 * (`seed`, `stream`): the top 24 bits of the first word of Philox4x32-10 of counter
 * (index, counter, 0, 0). `counter` is read as a 32-bit word (a non-negative integer below
 * 2^32; the step counter is one).
 */
export function philoxUniform(seed: number, stream: number, index: number, counter: number): number {
  return unitFloat(philox4x32([index, counter >>> 0, 0, 0], [seed, stream])[0]);
}

/** Whether `value` is a 32-bit word: an integer in [0, 2^32). */
function isWord(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 32;
}

function keyOf(attrs: Attrs): PhiloxKey {
  return [attrs.seed as number, attrs.stream as number];
}

/**
 * attrs: { seed, stream }, 32-bit words. One operand, the counter (the step, broadcast):
 * element i is philoxUniform(seed, stream, i, counter[i]), uniform in [0, 1). It depends on the
 * element's index, so it is no elementwise function of its operand and never folds into a
 * constant; no gradient flows into the counter.
 */
export const random_uniform: FusedOpDef = {
  kind: 'random_uniform',
  category: 'random',
  arity: 1,
  // Ten rounds of two 32-bit multiplies (high and low words) and xors.
  cost: 40,
  inferShape([counter], attrs) {
    for (const name of ['seed', 'stream'] as const) {
      if (!isWord(attrs[name])) throw new ShapeError(`random_uniform: ${name} ${String(attrs[name])} is not an integer in [0, 2^32)`);
    }
    return counter;
  },
  vjp: () => [NONDIFF],
  evalRef({ inputs: [counter], attrs }: EvalArgs): Float64Array {
    const [seed, stream] = keyOf(attrs);
    return counter.map((c, i) => philoxUniform(seed, stream, i, c));
  },
};
