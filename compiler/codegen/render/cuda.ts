/**
 * The CUDA renderer: a whole Schedule becomes one CUDA C translation unit (kernels.cu) with one
 * `extern "C" __global__` kernel per kernel of the schedule, named as in the schedule and taking
 * its input pointers then `out`, plus a strict-TypeScript module (kernels-cuda.ts, emitted as
 * kernels-cuda.js with its declarations) holding each
 * kernel's launch shape, baked in at build time, for the driver-API backend
 * (runtime/backends/cuda.ts):
 *
 * - map: one thread per element, up to 256 per block, bounds-checked.
 * - reduce: one thread per output when each output reduces a few elements; else whole warps
 *   per output combined with `__shfl_down_sync` (and shared memory across warps); or, when
 *   neighbouring outputs read neighbouring elements (column sums), a 2-D block whose rows
 *   share outputs and combine in shared memory.
 * - matmul: 16 x 16 threads per block, tiles of A and B staged in shared memory, any
 *   transA/transB, ragged edges: from 64 rows and 64 columns on, 64 x 64 tiles whose threads
 *   own 4 x 4 contiguous outputs read as float4; below, up to 4 x 4 outputs strided by 16 (so a
 *   10-column product wastes little); the slices of a split product (compiler/split.ts) along
 *   the grid's z.
 *
 * Float semantics: `expf`, `logf`, `tanhf`, `powf` and correctly rounded `sqrtf` and `/`
 * (nvcc's defaults, which artifact/cuda-compile.ts also spells out), never the fast
 * intrinsics; `maximum` propagates NaN like Math.max; literals are exact.
 *
 * NVRTC is not used: nvcc compiles kernels.cu into kernels.fatbin when the model is built,
 * and the runtime runs nvcc itself only when that fatbin is missing or stale.
 *
 * Each kernel's form, grid and block are planned first, from its sizes and layout alone
 * (`planCudaKernel`, a plain record: `CudaPlan`), then rendered in that form; kernels-cuda.ts
 * records the plan's grid and block.
 */
import { GradcError } from '../../../ir/errors.ts';
import type { CudaKernel } from '../../../artifact/kernels.ts';
import { cudaSourceHash } from '../../../artifact/cuda-compile.ts';
import type {
  Kernel,
  MapKernel,
  MatmulKernel,
  ReduceKernel,
  Schedule,
  RowScalars,
} from '../kernel-ir.ts';
import { allKernels, shortRows } from '../kernel-ir.ts';
import type { CFunctionLanguage, CodeForOp } from './language.ts';
import { conditionalRead, float32Bits, inputNames } from './language.ts';
import { epilogueStore } from './expr.ts';
import { mapParts } from './loops.ts';
import { rowKernelLines, prologueFunction } from './row-kernels.ts';
import { outputsAdjacent, reduceParts } from './reductions.ts';
import type { MatmulSliceRange, TileStaging } from './matmul-parts.ts';
import { matmulSliceRange, tiledMatmulStore, tileStaging } from './matmul-parts.ts';
import type { ModuleMeta } from './module-text.ts';
import { kernelComment, kernelSignature, lineComments, moduleHeader, RUNTIME_MODULE, buildLine } from './module-text.ts';
import { checkKernels } from './limits.ts';
import type { SupportFunction } from './support.ts';
import { SupportNeeds, supportCode } from './support.ts';
import { cCodeForOp, cFloatLiteral, cFloatOfIndex } from './c.ts';
import { template } from './templates.ts';
import { jsString } from '../escape.ts';

/** The files `gradc build --target cuda` writes next to the glue module. */
export const CUDA_SOURCE_FILE = 'kernels.cu';
/** The TypeScript of the launch shapes; built as kernels-cuda.js and kernels-cuda.d.ts. */
export const CUDA_MODULE_FILE = 'kernels-cuda.ts';

/** Threads per block of the map and reduce kernels (the matmul's 16 x 16 too). */
export const THREADS_PER_BLOCK = 256;
export const WARP_SIZE = 32;

/** CUDA's limits on a launch: threads per block, blocks along y and z, static shared memory. */
export const MAX_THREADS_PER_BLOCK = 1024;
export const MAX_GRID_X = 2 ** 31 - 1;
export const MAX_GRID_YZ = 65535;
export const MAX_STATIC_SHARED_BYTES = 48 * 1024;
/** Kernel parameters take at most 4 KiB (8-byte pointers) before CUDA 12.1. */
export const MAX_KERNEL_PARAMS = 512;

