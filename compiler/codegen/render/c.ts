/**
 * The C renderer: a whole Schedule becomes one C file (C99 + OpenMP, GNU vector extensions in
 * the matrix product) with one exported `void <kernel>(const float *restrict in0, ...,
 * float *restrict out)` per kernel, plus `gradc_alloc`/`gradc_free` for the native runtime.
 * Compile with `-O3 -march=native -fopenmp -shared -fPIC`.
 */
import type {
  Kernel,
  MapKernel,
  MatmulKernel,
  ReduceKernel,
  Schedule,
} from '../kernel-ir.ts';
import { allKernels } from '../kernel-ir.ts';
import type {
  CFunctionLanguage,
  CodeForOp,
  FunctionKernelView,
  MatmulSlicing,
  ModuleMeta,
  ReduceColumns,
  SupportFunction,
} from './c-style.ts';
import {
  conditionalRead,
  atomic,
  call,
  identity,
  checkKernels,
  exprCost,
  infix,
  functionKernelView,
  isSimpleIndex,
  moduleHeader,
  mapParts,
  nestedLoops,
  matmulSlicing,
  matmulStrides,
  prefix,
  reduceColumnParts,
  reduceColumns,
  reduceParts,
  shortestFloat32Digits,
  supportFor,
} from './c-style.ts';
import { template } from './templates.ts';

/**
 * Below this much work (elements × estimated ops per element, a transcendental counting 8)
 * a loop runs on one thread: measured on a 2-core Xeon, waking the OpenMP team costs about as
 * much as 10-20k broadcast adds or 5-8k exps.
 */
export const PARALLEL_MIN_WORK = 1 << 16;

/** `1.0f`, `0.1f`, `(-2.5f)`, `1e-45f`, `INFINITY`: exact float32 constants. */
export function cFloatLiteral(value: number): string {
  if (Number.isNaN(value)) return 'NAN';
  if (value === Infinity) return 'INFINITY';
  if (value === -Infinity) return '(-INFINITY)';
  if (Object.is(value, -0)) return '(-0.0f)';
  const digits = shortestFloat32Digits(value);
  return atomic(`${/[.e]/.test(digits) ? digits : `${digits}.0`}f`);
}

/** An index as a float (C and CUDA C): `(float)i`, `(float)(i % 3)`. */
export function cFloatOfIndex(index: string): string {
  return isSimpleIndex(index) ? `(float)${index}` : `(float)(${index})`;
}

/**
 * C's scalar meaning of each primitive on atomic operands, e.g. `add` → `x + y`,
 * `less` → `x < y ? 1.0f : 0.0f`. `maximum` is the support code's `gradc_maximum`, which
 * propagates NaN like the reference and vectorises (libm's `fmaxf` is a call per element).
 */
export const codeForOp = {
  neg: prefix('-'),
  exp: call('expf'),
  log: call('logf'),
  sqrt: call('sqrtf'),
  tanh: call('tanhf'),
  stop_gradient: identity,
  add: infix('+'),
  sub: infix('-'),
  mul: infix('*'),
  div: infix('/'),
  pow: call('powf'),
  maximum: call('gradc_maximum'),
  less: ([x, y]) => `${x} < ${y} ? 1.0f : 0.0f`,
  equal: ([x, y]) => `${x} == ${y} ? 1.0f : 0.0f`,
  where: ([c, x, y]) => `${c} != 0.0f ? ${x} : ${y}`,
} satisfies CodeForOp;

export const C_LANGUAGE: CFunctionLanguage = {
  name: 'c',
  floatLiteral: cFloatLiteral,
  indexDiv: (dividend, divisor) => `(${dividend} / ${divisor})`,
  declareFloat: (name, value) => `const float ${name} = ${value};`,
  declareIndex: (name, value) => `const int ${name} = ${value};`,
  declareAccumulator: (name, init) => `float ${name} = ${init};`,
  declareCoordinate: (name, index) => `const int ${name} = ${index};`,
  declareSignedIndex: (name, value) => `const int ${name} = ${value};`,
  declareCondition: (name, value) => `const int ${name} = ${value};`,
  guardedRead: conditionalRead,
  floatOfIndex: cFloatOfIndex,
  randomUniform: (seed, stream, index, counter) =>
    `gradc_uniform(${seed}u, ${stream}u, (uint32_t)${index}, (uint32_t)${counter})`,
  inputParam: (name) => `const float *restrict ${name}`,
  outputParam: (name) => `float *restrict ${name}`,
  signature: (name, params) => `GRADC_EXPORT void ${name}(${params}) {`,
  codeForOp,
};

