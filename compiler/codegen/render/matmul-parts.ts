/**
 * The pieces of a matrix product the renderers share: operand strides (`matmulStrides`), the
 * slices of a split product (`matmulSlicing`), element (i, p) of A and (p, j) of B with an
 * implicit GEMM's window read (`matmulElements`), and for the GPU targets the staging of tiles
 * (`tileStaging`, `vectorTileStaging`), a block's range of k (`matmulSliceRange`) and the
 * store of an element through the epilogue (`tiledMatmulStore`).
 */
import type { MatmulKernel } from '../kernel-ir.ts';
import type { CStyleLanguage } from './language.ts';
import { inputName, OUTPUT_NAME } from './language.ts';
import { epilogueStore } from './expr.ts';
import { windowElement } from './windows.ts';

/** A matrix product's operand strides: A(i,p) = a[i*ars + p*acs], B(p,j) = b[p*brs + j*bcs]. */
export interface MatmulStrides {
  readonly ars: number;
  readonly acs: number;
  readonly brs: number;
  readonly bcs: number;
}

/** `transA` stores A as [k,m], so A(i,p) = a[p*m + i]; `transB` stores B as [n,k]. */
export function matmulStrides(kernel: MatmulKernel): MatmulStrides {
  const { m, n, k } = kernel;
  const [ars, acs] = kernel.transA ? [1, m] : [k, 1];
  const [brs, bcs] = kernel.transB ? [1, k] : [n, 1];
  return { ars, acs, brs, bcs };
}

/**
 * The slices of a split product (kSlices > 1): k per slice, and how far B and out move from one
 * slice to the next (slice s of A is its k steps [s·sliceK, (s+1)·sliceK)).
 * `{ m: 250, n: 10, k: 6000, kSlices: 20, transA: true }` →
 * `{ slices: 20, sliceK: 300, bStep: 3000, outStep: 2500 }`.
 */
export interface MatmulSlicing {
  readonly slices: number;
  readonly sliceK: number;
  readonly bStep: number;
  readonly outStep: number;
}

export function matmulSlicing(kernel: MatmulKernel): MatmulSlicing {
  const { brs } = matmulStrides(kernel);
  const sliceK = kernel.k / kernel.kSlices;
  return {
    slices: kernel.kSlices,
    sliceK,
    bStep: sliceK * brs,
    outStep: kernel.m * kernel.n,
  };
}

/**
 * Element (i, p) of op(A) and (p, j) of op(B) of a matrix product, in unsigned indexing, and
 * what A's element is in words. An implicit GEMM's A is a window read, whose locals `aDecls`
 * declares first (in the scope where i and p are in range).
 */
export interface MatmulElements {
  readonly aDecls: readonly string[];
  readonly aElement: string;
  readonly aAbout: string;
  readonly bElement: string;
}

export function matmulElements(lang: CStyleLanguage, kernel: MatmulKernel): MatmulElements {
  const { m, n, k, transA, transB } = kernel;
  const a = inputName(0);
  const b = inputName(1);
  const bElement = transB ? `${b}[j * ${k}u + p]` : `${b}[p * ${n}u + j]`;
  if (kernel.aWindow) {
    const flat = transA ? `p * ${m}u + i` : `i * ${k}u + p`;
    const { decls, element } = windowElement(lang, a, kernel.aWindow, flat);
    return { aDecls: decls, aElement: element, aAbout: `the window read of patch element ${flat} of ${a}`, bElement };
  }
  const aElement = transA ? `${a}[p * ${m}u + i]` : `${a}[i * ${k}u + p]`;
  return { aDecls: [], aElement, aAbout: aElement, bElement };
}

/**
 * How 256 GPU threads stage a `tileM` x 16 tile of A and a 16 x `tileN` tile of B, element `e`
 * of a pass each, so that neighbouring threads load neighbouring elements in either layout
 * (`ii`/`jj` the row or column in the tile, `kk` the step of k), and the elements as loads:
 * A(i, p) = `in0[i * 784u + p]` walks p (`ii = e / 16u`, `kk = e % 16u`); transposed A walks i.
 */