/** Up to this many elements per output a reduction runs one thread per output. */
export const SERIAL_REDUCE_MAX = 32;

/** Elements each thread of a parallel reduction reads before the threads combine. */
export const REDUCE_ELEMENTS_PER_THREAD = 8;

// ---- the language ----

/**
 * `1.0f`, `0.1f`, `(-2.5f)`, `1e-45f`, `(-0.0f)`: the shortest decimal that rounds to the
 * float32; inf and NaN by their bits, `__uint_as_float(0x7f800000u)`, so no header macro or
 * host constant is involved.
 */
export function cudaFloatLiteral(value: number): string {
  const f = Math.fround(value);
  return Number.isFinite(f) ? cFloatLiteral(f) : `__uint_as_float(${float32Bits(f)})`;
}

/**
 * CUDA C's scalar code is C's (compiler/codegen/render/c.ts): `exp` → `expf(x)` (2 ulp, not
 * the fast `__expf`), `less` → `x < y ? 1.0f : 0.0f`, and `maximum` the support code's
 * `gradc_maximum`, which propagates NaN like the reference (`fmaxf` returns the other operand).
 */
export const cudaCodeForOp: (support: SupportNeeds) => CodeForOp = cCodeForOp;

/**
 * CUDA C as one file writes it, recording the support functions its code calls in `support`.
 * Indices are `unsigned int` (what blockIdx and threadIdx are).
 */
export function cudaLanguage(support: SupportNeeds = new SupportNeeds()): CFunctionLanguage {
  return {
    name: 'cuda',
    support,
    floatLiteral: cudaFloatLiteral,
    indexDiv: (dividend, divisor) => `(${dividend} / ${divisor})`,
    declareFloat: (name, value) => `const float ${name} = ${value};`,
    declareIndex: (name, value) => `const unsigned int ${name} = ${value};`,
    declareAccumulator: (name, init) => `float ${name} = ${init};`,
    declareCoordinate: (name, index) => `const int ${name} = (int)(${index});`,
    declareSignedIndex: (name, value) => `const int ${name} = ${value};`,
    declareCondition: (name, value) => `const bool ${name} = ${value};`,
    guardedRead: conditionalRead,
    floatOfIndex: cFloatOfIndex,
    randomUniform: (seed, stream, index, counter) =>
      `${support.use('gradc_uniform')}(${seed}u, ${stream}u, ${index}, (unsigned int)${counter})`,
    inputParam: (name) => `const float *__restrict__ ${name}`,
    outputParam: (name) => `float *__restrict__ ${name}`,
    signature: (name, params) => `extern "C" __global__ void ${name}(${params}) {`,
    stored: (value) => `${support.use('gradc_stored')}(${value})`,
    countedLoop: (v, count) => `for (unsigned int ${v} = 0u; ${v} < ${count}u; ${v}++) {`,
    elementFunction: (name, inputs, param) =>
      `__device__ __forceinline__ float ${name}(\n${[...inputNames(inputs).map((n) => `  const float *__restrict__ ${n}`), `  const unsigned int ${param}`].join(',\n')}\n) {`,
    callElement: (name, inputs, index) => `${name}(${[...inputNames(inputs), index].join(', ')})`,
    codeForOp: cudaCodeForOp(support),
  };
}

/**
 * The opening line of a kernel with its block size as launch bounds:
 * `extern "C" __global__ void __launch_bounds__(256) k(const float *__restrict__ in0, ...) {`.
 */
function cudaSignature(lang: CFunctionLanguage, kernel: Kernel, threads: number): string {
  const bounded: CFunctionLanguage = {
    ...lang,
    signature: (name, params) =>
      `extern "C" __global__ void __launch_bounds__(${threads}) ${name}(${params}) {`,
  };
  return kernelSignature(bounded, kernel);
}

// ---- view-models ----

export interface CudaRenderMeta extends ModuleMeta {
  /** The architectures kernels.fatbin is built for, recorded in kernels-cuda.ts. */
  readonly archs: readonly string[];
}

type Dim3 = [number, number, number];

/** One kernel's CUDA C and its launch shape. */
export interface RenderedCudaKernel {
  readonly code: string;
  readonly grid: Dim3;
  readonly block: Dim3;
}