export type CRenderMeta = ModuleMeta;

/** Support code after the fixed part, each only when a kernel calls it. */
const SUPPORT: readonly SupportFunction[] = [{ name: 'gradc_uniform', template: 'c/support-philox.hbs' }];

interface ModuleView {
  readonly header: readonly string[];
  readonly support: string;
  readonly kernels: readonly string[];
}

type KernelView = FunctionKernelView;

interface MapFlatView extends KernelView {
  readonly pragmas: readonly string[];
  readonly size: number;
  readonly body: readonly string[];
}

interface MapRowsView extends KernelView {
  readonly pragmas: readonly string[];
  readonly rows: number;
  readonly cols: number;
  readonly bases: readonly string[];
  readonly body: readonly string[];
}

/** One loop per output axis (window reads): `for (int o0 = 0; ...) { ... const int i = ...;`. */
interface MapNestedView extends KernelView {
  readonly pragmas: readonly string[];
  readonly opens: readonly string[];
  readonly indent: string;
  readonly index: string;
  readonly body: readonly string[];
  readonly closes: readonly string[];
}

interface ReduceView extends KernelView {
  readonly pragmas: readonly string[];
  readonly outSize: number;
  readonly reduceSize: number;
  readonly base: string;
  readonly init: string;
  /** `#pragma omp simd reduction(+:acc)` for sums; none for max, since OpenMP's max
   * combiner drops NaN where `gradc_maximum` (the reference's Math.max) keeps it. */
  readonly innerPragmas: readonly string[];
  readonly step: string;
}

/** A reduction in rows of adjacent outputs, accumulated a row at a time (`ReduceColumns`). */
interface ReduceColumnsView extends KernelView {
  readonly pragmas: readonly string[];
  readonly rows: number;
  readonly cols: number;
  readonly reduceSize: number;
  readonly base: string;
  readonly init: string;
  readonly step: string;
}

interface MatmulView extends KernelView {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly strides: string;
}

type MatmulSlicesView = MatmulView & MatmulSlicing;

/** Renders every kernel of `schedule` into one C translation unit. */
export function renderC(schedule: Schedule, meta: CRenderMeta): string {
  const kernels = allKernels(schedule);
  checkKernels(kernels);
  const code = kernels.map((k) => renderKernel(schedule, k).trimEnd());
  const fixed = template<object>('c/support.hbs')({}).trimEnd();
  const view: ModuleView = {
    header: moduleHeader(schedule, meta, 'rendered for C with OpenMP', 'c.ts', [
      'Build: cc -O3 -march=native -fopenmp -shared -fPIC',
    ]),
    support: [fixed, ...supportFor(code.join('\n'), SUPPORT)].join('\n\n'),
    kernels: code,
  };
  return template<ModuleView>('c/module.hbs')(view);
}


function renderKernel(schedule: Schedule, kernel: Kernel): string {
  const base = functionKernelView(C_LANGUAGE, schedule, kernel);
  switch (kernel.kind) {
    case 'map':
      return renderMap(base, kernel);
    case 'reduce':
      return renderReduce(base, kernel);
    case 'matmul':
      return kernel.kSlices === 1
        ? template<MatmulView>('c/matmul.hbs')(matmulView(base, kernel))
        : template<MatmulSlicesView>('c/matmul-slices.hbs')({
            ...matmulView(base, kernel),
            ...matmulSlicing(kernel),
          });
  }
}

/** `#pragma omp ...` for a loop of `work`: the thread team only when it pays. */
function loopPragmas(work: number, parallel: string, serial?: string): string[] {
  const pragma = work >= PARALLEL_MIN_WORK ? parallel : serial;
  return pragma ? [`#pragma omp ${pragma}`] : [];
}

/**
 * A map kernel: `{ size: 150000, expr: add(load 0, load 1 view {[600,250],[0,1]}) }` →
 * `#pragma omp parallel for` / `for (int o = 0; o < 600; o++)` / `#pragma omp simd` /
 * `for (int j = 0; j < 250; j++) { const int i = o * 250 + j; out[i] = in0[i] + in1[j]; }`;
 * with only identity loads, one `#pragma omp parallel for simd` loop over `i`.
 */
