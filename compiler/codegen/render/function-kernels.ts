/**
 * The renderer of the function targets, C and TypeScript, whose kernels are functions of their
 * buffers (`void k(const float *restrict in0, ..., float *restrict out)`, `export function
 * k(in0: Float32Array, ..., out: Float32Array): void`): maps (flat, rows or nested loops), row
 * kernels, reductions with their prologues and epilogues, each through the target's own
 * templates (`templates/c/`, `templates/js/`), which hold the loops in its syntax. What differs
 * besides the language is a `FunctionTarget`: how loops run on threads (C's OpenMP pragmas), a
 * reduction the target renders its own way (C's rows of outputs), and matrix products, which are
 * entirely the target's (C calls its packed `gradc_matmul`, TypeScript writes its passes).
 */
import type { Kernel, MapKernel, MatmulKernel, ReduceKernel, Schedule } from '../kernel-ir.ts';
import { allKernels } from '../kernel-ir.ts';
import type { CFunctionLanguage } from './language.ts';
import { epilogueStore, exprCost } from './expr.ts';
import { mapParts, nestedLoops } from './loops.ts';
import { prologueFunction, rowKernelLines, rowKernelWork } from './row-kernels.ts';
import { reduceParts } from './reductions.ts';
import { kernelComment, kernelSignature } from './module-text.ts';
import { checkKernels } from './limits.ts';
import { template } from './templates.ts';

/**
 * The outer loop of a kernel, as a target that runs loops on threads sees it: a loop over
 * independent elements whose body is straight-line work (vectorisable), a loop over rows (a
 * map's rows, a row kernel's rows, a reduction's outputs), or the outermost of `depth` nested
 * loops over output axes.
 */
export type OuterLoop =
  | { readonly kind: 'elements' }
  | { readonly kind: 'rows' }
  | { readonly kind: 'nested'; readonly depth: number };

/** What a function target is besides its language and templates. */
export interface FunctionTarget {
  /** The language, as the module being rendered writes it (recording its support calls). */
  readonly lang: CFunctionLanguage;
  /** The folder of the target's templates under templates/: `c`, `js`. */
  readonly templates: string;
  /**
   * The lines before a kernel's outer loop that run it on threads, given about how many
   * operations the kernel does (C: OpenMP pragmas when the work pays for the thread team;
   * TypeScript: none).
   */
  loopPragmas(loop: OuterLoop, work: number): string[];
  /** A reduction rendered the target's own way, or undefined for the shared loop over outputs. */
  renderReduce?(base: FunctionKernelView, kernel: ReduceKernel): string | undefined;
  /** A matrix product, which each target renders its own way. */
  renderMatmul(base: FunctionKernelView, kernel: MatmulKernel): string;
}

/** What every template of a function target starts a kernel with. */
export interface FunctionKernelView {
  readonly comment: readonly string[];
  readonly name: string;
  /** The opening line(s) of the definition. */
  readonly signature: string;
}

export function functionKernelView(lang: CFunctionLanguage, schedule: Schedule, kernel: Kernel): FunctionKernelView {
  return { comment: kernelComment(schedule, kernel), name: kernel.name, signature: kernelSignature(lang, kernel) };
}

interface MapFlatView extends FunctionKernelView {
  readonly pragmas: readonly string[];
  readonly size: number;
  readonly body: readonly string[];
}

interface RowKernelView extends FunctionKernelView {
  readonly pragmas: readonly string[];
  readonly rows: number;
  readonly body: readonly string[];
}

interface MapRowsView extends FunctionKernelView {
  readonly pragmas: readonly string[];
  readonly rows: number;
  readonly cols: number;
  readonly bases: readonly string[];
  readonly body: readonly string[];
}

/** One loop per output axis (window reads): `for (int o0 = 0; ...) { ... const int i = ...;`. */
interface MapNestedView extends FunctionKernelView {
  readonly pragmas: readonly string[];
  readonly opens: readonly string[];
  readonly indent: string;
  readonly index: string;
  readonly body: readonly string[];
  readonly closes: readonly string[];
}

interface ReduceView extends FunctionKernelView {
  readonly pragmas: readonly string[];
  readonly outSize: number;
  readonly reduceSize: number;
  readonly base: string;
  readonly init: string;
  readonly step: string;
  /** `out[o] = acc;`, or the epilogue's lines at `o` (`epilogueStore`). */
  readonly store: readonly string[];
}