/** Both files of the CUDA target, and what kernels-cuda.ts records. */
export interface RenderedCuda {
  /** kernels.cu */
  readonly source: string;
  /** kernels-cuda.ts */
  readonly module: string;
  /** SHA-256 of `source`, hex. */
  readonly sourceHash: string;
  readonly kernels: Readonly<Record<string, CudaKernel>>;
}

interface KernelView {
  readonly comment: readonly string[];
  readonly signature: string;
}

interface MapView extends KernelView {
  readonly threads: number;
  readonly size: number;
  readonly body: readonly string[];
}

interface RowKernelView extends KernelView {
  readonly threads: number;
  readonly rows: number;
  readonly body: readonly string[];
}

interface ReduceViewBase extends KernelView {
  readonly outSize: number;
  readonly reduceSize: number;
  readonly base: string;
  readonly init: string;
  readonly step: string;
}

interface ReduceSerialView extends ReduceViewBase {
  readonly threads: number;
  /** `out[o] = acc;`, or the epilogue's lines at `o` (`epilogueStore`). */
  readonly store: readonly string[];
}

interface ReduceWarpsView extends ReduceViewBase {
  readonly perOutput: number;
  readonly warpsPerOutput: number;
  readonly outputsPerBlock: number;
  /** This thread's position among its output's threads, and that output's number. */
  readonly thread: string;
  readonly slot: string;
  readonly lastOutput: number;
  readonly warpReduce: string;
  /** The rendered end of the kernel (reduceWarpsEnding). */
  readonly ending: string;
}

interface ReduceColumnsView extends ReduceViewBase {
  /** `out[o] = partial[0][col];`, or the epilogue's lines at `o` (`epilogueStore`). */
  readonly store: readonly string[];
  readonly columns: number;
  readonly rows: number;
  readonly halfRows: number;
  readonly lastOutput: number;
  /** A partial combined with the one `h` rows further. */
  readonly combine: string;
}

/** The tiled kernel's register blocks and tiles, on top of the staging both kernels share. */
interface MatmulView extends MatmulStagingView {
  readonly blockM: number;
  readonly blockN: number;
  readonly tileM: number;
  readonly tileN: number;
}

interface SourceView {
  readonly header: readonly string[];
  /** A blank line and a heading when there is support code, else nothing. */
  readonly supportHeading: readonly string[];
  readonly support: readonly string[];
  readonly kernels: readonly string[];
}

interface ModuleView {
  readonly header: readonly string[];
  readonly runtimeImport: string;
  readonly buildId: string;
  readonly sourceHash: string;
  readonly archs: string;
  readonly kernels: readonly {
    readonly name: string;
    readonly grid: string;
    readonly block: string;
    readonly sources: readonly string[];
  }[];
}

// ---- the files ----

/** Renders every kernel of `schedule` into kernels.cu, the launch shapes into kernels-cuda.ts. */
export function renderCuda(schedule: Schedule, meta: CudaRenderMeta): RenderedCuda {
  const kernels = allKernels(schedule);
  checkKernels(kernels);
  kernels.forEach(checkParams);
  const lang = cudaLanguage();
  const rendered = kernels.map((kernel) => renderCudaKernel(schedule, kernel, lang));
  const source = renderSource(schedule, meta, rendered, lang.support);
  const sourceHash = cudaSourceHash(source);
  const records = Object.fromEntries(
    kernels.map((k, i): [string, CudaKernel] => [k.name, launchRecord(k, rendered[i])]),
  );
  return { source, module: renderModule(meta, sourceHash, records), sourceHash, kernels: records };
}

function launchRecord(kernel: Kernel, rendered: RenderedCudaKernel): CudaKernel {
  return { grid: rendered.grid, block: rendered.block, sharedBytes: 0, sources: kernel.sources };
}

function renderSource(
  schedule: Schedule,
  meta: CudaRenderMeta,
  rendered: readonly RenderedCudaKernel[],
  support: SupportNeeds,
): string {
  const code = rendered.map((r) => r.code);
  const view: SourceView = {
    header: moduleHeader(schedule, meta, 'rendered as CUDA C for NVIDIA GPUs', 'cuda.ts', [
      'Each kernel takes its input pointers, then `out`; its grid and block are in',
      'kernels-cuda.js. `gradc build --target cuda` compiles this file with nvcc into',
      'kernels.fatbin (no NVRTC; flags in artifact/cuda-compile.ts).',
    ]),
    ...supportSection(supportCode(support, SUPPORT)),
    kernels: code,
  };
  return template<SourceView>('cuda/module.hbs')(view);
}