function renderMap(base: KernelView, kernel: MapKernel): string {
  const { loop, bases, body } = mapParts(C_LANGUAGE, kernel);
  const work = kernel.size * exprCost(kernel.expr);
  if (loop.kind === 'flat') {
    const pragmas = loopPragmas(work, 'parallel for simd', 'simd');
    return template<MapFlatView>('c/map-flat.hbs')({ ...base, pragmas, size: loop.size, body });
  }
  if (loop.kind === 'nested') {
    const loops = nestedLoops(loop.shape, (v, count) => `for (int ${v} = 0; ${v} < ${count}; ${v}++) {`);
    const pragmas = loopPragmas(work, loop.shape.length > 1 ? 'parallel for collapse(2)' : 'parallel for');
    return template<MapNestedView>('c/map-nested.hbs')({ ...base, pragmas, ...loops, body });
  }
  const pragmas = loopPragmas(work, 'parallel for');
  const { rows, cols } = loop;
  return template<MapRowsView>('c/map-rows.hbs')({ ...base, pragmas, rows, cols, bases, body });
}

/**
 * A reduction over adjacent outputs in rows (`reduceColumns`), any other over one output at a
 * time.
 */
function renderReduce(base: KernelView, kernel: ReduceKernel): string {
  const columns = reduceColumns(kernel);
  return columns
    ? template<ReduceColumnsView>('c/reduce-columns.hbs')(reduceColumnsView(base, kernel, columns))
    : template<ReduceView>('c/reduce.hbs')(reduceView(base, kernel));
}

/**
 * A reduction one output at a time: max over axis 1 of [600,10] → `for (int o = 0; o < 600; o++)`
 * / `const int base = o * 10; float acc = (-INFINITY);` /
 * `for (int r = 0; r < 10; r++) acc = gradc_maximum(acc, in0[base + r]);` / `out[o] = acc;`.
 */
function reduceView(base: KernelView, kernel: ReduceKernel): ReduceView {
  const work = kernel.outSize * kernel.reduceSize;
  return {
    ...base,
    ...reduceParts(C_LANGUAGE, kernel),
    pragmas: kernel.outSize > 1 ? loopPragmas(work, 'parallel for') : [],
    outSize: kernel.outSize,
    reduceSize: kernel.reduceSize,
    innerPragmas: kernel.op === 'sum' ? ['#pragma omp simd reduction(+:acc)'] : [],
  };
}

/**
 * A reduction a row of adjacent outputs at a time, each output folded r ascending from its init
 * in a vector lane of its own (no OpenMP reduction, whose max would drop NaN): max pooling,
 * [128,13,13,2,2,32] over its 2x2 windows → `#pragma omp parallel for` /
 * `for (int ob = 0; ob < 21632; ob++)` / `const int base = ob * 128;` /
 * `float *const acc = out + ob * 32;` / `acc[j] = (-INFINITY)` for `j < 32` / then for each
 * `r < 4`, `#pragma omp simd` / `for (int j = 0; j < 32; j++)`
 * `acc[j] = gradc_maximum(acc[j], in0[base + r * 32 + j]);`. A single row (a sum over the batch)
 * runs on one thread, measured faster than the one-output-at-a-time loop on all threads.
 */
function reduceColumnsView(
  base: KernelView,
  kernel: ReduceKernel,
  { rows, cols }: ReduceColumns,
): ReduceColumnsView {
  const work = kernel.outSize * kernel.reduceSize;
  return {
    ...base,
    ...reduceColumnParts(C_LANGUAGE, kernel, cols),
    pragmas: rows > 1 ? loopPragmas(work, 'parallel for') : [],
    rows,
    cols,
    reduceSize: kernel.reduceSize,
  };
}

/**
 * A matrix product calls the packed, blocked `gradc_matmul` with the operands' strides:
 * `{ m: 600, n: 250, k: 784, transA: false, transB: true }` →
 * `gradc_matmul(in0, in1, out, 600, 250, 784, 784, 1, 1, 784);`. A split product calls it
 * once per slice of k, on pointers moved to the slice (c/matmul-slices.hbs).
 */
function matmulView(base: KernelView, kernel: MatmulKernel): MatmulView {
  const { ars, acs, brs, bcs } = matmulStrides(kernel);
  const { m, n, k } = kernel;
  return { ...base, m, n, k, strides: [ars, acs, brs, bcs].join(', ') };
}