export interface TileStaging extends MatmulElements {
  readonly aRow: string;
  readonly aStep: string;
  readonly bColumn: string;
  readonly bStep: string;
}

export function tileStaging(lang: CStyleLanguage, kernel: MatmulKernel, tileM: number, tileN: number): TileStaging {
  const { transA, transB } = kernel;
  return {
    aRow: transA ? `e % ${tileM}u` : 'e / 16u',
    aStep: transA ? `e / ${tileM}u` : 'e % 16u',
    bColumn: transB ? 'e / 16u' : `e % ${tileN}u`,
    bStep: transB ? 'e % 16u' : `e / ${tileN}u`,
    ...matmulElements(lang, kernel),
  };
}

/**
 * How 256 GPU threads stage a 64 x 16 tile of A and a 16 x 64 tile of B as vectors of four:
 * each thread loads four neighbouring rows of A (or columns of B) at one step `kk` of k, the
 * four at group `t` (rows 4t..4t+3 of the tile). The groups and steps are laid out so that
 * neighbouring threads load neighbouring elements in either layout: A(i, p) = `in0[i * 784u + p]`
 * walks p across threads (`t = lane / 16u`, `kk = lane % 16u`), B(p, j) = `in1[p * 250u + j]`
 * walks j (`t = lane % 16u`: each thread's four follow its neighbour's); transposed, the other.
 */
export interface VectorTileStaging extends MatmulElements {
  readonly aGroup: string;
  readonly aStep: string;
  readonly bGroup: string;
  readonly bStep: string;
}

export function vectorTileStaging(lang: CStyleLanguage, kernel: MatmulKernel): VectorTileStaging {
  const [across, along] = ['lane % 16u', 'lane / 16u'];
  const { transA, transB } = kernel;
  return {
    aGroup: transA ? across : along,
    aStep: transA ? along : across,
    bGroup: transB ? along : across,
    bStep: transB ? across : along,
    ...matmulElements(lang, kernel),
  };
}

/** The part of k a block of a tiled GPU product sums over, and where its slice sits in out. */
export interface MatmulSliceRange {
  /** Declarations of `kBegin` and `kEnd` for a split product; none otherwise. */
  readonly sliceDecls: readonly string[];
  readonly kBegin: string;
  readonly kEnd: string;
  /** Prefix of the output index: `blockIdx.z * 2500u + `, or empty. */
  readonly outBase: string;
}

/**
 * A tiled GPU product's range of k: all of it (`0u` to `kAll`) unless the product is split,
 * then slice `slice` (the grid's z index, `blockIdx.z` or `wid.z`) of it:
 * `kBegin = blockIdx.z * 300u`, `kEnd = kBegin + 300u`, output at `blockIdx.z * 2500u + ...`.
 */
export function matmulSliceRange(
  lang: CStyleLanguage,
  kernel: MatmulKernel,
  slice: string,
  kAll: string,
): MatmulSliceRange {
  if (kernel.kSlices === 1) return { sliceDecls: [], kBegin: '0u', kEnd: kAll, outBase: '' };
  const { slices, sliceK, outStep } = matmulSlicing(kernel);
  return {
    sliceDecls: [
      `// Slice ${slice} of ${slices}: this block sums p over [kBegin, kEnd) only.`,
      lang.declareIndex('kBegin', `${slice} * ${sliceK}u`),
      lang.declareIndex('kEnd', `kBegin + ${sliceK}u`),
    ],
    kBegin: 'kBegin',
    kEnd: 'kEnd',
    outBase: `${slice} * ${outStep}u + `,
  };
}

/**
 * The lines that store element (i, j) of a tiled GPU product from its accumulator `acc` (`n`
 * the row length as the target writes it): at `outBase` for a slice of a split product, or
 * through the epilogue at `oe = i * n + j`.
 */
export function tiledMatmulStore(lang: CStyleLanguage, kernel: MatmulKernel, outBase: string, acc: string, n: string): string[] {
  if (!kernel.epilogue) return [`${OUTPUT_NAME}[${outBase}i * ${n} + j] = ${acc};`];
  return [lang.declareIndex('oe', `i * ${n} + j`), ...epilogueStore(lang, kernel, 'oe', acc)];
}