function renderModule(
  meta: CudaRenderMeta,
  sourceHash: string,
  records: Readonly<Record<string, CudaKernel>>,
): string {
  const view: ModuleView = {
    header: lineComments([
      `gradc launch shapes of the CUDA kernels of model "${meta.modelName}" (${CUDA_SOURCE_FILE}).`,
      'Generated by gradc (compiler/codegen/render/cuda.ts); do not edit.',
      buildLine(meta.buildId),
    ]),
    runtimeImport: jsString(RUNTIME_MODULE),
    buildId: jsString(meta.buildId),
    sourceHash: jsString(sourceHash),
    archs: meta.archs.map(jsString).join(', '),
    kernels: Object.entries(records).map(([name, k]) => ({
      name,
      grid: k.grid.join(', '),
      block: k.block.join(', '),
      sources: k.sources.map(jsString),
    })),
  };
  return template<ModuleView>('cuda/kernels-ts.hbs')(view);
}

/** Support functions, each in the file only when a kernel (or another used one) calls it. */
const SUPPORT: readonly SupportFunction[] = [
  { name: 'gradc_maximum', template: 'cuda/support-maximum.hbs' },
  { name: 'gradc_warp_sum', template: 'cuda/support-warp-sum.hbs' },
  { name: 'gradc_warp_max', template: 'cuda/support-warp-max.hbs', calls: ['gradc_maximum'] },
  { name: 'gradc_uniform', template: 'cuda/support-philox.hbs' },
  { name: 'gradc_stored', template: 'cuda/support-stored.hbs' },
];

function supportSection(support: readonly string[]): { supportHeading: string[]; support: readonly string[] } {
  return { supportHeading: support.length ? ['', '// ---- support code ----'] : [], support };
}


/** A kernel's pointers must fit the 4 KiB of kernel parameters. */
function checkParams(kernel: Kernel): void {
  if (kernel.inputs.length + 1 <= MAX_KERNEL_PARAMS) return;
  throw new GradcError(
    `CUDA target: kernel ${kernel.name} takes ${kernel.inputs.length + 1} pointers, past the ` +
      `${MAX_KERNEL_PARAMS} that fit in CUDA's 4 KiB of kernel parameters`,
  );
}

// ---- launch plans ----

/** A launch: blocks along x, y and z, and threads per block along x, y and z. */
export interface CudaLaunch {
  readonly grid: Dim3;
  readonly block: Dim3;
}

/** A map kernel: one thread per element. */
export interface CudaMapPlan extends CudaLaunch {
  readonly kind: 'map';
  readonly form: 'elements';
}

/** A row kernel: one thread per row, which computes the row's values and then its elements. */
export interface CudaRowKernelPlan extends CudaLaunch {
  readonly kind: 'map';
  readonly form: 'rows';
  readonly rows: number;
}

/**
 * A reduction: one thread per output (`serial`); `perOutput` threads, whole warps, per output
 * combined with `__shfl_down_sync` (and shared memory across warps), `outputsPerBlock` outputs
 * to a block (`warps`); or `columns` neighbouring outputs side by side, `rows` threads each,
 * combined in shared memory (`columns`: column sums, whose neighbouring outputs read
 * neighbouring elements).
 */
export type CudaReducePlan = CudaLaunch &
  (
    | { readonly kind: 'reduce'; readonly form: 'serial' }
    | {
        readonly kind: 'reduce';
        readonly form: 'warps';
        readonly perOutput: number;
        readonly warpsPerOutput: number;
        readonly outputsPerBlock: number;
      }
    | { readonly kind: 'reduce'; readonly form: 'columns'; readonly columns: number; readonly rows: number }
  );

/**
 * A matrix product: 16 x 16 threads each owning a `blockM` x `blockN` block of outputs, a
 * `tileM` x `tileN` tile to a block, contiguous 4 x 4 blocks read as float4 (`blocked`) or
 * blocks strided by 16 (`tiled`); one layer of blocks along z per slice of k.
 */
