/**
 * How many slices a long reduction is cut into, so that a GPU has work for all its
 * multiprocessors. A weight gradient at batch 6000, `xᵀ · dy` with m = 250, n = 10, k = 6000,
 * has only 2,500 outputs; computed whole, a handful of GPU blocks each walk all 6,000 rows
 * while the rest of the GPU idles. Cut into 20 slices of 300 rows, it becomes 20 partial
 * products (20 times the blocks) that a second, short reduction adds, in a fixed order, so the
 * result does not depend on timing. Bias gradients (column sums over the batch) are cut the
 * same way.
 *
 * The choice depends on sizes only, not on the target, so every backend runs the same
 * schedule: a reduction shorter than SPLIT_MIN_LENGTH (the batch-600 MLP's) is never cut.
 */

/** A reduction over fewer elements per output than this is never split. */
export const SPLIT_MIN_LENGTH = 2048;
/** Each slice reduces at least this many elements per output. */
export const SPLIT_MIN_SLICE = 256;
/** At most this many slices. */
export const SPLIT_MAX_SLICES = 64;
/** A matrix product is split until outputs × slices reaches this: 256 blocks of 64 x 64 outputs. */
export const MATMUL_SPLIT_TARGET = 2 ** 20;
/** A sum or max is split until outputs × slices reaches this. */
export const REDUCE_SPLIT_TARGET = 2 ** 14;

/**
 * The number of slices for `outputs` results, each reducing `length` × `rest` elements, where
 * only the `length` axis is cut: the largest divisor S of `length` with S ≤ SPLIT_MAX_SLICES,
 * outputs × S not past what `target` asks, and slices of at least SPLIT_MIN_SLICE elements;
 * 1 when no such S ≥ 2 exists or the reduction is short.
 *
 * `sliceCount(2500, 6000, 1, MATMUL_SPLIT_TARGET)` → 20; `sliceCount(196000, 6000, 1, ...)` → 6;
 * `sliceCount(250, 600, 1, ...)` → 1 (short).
 */
export function sliceCount(outputs: number, length: number, rest: number, target: number): number {
  const elements = length * rest;
  if (elements < SPLIT_MIN_LENGTH) return 1;
  const most = Math.min(
    SPLIT_MAX_SLICES,
    length,
    Math.ceil(target / Math.max(1, outputs)),
    Math.floor(elements / SPLIT_MIN_SLICE),
  );
  for (let slices = most; slices >= 2; slices--) {
    if (length % slices === 0) return slices;
  }
  return 1;
}

/** Slices of the k axis of an m x k by k x n product (1: not split). */
export function matmulSlices(m: number, n: number, k: number): number {
  return sliceCount(m * n, k, 1, MATMUL_SPLIT_TARGET);
}

/**
 * Slices of a reduction's first reduced axis, of `firstAxis` elements, when each of `outputs`
 * results reduces `reduceSize` elements (1: not split).
 */
export function reduceSlices(outputs: number, reduceSize: number, firstAxis: number): number {
  if (firstAxis <= 1) return 1;
  return sliceCount(outputs, firstAxis, reduceSize / firstAxis, REDUCE_SPLIT_TARGET);
}
