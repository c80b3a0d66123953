/**
 * The pieces of a reduction every target renders into its own loops: the base of an output,
 * its init and the step that folds one more element (`reduceParts`); reductions whose
 * neighbouring outputs read neighbouring elements (`outputsAdjacent`), and those a function
 * target accumulates a row of outputs at a time (`reduceColumns`, `reduceColumnParts`).
 */
import type { ViewAxis } from '../../../ir/layout.ts';
import { simplifyView } from '../../../ir/layout.ts';
import type { ReduceKernel } from '../kernel-ir.ts';
import type { EmitFn, CStyleLanguage } from './language.ts';
import { indexExpr, rowLoad, offsetSum } from './indexing.ts';
import { MIN_ROW_LENGTH } from './loops.ts';
import { reducedElement } from './row-kernels.ts';

/** The pieces of a reduction, for a loop over outputs `o` around a loop over steps `r`. */
export interface ReduceParts {
  /** Where output `o`'s elements start in the input. */
  readonly base: string;
  readonly init: string;
  /** The new accumulator `acc` after reading one more element. */
  readonly step: string;
}

/**
 * A reduction's parts, e.g. sum over axis 0 of [600,250] in C → base `o`, init `0.0f`,
 * step `acc + in0[base + r * 250]`; max over axis 1 → step `gradc_maximum(acc, in0[base + r])`.
 * `init` replaces the identity as the accumulator's start (WGSL starts a max from its first
 * element), so the identity is not rendered then.
 */
export function reduceParts(lang: CStyleLanguage, kernel: ReduceKernel, init?: string): ReduceParts {
  const base = indexExpr(lang, simplifyView(kernel.outView), 'o');
  const step = indexExpr(lang, simplifyView(kernel.redView), 'r');
  const element = reducedElement(lang, kernel, offsetSum('base', step));
  return { base, init: init ?? reductionInit(lang, kernel), step: reductionCombine(lang, kernel)(['acc', element]) };
}

/** What a reduction's accumulator starts from: `0.0f` for a sum, `(-INFINITY)` for a max in C. */
export function reductionInit(lang: CStyleLanguage, kernel: ReduceKernel): string {
  return lang.floatLiteral(kernel.op === 'sum' ? 0 : -Infinity);
}

/** How a reduction folds one element into its accumulator: `add`, or the NaN-keeping `maximum`. */
export function reductionCombine(lang: CStyleLanguage, kernel: ReduceKernel): EmitFn {
  return kernel.op === 'sum' ? lang.codeForOp.add : lang.codeForOp.maximum;
}

/**
 * A reduction whose outputs come in rows of `cols` neighbours that read neighbouring input
 * elements: output `ob * cols + j` reads `base(ob) + step(r) + j`.
 */
export interface ReduceColumns {
  readonly rows: number;
  readonly cols: number;
}

/**
 * Whether neighbouring outputs of a reduction read neighbouring elements (a column sum): then
 * threads are laid out across outputs, so neighbouring threads read neighbouring memory.
 */
export function outputsAdjacent(kernel: ReduceKernel): boolean {
  const innermost = (axes: readonly ViewAxis[]) => axes[axes.length - 1]?.stride ?? 0;
  return (
    innermost(simplifyView(kernel.outView)) === 1 &&
    innermost(simplifyView(kernel.redView)) !== 1
  );
}

/**
 * The rows of a reduction whose outputs are adjacent (`outputsAdjacent`), the innermost output
 * axis after `simplifyView` being a row of at least MIN_ROW_LENGTH: max over the 2x2 windows of
 * [128,13,13,2,2,32] → 21632 rows of 32; sum over axis 0 of [600,250] → 1 row of 250; a sum
 * over the last axis, or pooling over 3 channels (rows of 3), → undefined.
 */
export function reduceColumns(kernel: ReduceKernel): ReduceColumns | undefined {
  if (!outputsAdjacent(kernel)) return undefined;
  const axes = simplifyView(kernel.outView);
  const cols = axes[axes.length - 1].size;
  return cols >= MIN_ROW_LENGTH ? { rows: kernel.outSize / cols, cols } : undefined;
}

/** The pieces of a reduction in rows: a loop over rows `ob`, over steps `r`, over columns `j`. */
export interface ReduceColumnParts {
  /** Where row `ob`'s first output reads its elements in the input. */
  readonly base: string;
  readonly init: string;
  /** The new value of accumulator `acc[j]`, output `ob * cols + j`, after step `r`. */
  readonly step: string;
}

/**
 * A reduction's parts for rows of `cols`, e.g. max over the 2x2 windows of [128,13,13,2,2,32]
 * in C, cols 32 → base `ob * 128`, init `(-INFINITY)`,
 * step `gradc_maximum(acc[j], in0[base + r * 32 + j])`.
 */
export function reduceColumnParts(
  lang: CStyleLanguage,
  kernel: ReduceKernel,
  cols: number,
): ReduceColumnParts {
  const { base } = rowLoad(lang, simplifyView(kernel.outView), cols, 'ob');
  const offset = indexExpr(lang, simplifyView(kernel.redView), 'r');
  const element = reducedElement(lang, kernel, offsetSum(offsetSum('base', offset), 'j'));
  const step = reductionCombine(lang, kernel)(['acc[j]', element]);
  return { base, init: reductionInit(lang, kernel), step };
}