export interface CudaMatmulPlan extends CudaLaunch {
  readonly kind: 'matmul';
  readonly form: 'blocked' | 'tiled';
  readonly blockM: number;
  readonly blockN: number;
  readonly tileM: number;
  readonly tileN: number;
}

/**
 * How a kernel runs on CUDA: its form, grid and block, decided from the kernel's sizes and
 * layout alone, before any text is written; kernels-cuda.ts records the grid and block.
 */
export type CudaPlan = CudaMapPlan | CudaRowKernelPlan | CudaReducePlan | CudaMatmulPlan;

/** The plan `renderCudaKernel` renders `kernel` in. */
export function planCudaKernel(kernel: Kernel): CudaPlan {
  switch (kernel.kind) {
    case 'map':
      return kernel.rows ? planCudaRowKernel(kernel, kernel.rows) : planCudaMap(kernel);
    case 'reduce':
      return planCudaReduce(kernel);
    case 'matmul':
      return planCudaMatmul(kernel);
  }
}

/** Threads for `count` items: a whole number of warps, at most THREADS_PER_BLOCK. */
function threadsFor(count: number): number {
  return Math.min(THREADS_PER_BLOCK, Math.max(1, Math.ceil(count / WARP_SIZE)) * WARP_SIZE);
}

/** `count` items in blocks of `perBlock` along x. */
function gridFor(count: number, perBlock: number): Dim3 {
  return [Math.max(1, Math.ceil(count / perBlock)), 1, 1];
}

/** Threads in a block. */
function blockThreads(block: Dim3): number {
  return block[0] * block[1] * block[2];
}

/**
 * `{ size: 150000 }` → grid [586, 1, 1] of blocks [256, 1, 1]; a two-element fill runs one warp,
 * block [32, 1, 1].
 */
export function planCudaMap(kernel: MapKernel): CudaMapPlan {
  const threads = threadsFor(kernel.size);
  return { kind: 'map', form: 'elements', grid: gridFor(kernel.size, threads), block: [threads, 1, 1] };
}

/** A row kernel over 600 rows → grid [3, 1, 1] of blocks [256, 1, 1], a thread per row. */
export function planCudaRowKernel(kernel: MapKernel, rowScalars: RowScalars): CudaRowKernelPlan {
  const rows = kernel.size / rowScalars.perRow;
  const threads = threadsFor(rows);
  return { kind: 'map', form: 'rows', rows, grid: gridFor(rows, threads), block: [threads, 1, 1] };
}

/**
 * Serial up to SERIAL_REDUCE_MAX elements per output (and over short rows); else about one
 * thread per REDUCE_ELEMENTS_PER_THREAD elements, a power of two: whole warps per output (32 to
 * 256 threads), or, when neighbouring outputs read neighbouring elements, up to 32 outputs side
 * by side (`columns`) with `rows` threads each. Sum over axis 1 of [600,10] → serial, grid
 * [3, 1, 1] of [256, 1, 1]; over axis 1 of [600,250] → warps of 32, 8 outputs a block, grid
 * [75, 1, 1] of [256, 1, 1]; over axis 0 of [600,250] → columns 32 x 8, grid [8, 1, 1].
 */
export function planCudaReduce(kernel: ReduceKernel): CudaReducePlan {
  const { outSize, reduceSize } = kernel;
  // Short rows fold serially, as a row kernel folds them (compiler/rows.ts).
  if (reduceSize <= SERIAL_REDUCE_MAX || shortRows(kernel)) {
    const threads = threadsFor(outSize);
    return { kind: 'reduce', form: 'serial', grid: gridFor(outSize, threads), block: [threads, 1, 1] };
  }
  const wanted = powerOfTwoAtLeast(Math.ceil(reduceSize / REDUCE_ELEMENTS_PER_THREAD));
  if (outputsAdjacent(kernel) && outSize > 1) {
    const columns = Math.min(WARP_SIZE, powerOfTwoAtLeast(outSize));
    const rows = Math.max(2, Math.min(THREADS_PER_BLOCK / columns, wanted));
    const grid = gridFor(outSize, columns);
    return { kind: 'reduce', form: 'columns', columns, rows, grid, block: [columns, rows, 1] };
  }
  const perOutput = Math.min(THREADS_PER_BLOCK, Math.max(WARP_SIZE, wanted));
  const outputsPerBlock = Math.min(THREADS_PER_BLOCK / perOutput, outSize);
  return {
    kind: 'reduce',
    form: 'warps',
    perOutput,
    warpsPerOutput: perOutput / WARP_SIZE,
    outputsPerBlock,
    grid: gridFor(outSize, outputsPerBlock),
    block: [outputsPerBlock * perOutput, 1, 1],
  };
}

