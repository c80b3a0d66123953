/**
 * What generated code can express, checked before rendering: kernel names that are plain
 * identifiers, distinct within a module, and loops within 32-bit indices.
 */
import type { Kernel } from '../kernel-ir.ts';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Indices are 32-bit ints in the generated loops (`int` in C, `| 0` in JS). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * Refuses what the generated code could not express: a name that is not a plain identifier
 * (names become symbols) or a loop past 32-bit indices.
 */
export function checkKernel(kernel: Kernel): void {
  if (!IDENTIFIER.test(kernel.name)) {
    throw new Error(`kernel name "${kernel.name}" is not an identifier`);
  }
  if (largestExtent(kernel) > MAX_ELEMENTS) {
    throw new Error(`kernel ${kernel.name} indexes past ${MAX_ELEMENTS} elements`);
  }
}

/** Checks every kernel of a module, and that no two share a name (they share a namespace). */
export function checkKernels(kernels: readonly Kernel[]): void {
  const seen = new Set<string>();
  for (const kernel of kernels) {
    checkKernel(kernel);
    if (seen.has(kernel.name)) throw new Error(`two kernels are named "${kernel.name}"`);
    seen.add(kernel.name);
  }
}

function largestExtent(kernel: Kernel): number {
  switch (kernel.kind) {
    case 'map':
      return kernel.size;
    case 'reduce':
      return kernel.outSize * kernel.reduceSize;
    case 'matmul':
      return Math.max(kernel.m * kernel.k, kernel.k * kernel.n, kernel.kSlices * kernel.m * kernel.n);
  }
}