/** Every kernel of `schedule` rendered for `target`, in schedule order (checked first). */
export function renderFunctionKernels(target: FunctionTarget, schedule: Schedule): string[] {
  const kernels = allKernels(schedule);
  checkKernels(kernels);
  return kernels.map((kernel) => renderFunctionKernel(target, schedule, kernel).trimEnd());
}

/** One kernel as a function of its buffers, its comment above it. */
export function renderFunctionKernel(target: FunctionTarget, schedule: Schedule, kernel: Kernel): string {
  const base = functionKernelView(target.lang, schedule, kernel);
  switch (kernel.kind) {
    case 'map':
      return renderMap(target, base, kernel);
    case 'reduce': {
      const code = target.renderReduce?.(base, kernel) ?? renderReduce(target, base, kernel);
      return kernel.prologue ? [...prologueFunction(target.lang, kernel), '', code].join('\n') : code;
    }
    case 'matmul':
      return target.renderMatmul(base, kernel);
  }
}

/**
 * A map kernel: `{ size: 150000, expr: add(load 0, load 1 view {[600,250],[0,1]}) }` in C →
 * `#pragma omp parallel for` / `for (int o = 0; o < 600; o++)` / `#pragma omp simd` /
 * `for (int j = 0; j < 250; j++) { const int i = o * 250 + j; out[i] = in0[i] + in1[j]; }`;
 * with only identity loads, one loop over `i` (`#pragma omp parallel for simd` in C); with
 * window reads, one loop per output axis. A row kernel loops over rows, each computing its
 * per-row values and then its elements (`rowKernelLines`).
 */
function renderMap(target: FunctionTarget, base: FunctionKernelView, kernel: MapKernel): string {
  const { lang, templates } = target;
  if (kernel.rows) {
    const rows = kernel.size / kernel.rows.perRow;
    const pragmas = target.loopPragmas({ kind: 'rows' }, rowKernelWork(kernel, kernel.rows));
    const body = rowKernelLines(lang, kernel, kernel.rows, 'r');
    return template<RowKernelView>(`${templates}/row-kernel.hbs`)({ ...base, pragmas, rows, body });
  }
  const { loop, bases, body } = mapParts(lang, kernel);
  const work = kernel.size * exprCost(kernel.expr);
  if (loop.kind === 'flat') {
    const pragmas = target.loopPragmas({ kind: 'elements' }, work);
    return template<MapFlatView>(`${templates}/map-flat.hbs`)({ ...base, pragmas, size: loop.size, body });
  }
  if (loop.kind === 'nested') {
    const loops = nestedLoops(loop.shape, lang.countedLoop, bases);
    const pragmas = target.loopPragmas({ kind: 'nested', depth: loop.shape.length }, work);
    return template<MapNestedView>(`${templates}/map-nested.hbs`)({ ...base, pragmas, ...loops, body });
  }
  const pragmas = target.loopPragmas({ kind: 'rows' }, work);
  const { rows, cols } = loop;
  return template<MapRowsView>(`${templates}/map-rows.hbs`)({ ...base, pragmas, rows, cols, bases, body });
}

/**
 * A reduction one output at a time, a serial loop over its elements: max over axis 1 of
 * [600,10] in C → `for (int o = 0; o < 600; o++)` / `const int base = o * 10;` /
 * `float acc = (-INFINITY);` / `for (int r = 0; r < 10; r++) acc = gradc_maximum(acc, in0[base + r]);`
 * / `out[o] = acc;`. The loop over r is never a vectorised reduction (`omp simd reduction`),
 * which would add in an order of the compiler's choosing, and so could differ between a fused
 * kernel and the unfused ones. With an epilogue, `acc` rounded to float32 as a store would round
 * it (TypeScript computes in float64) goes through the epilogue at `o`.
 */
function renderReduce(target: FunctionTarget, base: FunctionKernelView, kernel: ReduceKernel): string {
  const { lang } = target;
  const { outSize, reduceSize } = kernel;
  const work = outSize * reduceSize;
  return template<ReduceView>(`${target.templates}/reduce.hbs`)({
    ...base,
    ...reduceParts(lang, kernel),
    // A single output runs on one thread.
    pragmas: outSize > 1 ? target.loopPragmas({ kind: 'rows' }, work) : [],
    outSize,
    reduceSize,
    store: epilogueStore(lang, kernel, 'o', kernel.epilogue ? lang.stored('acc') : 'acc'),
  });
}