function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** From this many rows and columns on, a product runs the 64 x 64 blocked kernel. */
export const BLOCKED_MATMUL_MIN = 64;

/** Register block rows (or columns) per thread of the tiled kernel for an output extent: 1, 2 or 4. */
function blockFor(extent: number): number {
  return extent > 1024 ? 4 : extent > 16 ? 2 : 1;
}

/**
 * The blocked kernel when out has at least BLOCKED_MATMUL_MIN rows and columns, else the tiled
 * one, whose register blocks shrink to fit narrow products (10 columns, one row):
 * `{ m: 600, n: 250, k: 784 }` → blocked, 64 x 64 tiles, grid [4, 10, 1];
 * `{ m: 1100, n: 40, k: 20 }` → tiled, 4 x 2 blocks, 64 x 32 tiles, grid [2, 18, 1]; blocks
 * of 16 x 16 threads.
 */
export function planCudaMatmul(kernel: MatmulKernel): CudaMatmulPlan {
  const blocked = kernel.m >= BLOCKED_MATMUL_MIN && kernel.n >= BLOCKED_MATMUL_MIN;
  const [blockM, blockN] = blocked ? [4, 4] : [blockFor(kernel.m), blockFor(kernel.n)];
  const [tileM, tileN] = [16 * blockM, 16 * blockN];
  const form = blocked ? 'blocked' : 'tiled';
  const grid = matmulGrid(kernel, tileM, tileN);
  return { kind: 'matmul', form, blockM, blockN, tileM, tileN, grid, block: [16, 16, 1] };
}

/** A grid of `tileM` x `tileN` tiles over out, one layer per slice of k. */
function matmulGrid(kernel: MatmulKernel, tileM: number, tileN: number): Dim3 {
  const grid: Dim3 = [Math.ceil(kernel.n / tileN), Math.ceil(kernel.m / tileM), kernel.kSlices];
  if (grid[1] > MAX_GRID_YZ) {
    throw new GradcError(
      `CUDA target: kernel ${kernel.name} needs ${grid[1]} blocks along y, past CUDA's ` +
        `${MAX_GRID_YZ} (a product of ${kernel.m} rows)`,
    );
  }
  return grid;
}

// ---- kernels ----

/** One kernel as CUDA C (its comment, then the definition) with its grid and block (its plan's). */
export function renderCudaKernel(
  schedule: Schedule,
  kernel: Kernel,
  lang: CFunctionLanguage = cudaLanguage(),
): RenderedCudaKernel {
  const comment = kernelComment(schedule, kernel);
  const { code, plan } = renderKernelKind(lang, comment, kernel);
  return { code: code.trimEnd(), grid: plan.grid, block: plan.block };
}

function renderKernelKind(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: Kernel,
): { code: string; plan: CudaPlan } {
  switch (kernel.kind) {
    case 'map': {
      if (kernel.rows) {
        const plan = planCudaRowKernel(kernel, kernel.rows);
        return { code: renderRowKernel(lang, comment, kernel, kernel.rows, plan), plan };
      }
      const plan = planCudaMap(kernel);
      return { code: renderMap(lang, comment, kernel, plan), plan };
    }
    case 'reduce': {
      const plan = planCudaReduce(kernel);
      const prologue = prologueFunction(lang, kernel);
      const code = renderReduce(lang, comment, kernel, plan);
      return { code: prologue.length > 0 ? [...prologue, '', code].join('\n') : code, plan };
    }
    case 'matmul': {
      const plan = planCudaMatmul(kernel);
      return { code: renderMatmul(lang, comment, kernel, plan), plan };
    }
  }
}

/**
 * A map kernel, one thread per element: `{ size: 150000, expr: add(load 0, load 1 view
 * {[600,250],[0,1]}) }` → `const unsigned int i = blockIdx.x * 256u + threadIdx.x;` /
 * `if (i >= 150000u) { return; }` / `out[i] = in0[i] + in1[i % 250];`.
 */
function renderMap(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: MapKernel,
  plan: CudaMapPlan,
): string {
  const threads = blockThreads(plan.block);
  return template<MapView>('cuda/map.hbs')({
    comment,
    signature: cudaSignature(lang, kernel, threads),
    threads,
    size: kernel.size,
    body: mapParts(lang, kernel, { kind: 'flat', size: kernel.size }).body,
  });
}

/** A row kernel: one thread per row, its values and then its elements (`rowKernelLines`). */
function renderRowKernel(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: MapKernel,
  rowScalars: RowScalars,
  plan: CudaRowKernelPlan,
): string {
  const threads = blockThreads(plan.block);
  return template<RowKernelView>('cuda/row-kernel.hbs')({
    comment,
    signature: cudaSignature(lang, kernel, threads),
    threads,
    rows: plan.rows,
    body: rowKernelLines(lang, kernel, rowScalars, 'r'),
  });
}

/**
 * A reduction in the form `planCudaReduce` chose (serial, warps or columns). A sum starts from
 * `0.0f` and adds; a max starts from `__uint_as_float(0xff800000u)` (-inf) and combines with
 * gradc_maximum, so a NaN anywhere gives NaN.
 */
function renderReduce(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: ReduceKernel,
  plan: CudaReducePlan,
): string {
  switch (plan.form) {
    case 'serial':
      return renderReduceSerial(lang, comment, kernel, plan);
    case 'warps':
      return renderReduceWarps(lang, comment, kernel, plan);
    case 'columns':
      return renderReduceColumns(lang, comment, kernel, plan);
  }
}

/** What every reduction template takes: sizes, the output's base index, init and step. */
function reduceBase(lang: CFunctionLanguage, kernel: ReduceKernel) {
  const { outSize, reduceSize } = kernel;
  return { outSize, reduceSize, ...reduceParts(lang, kernel) };
}

/** `acc` combined with `other` by the reduction's operator: `acc + x`, `gradc_maximum(acc, x)`. */
function combineWith(lang: CFunctionLanguage, kernel: ReduceKernel, acc: string, other: string): string {
  return (kernel.op === 'sum' ? lang.codeForOp.add : lang.codeForOp.maximum)([acc, other]);
}

/**
 * Few elements per output, sum over axis 1 of [600,10] → one thread per output, 256 per block:
 * `const unsigned int o = blockIdx.x * 256u + threadIdx.x; if (o >= 600u) { return; }` /
 * `const unsigned int base = o * 10; float acc = 0.0f;` /
 * `for (unsigned int r = 0u; r < 10u; r++) { acc = acc + in0[base + r]; }` / `out[o] = acc;`.
 */
function renderReduceSerial(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: ReduceKernel,
  plan: CudaReducePlan & { readonly form: 'serial' },
): string {
  const threads = blockThreads(plan.block);
  return template<ReduceSerialView>('cuda/reduce-serial.hbs')({
    comment,
    signature: cudaSignature(lang, kernel, threads),
    ...reduceBase(lang, kernel),
    store: epilogueStore(lang, kernel, 'o', 'acc'),
    threads,
  });
}

/**
 * Sum over axis 1 of [600,250] → 32 threads (one warp) per output, 8 outputs per block:
 * `t = threadIdx.x % 32u`, `slot = blockIdx.x * 8u + threadIdx.x / 32u`; each thread sums
 * every 32nd element, `acc = gradc_warp_sum(acc);` leaves the total in lane 0, which writes
 * it. With 64 to 256 threads per output, lane 0 of each warp stores its sum in `partial` and
 * the output's first thread adds the warps' sums in order (`reduceWarpsEnding`).
 */
function renderReduceWarps(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: ReduceKernel,
  plan: CudaReducePlan & { readonly form: 'warps' },
): string {
  const { perOutput, warpsPerOutput, outputsPerBlock } = plan;
  const threads = blockThreads(plan.block);
  return template<ReduceWarpsView>('cuda/reduce-warps.hbs')({
    comment,
    signature: cudaSignature(lang, kernel, threads),
    ...reduceBase(lang, kernel),
    perOutput,
    warpsPerOutput,
    outputsPerBlock,
    thread: outputsPerBlock === 1 ? 'threadIdx.x' : `threadIdx.x % ${perOutput}u`,
    slot:
      outputsPerBlock === 1
        ? 'blockIdx.x'
        : `blockIdx.x * ${outputsPerBlock}u + threadIdx.x / ${perOutput}u`,
    lastOutput: kernel.outSize - 1,
    warpReduce: lang.support.use(kernel.op === 'sum' ? 'gradc_warp_sum' : 'gradc_warp_max'),
    ending: reduceWarpsEnding(lang, kernel, warpsPerOutput, threads / WARP_SIZE),
  });
}

/**
 * The end of a warp reduction: combine the warps' partial results in shared memory, or, with
 * one warp per output, write lane 0's result directly.
 */
function reduceWarpsEnding(
  lang: CFunctionLanguage,
  kernel: ReduceKernel,
  warpsPerOutput: number,
  warps: number,
): string {
  const view = {
    outSize: kernel.outSize,
    warps,
    warpsPerOutput,
    combine: combineWith(lang, kernel, 'acc', 'partial[warp + w]'),
    store: epilogueStore(lang, kernel, 'o', 'acc'),
  };
  const file = warpsPerOutput > 1 ? 'cuda/reduce-warps-end-shared.hbs' : 'cuda/reduce-warps-end-direct.hbs';
  return template<typeof view>(file)(view).trimEnd();
}

/**
 * Sum over axis 0 of [600,250] (outputs adjacent, each reading a column) → blocks of 32 x 8
 * threads: `slot = blockIdx.x * 32u + col` (col = threadIdx.x), thread row `row` sums every 8th
 * element of the column, then `partial[8][32]` is halved row by row with `__syncthreads()`.
 */
function renderReduceColumns(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: ReduceKernel,
  plan: CudaReducePlan & { readonly form: 'columns' },
): string {
  const { columns, rows } = plan;
  return template<ReduceColumnsView>('cuda/reduce-columns.hbs')({
    comment,
    signature: cudaSignature(lang, kernel, blockThreads(plan.block)),
    ...reduceBase(lang, kernel),
    store: epilogueStore(lang, kernel, 'o', 'partial[0][col]'),
    columns,
    rows,
    halfRows: rows / 2,
    lastOutput: kernel.outSize - 1,
    combine: combineWith(lang, kernel, 'partial[row][col]', 'partial[row + h][col]'),
  });
}

/**
 * A matrix product in the form `planCudaMatmul` chose. Blocked, `{ m: 600, n: 250, k: 784 }` →
 * thread (x, y) owns rows 4y..4y+3 and columns 4x..4x+3 of its 64 x 64 tile and reads its
 * operands as two float4 per step of k: 2 shared-memory loads for 16 multiply-adds. Tiled,
 * `{ m: 1100, n: 40, k: 20, transA: false, transB: false }` → thread (x, y) owning rows y + 16 r
 * and columns x + 16 c of a 64 x 32 tile; A(i, p) = `in0[i * 20u + p]`, B(p, j) =
 * `in1[p * 40u + j]`. Out-of-range elements are staged as zeros. A split product runs its
 * slices along the grid's z: block z sums p over its slice and writes slice z of out.
 */
function renderMatmul(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: MatmulKernel,
  plan: CudaMatmulPlan,
): string {
  const { tileM, tileN } = plan;
  const staging = matmulStaging(lang, comment, kernel, tileM, tileN, blockThreads(plan.block));
  if (plan.form === 'blocked') return template<MatmulStagingView>('cuda/matmul-blocked.hbs')(staging);
  const { blockM, blockN } = plan;
  return template<MatmulView>('cuda/matmul.hbs')({ ...staging, blockM, blockN, tileM, tileN });
}

/** What both matmul templates take: sizes, how tiles are staged, the slice of k. */
interface MatmulStagingView extends KernelView, MatmulSliceRange, TileStaging {
  readonly m: number;
  readonly n: number;
  readonly store: readonly string[];
}

function matmulStaging(
  lang: CFunctionLanguage,
  comment: readonly string[],
  kernel: MatmulKernel,
  tileM: number,
  tileN: number,
  threads: number,
): MatmulStagingView {
  const { m, n, k } = kernel;
  const range = matmulSliceRange(lang, kernel, 'blockIdx.z', `${k}u`);
  return {
    comment,
    signature: cudaSignature(lang, kernel, threads),
    m,
    n,
    ...tileStaging(lang, kernel, tileM, tileN),
    ...range,
    store: tiledMatmulStore(lang, kernel, range.outBase, 'acc[r][c]', `${n}u`),
  };
}
