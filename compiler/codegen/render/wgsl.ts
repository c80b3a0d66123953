/**
 * The WGSL renderer: a whole Schedule becomes one strict-TypeScript module holding one WGSL
 * module per kernel, as the `wgslKernels` record the WebGPU backend (runtime/backends/webgpu.ts)
 * takes. Each module binds its inputs read-only at @binding(0..n-1) and `out` at @binding(n),
 * has its sizes baked in as constants and its dispatch size fixed at build time:
 *
 * - map: one invocation per element, 256 per workgroup, bounds-checked; a 2-D grid of
 *   workgroups when one dimension would exceed the 65535 WebGPU allows.
 * - reduce: a serial loop per invocation when each output reduces a few elements, else a
 *   tree in workgroup memory with several invocations per output.
 * - matmul: 16 x 16 invocations per workgroup, tiles of A and B staged in workgroup memory;
 *   from 33 rows and columns on, 64 x 64 tiles whose invocations own 4 x 4 contiguous outputs
 *   and read their operands as vec4 (blocked), below that a register block of up to 4 x 4
 *   outputs strided by 16 (tiled); any transA/transB, ragged edges, the slices of a split
 *   product along the grid's z. A small product runs one invocation per output instead.
 *
 * Everything stays within WebGPU's default limits (256 invocations and 16 KiB of workgroup
 * memory per workgroup, 8 storage buffers per stage), so the kernels run on any adapter.
 *
 * Each kernel's form and dispatch are planned first, from its sizes and layout alone
 * (`planWgslKernel`, a plain record: `WgslPlan`), then rendered in that form.
 */
import { GradcError } from '../../../ir/errors.ts';
import { OPS } from '../../../ir/ops/index.ts';
import { isElementwise } from '../../../ir/ops/op.ts';
import type {
  EpilogueKernel,
  Expr,
  Kernel,
  MapKernel,
  MatmulKernel,
  ReduceKernel,
  Schedule,
  RowScalars,
} from '../kernel-ir.ts';
import { MAX_KERNEL_INPUTS as SCHEDULE_MAX_KERNEL_INPUTS, allKernels, foldExpr, shortRows, withArgs } from '../kernel-ir.ts';
import type { CStyleLanguage, CodeForOp } from './language.ts';
import { float32Bits, OUTPUT_NAME, atomic, call, infix, inputName, prefix, shortestFloat32Digits } from './language.ts';
import { epilogueStore } from './expr.ts';
import { mapParts } from './loops.ts';
import { rowKernelLines, prologueFunction, reducedElement } from './row-kernels.ts';
import { outputsAdjacent, reduceParts } from './reductions.ts';
import type { MatmulElements, MatmulSliceRange, TileStaging, VectorTileStaging } from './matmul-parts.ts';
import { tiledMatmulStore, matmulElements, matmulSliceRange, tileStaging, vectorTileStaging } from './matmul-parts.ts';
import type { ModuleMeta } from './module-text.ts';
import { kernelComment, moduleHeader, RUNTIME_MODULE } from './module-text.ts';
import { checkKernels } from './limits.ts';
import type { SupportFunction } from './support.ts';
import { SupportNeeds, supportCall, supportCode } from './support.ts';
import { template } from './templates.ts';
import { jsString, templateLiteralText } from '../escape.ts';

/** The file `gradc build --target wgsl` writes next to the glue module. */
export const WGSL_FILE_NAME = 'kernels-wgsl.ts';

/** The entry point of every generated module. */
export const WGSL_ENTRY_POINT = 'main';

/** Invocations per workgroup: WebGPU's default maxComputeInvocationsPerWorkgroup. */
export const WORKGROUP_SIZE = 256;

/** WebGPU's default maxComputeWorkgroupsPerDimension. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/** WebGPU's default maxStorageBuffersPerShaderStage (Chrome's too): the inputs and `out`. */
export const MAX_STORAGE_BUFFERS_PER_STAGE = 8;

/** Inputs a kernel may read besides writing its output (the scheduler fuses up to this). */
export const MAX_KERNEL_INPUTS: number = SCHEDULE_MAX_KERNEL_INPUTS;

/**
 * Up to this many multiply-adds a matrix product is bound by launch latency on any device,
 * so it runs one invocation per output without tiles (which also compiles some 30 times
 * faster on lavapipe, where a tiled kernel takes about a second).
 */
export const DIRECT_MATMUL_MAX_WORK = 1 << 18;

/** Elements each invocation of a reduction reads before the workgroup tree combines them. */
export const REDUCE_ELEMENTS_PER_INVOCATION = 8;

const FLOAT32_MAX = 3.4028234663852886e38;

// ---- the language ----

/**
 * `1.0`, `0.1`, `(-2.5)`, `1e-45`, `3.4028234663852886e+38`: the shortest decimal that rounds
 * to the float32 (WGSL converts the abstract-float literal to f32 by rounding; a literal past
 * the largest float32 is an error, so that one keeps its exact digits). WGSL has no inf or
 * NaN literals and const-evaluates `-0.0` to +0, so those are `gradc_bits(0x7f800000u)` and
 * the like, read at run time.
 */
export function wgslFloatLiteral(value: number, support: SupportNeeds = new SupportNeeds()): string {
  const f = Math.fround(value);
  if (!Number.isFinite(f) || Object.is(f, -0)) return `${support.use('gradc_bits')}(${float32Bits(f)})`;
  let digits = shortestFloat32Digits(f);
  if (Math.abs(Number(digits)) > FLOAT32_MAX) digits = String(f);
  return atomic(/[.e]/.test(digits) ? digits : `${digits}.0`);
}

/**
 * WGSL's scalar meaning of each primitive on atomic operands: `less` → `select(0.0, 1.0,
 * x < y)`, `where` → `select(y, x, c != 0.0)` (select takes the false value first).
 * `maximum` is the support code's `gradc_maximum`, which propagates NaN like the reference;
 * WGSL's `max` returns the other operand. `pow` is WGSL's, undefined for x < 0 (the
 * reference gives NaN there except for integer y).
 */
export function wgslCodeForOp(support: SupportNeeds): CodeForOp {
  return {
    neg: prefix('-'),
    exp: call('exp'),
    log: call('log'),
    sqrt: call('sqrt'),
    tanh: call('tanh'),
    add: infix('+'),
    sub: infix('-'),
    mul: infix('*'),
    div: infix('/'),
    pow: call('pow'),
    maximum: supportCall(support, 'gradc_maximum'),
    less: ([x, y]) => `select(0.0, 1.0, ${x} < ${y})`,
    equal: ([x, y]) => `select(0.0, 1.0, ${x} == ${y})`,
    where: ([c, x, y]) => `select(${y}, ${x}, ${c} != 0.0)`,
  } satisfies CodeForOp;
}

/**
 * WGSL as one module (one kernel) writes it, recording the support functions its code calls in
 * `support`. Indices are u32 (what the invocation ids are); integer literals adapt to them.
 */
export function wgslLanguage(support: SupportNeeds = new SupportNeeds()): CStyleLanguage {
  return {
    name: 'wgsl',
    support,
    floatLiteral: (value) => wgslFloatLiteral(value, support),
    indexDiv: (dividend, divisor) => `(${dividend} / ${divisor})`,
    declareFloat: (name, value) => `let ${name}: f32 = ${value};`,
    declareIndex: (name, value) => `let ${name}: u32 = ${value};`,
    declareAccumulator: (name, init) => `var ${name}: f32 = ${init};`,
    declareCoordinate: (name, index) => `let ${name}: i32 = i32(${index});`,
    declareSignedIndex: (name, value) => `let ${name}: i32 = ${value};`,
    declareCondition: (name, value) => `let ${name}: bool = ${value};`,
    // select evaluates both operands: the index is clamped to 0 where the read is not taken.
    guardedRead: (buffer, condition, index, fill) =>
      `select(${fill}, ${buffer}[select(0, ${index}, ${condition})], ${condition})`,
    floatOfIndex: (index) => `f32(${index})`,
    randomUniform: (seed, stream, index, counter) =>
      `${support.use('gradc_uniform')}(${seed}u, ${stream}u, ${index}, u32(${counter}))`,
    stored: (value) => `${support.use('gradc_stored')}(${value})`,
    countedLoop: (v, count) => `for (var ${v}: u32 = 0u; ${v} < ${count}u; ${v}++) {`,
    // A WGSL module binds its buffers at module scope: the function reads them there.
    elementFunction: (name, _inputs, param) => `fn ${name}(${param}: u32) -> f32 {`,
    callElement: (name, _inputs, index) => `${name}(${index})`,
    codeForOp: wgslCodeForOp(support),
  };
}

// ---- view-models ----

export interface WgslRenderMeta extends ModuleMeta, Partial<WgslKernelOptions> {}

/** What a kernel's form depends on besides the kernel. */
export interface WgslKernelOptions {
  /** Workgroups per grid dimension (tests lower it to exercise 2-D grids). */
  readonly maxWorkgroupsPerDimension: number;
  /**
   * Rows and columns from which a product runs the blocked kernel (BLOCKED_MATMUL_MIN; the
   * products benchmark raises it to time the tiled kernel on the same products).
   */
  readonly blockedMatmulMin: number;
}

function kernelOptions(options: Partial<WgslKernelOptions>): WgslKernelOptions {
  return {
    maxWorkgroupsPerDimension: options.maxWorkgroupsPerDimension ?? MAX_WORKGROUPS_PER_DIMENSION,
    blockedMatmulMin: options.blockedMatmulMin ?? BLOCKED_MATMUL_MIN,
  };
}

interface ModuleView {
  readonly header: readonly string[];
  /** The specifier as a string literal. */
  readonly runtimeImport: string;
  /** The build id as a string literal. */
  readonly buildId: string;
  readonly kernels: readonly KernelEntryView[];
}

interface KernelEntryView {
  readonly name: string;
  readonly entryPoint: string;
  readonly workgroups: string;
  /** String literals. */
  readonly sources: readonly string[];
  /** The WGSL module, escaped for a template literal. */
  readonly code: string;
}

interface KernelView {
  readonly comment: readonly string[];
  readonly bindings: readonly string[];
  /** The support functions, when the entry point calls one. */
  readonly support: readonly string[];
  readonly entry: string;
}

interface EntryView {
  readonly entryPoint: string;
  readonly workgroupSize: number;
}

interface MapView extends EntryView {
  /** The element `i` of this invocation. */
  readonly index: string;
  readonly size: number;
  readonly body: readonly string[];
}

interface RowKernelView extends EntryView {
  /** The row `r` of this invocation. */
  readonly index: string;
  readonly rows: number;
  readonly body: readonly string[];
}

interface ReduceSerialView extends EntryView {
  readonly index: string;
  readonly outSize: number;
  readonly reduceSize: number;
  readonly base: string;
  readonly init: string;
  /** The first step `r` of the loop (1 when `init` already read step 0). */
  readonly start: number;
  readonly step: string;
  /** `out[o] = acc;`, or the epilogue's lines at `o` (`epilogueStore`). */
  readonly store: readonly string[];
}

interface ReduceTreeView extends EntryView {
  readonly threads: number;
  readonly halfThreads: number;
  readonly outputsPerGroup: number;
  /** This invocation's position among its output's `threads` invocations. */
  readonly thread: string;
  /** The output this invocation works on (may be past the last, then it only helps). */
  readonly slot: string;
  readonly lastOutput: number;
  readonly outSize: number;
  readonly reduceSize: number;
  readonly base: string;
  readonly init: string;
  readonly step: string;
  /** `partial[lane]` combined with its partner `h` invocations of the same output away. */
  readonly combine: string;
  /** `out[o] = partial[lane];`, or the epilogue's lines at `o` (`epilogueStore`). */
  readonly store: readonly string[];
}

interface MatmulDirectView extends EntryView, MatmulElements {
  /** Stores `acc` at element `o`, through the epilogue if the product has one. */
  readonly store: readonly string[];
  readonly index: string;
  readonly size: number;
  readonly n: number;
  readonly k: number;
}

interface MatmulBlockedView extends MatmulSliceRange, VectorTileStaging {
  readonly entryPoint: string;
  readonly store: readonly string[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

interface MatmulView extends EntryView, MatmulSliceRange, TileStaging {
  readonly store: readonly string[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly blockM: number;
  readonly blockN: number;
  readonly tileM: number;
  readonly tileN: number;
  readonly tileASize: number;
  readonly tileBSize: number;
  readonly accSize: number;
}

/** A rendered kernel: its WGSL module and the workgroup counts of its dispatch. */
export interface RenderedWgslKernel {
  readonly code: string;
  readonly workgroups: readonly [number, number, number];
}

// ---- the module ----

/** Renders every kernel of `schedule` into one TypeScript module of WGSL modules. */
export function renderWgsl(schedule: Schedule, meta: WgslRenderMeta): string {
  const kernels = allKernels(schedule);
  checkKernels(kernels);
  kernels.forEach(checkBindings);
  const options = kernelOptions(meta);
  const view: ModuleView = {
    header: moduleHeader(schedule, meta, 'rendered as WGSL for WebGPU', 'wgsl.ts'),
    runtimeImport: jsString(RUNTIME_MODULE),
    buildId: jsString(meta.buildId),
    kernels: kernels.map((kernel) => {
      const { code, workgroups } = renderWgslKernel(schedule, kernel, options);
      return {
        name: kernel.name,
        entryPoint: `'${WGSL_ENTRY_POINT}'`,
        workgroups: workgroups.join(', '),
        sources: kernel.sources.map(jsString),
        code: templateLiteralText(code),
      };
    }),
  };
  return template<ModuleView>('wgsl/module.hbs')(view);
}


/** A kernel may bind at most MAX_KERNEL_INPUTS inputs besides its output. */
function checkBindings(kernel: Kernel): void {
  if (kernel.inputs.length <= MAX_KERNEL_INPUTS) return;
  const computes = kernel.sources.map((s) => `\n  ${s}`).join('');
  throw new GradcError(
    `WGSL target: kernel ${kernel.name} reads ${kernel.inputs.length} buffers, but a WebGPU ` +
      `kernel may bind at most ${MAX_KERNEL_INPUTS} inputs besides its output ` +
      `(maxStorageBuffersPerShaderStage is ${MAX_STORAGE_BUFFERS_PER_STAGE} by default); ` +
      `it computes:${computes}`,
  );
}

/** One kernel as a complete WGSL module, with its dispatch size (its plan's, `planWgslKernel`). */
export function renderWgslKernel(
  schedule: Schedule,
  kernel: Kernel,
  options: Partial<WgslKernelOptions> = {},
): RenderedWgslKernel {
  const lang = wgslLanguage();
  const { entry, workgroups } = renderEntry(lang, kernel, kernelOptions(options));
  const view: KernelView = {
    comment: kernelComment(schedule, kernel),
    bindings: bindings(kernel),
    support: supportCode(lang.support, SUPPORT),
    entry: entry.trimEnd(),
  };
  return { code: template<KernelView>('wgsl/kernel.hbs')(view).trimEnd(), workgroups };
}

/** Support functions, each in a module only when its entry point calls it. */
const SUPPORT: readonly SupportFunction[] = [
  { name: 'gradc_bits', template: 'wgsl/support-bits.hbs' },
  { name: 'gradc_maximum', template: 'wgsl/support-maximum.hbs' },
  { name: 'gradc_mulhi', template: 'wgsl/support-mulhi.hbs' },
  { name: 'gradc_stored', template: 'wgsl/support-stored.hbs' },
  { name: 'gradc_uniform', template: 'wgsl/support-philox.hbs', calls: ['gradc_mulhi'] },
];

/**
 * `@group(0) @binding(0) var<storage, read> in0: array<f32>;` per input, then
 * `@group(0) @binding(n) var<storage, read_write> out: array<f32>;`.
 */
function bindings(kernel: Kernel): string[] {
  const inputs = kernel.inputs.map(
    (_, i) => `@group(0) @binding(${i}) var<storage, read> ${inputName(i)}: array<f32>;`,
  );
  const n = kernel.inputs.length;
  const output = `@group(0) @binding(${n}) var<storage, read_write> ${OUTPUT_NAME}: array<f32>;`;
  return [...inputs, output];
}

/** A kernel's entry point (and the functions before it) in the form its plan chose. */
function renderEntry(
  lang: CStyleLanguage,
  kernel: Kernel,
  options: WgslKernelOptions,
): { entry: string; workgroups: Dim3 } {
  const limit = options.maxWorkgroupsPerDimension;
  switch (kernel.kind) {
    case 'map': {
      if (kernel.rows) {
        const plan = planWgslRowKernel(kernel, kernel.rows, limit);
        return { entry: renderRowKernel(lang, kernel, kernel.rows, plan), workgroups: plan.workgroups };
      }
      const plan = planWgslMap(kernel, limit);
      return { entry: renderMap(lang, kernel, plan), workgroups: plan.workgroups };
    }
    case 'reduce': {
      const plan = planWgslReduce(kernel, limit);
      const folded = withFoldedEpilogue(kernel);
      const prologue = prologueFunction(lang, folded);
      const entry = renderReduce(lang, folded, plan);
      const withPrologue = prologue.length > 0 ? [...prologue, '', entry].join('\n') : entry;
      return { entry: withPrologue, workgroups: plan.workgroups };
    }
    case 'matmul': {
      const plan = planWgslMatmul(kernel, options);
      return { entry: renderMatmul(lang, withFoldedEpilogue(kernel), plan), workgroups: plan.workgroups };
    }
  }
}

// ---- launch plans ----

/** Workgroups along x, y and z of a dispatch. */
type Dim3 = [number, number, number];

/** A map kernel: one invocation per element, WORKGROUP_SIZE to a workgroup. */
export interface WgslMapPlan {
  readonly kind: 'map';
  readonly form: 'elements';
  readonly workgroups: Dim3;
}

/** A row kernel: one invocation per row, WORKGROUP_SIZE to a workgroup. */
export interface WgslRowKernelPlan {
  readonly kind: 'map';
  readonly form: 'rows';
  readonly rows: number;
  readonly workgroups: Dim3;
}

/**
 * A reduction: one invocation per output, WORKGROUP_SIZE to a workgroup (`serial`); or
 * `threads` invocations per output, `outputsPerGroup` outputs to a workgroup, combined by a tree
 * in workgroup memory (`tree`), neighbouring invocations working on neighbouring outputs when
 * `adjacent` (column sums: they read neighbouring elements), else on the same one.
 */
export type WgslReducePlan =
  | { readonly kind: 'reduce'; readonly form: 'serial'; readonly workgroups: Dim3 }
  | {
      readonly kind: 'reduce';
      readonly form: 'tree';
      readonly threads: number;
      readonly outputsPerGroup: number;
      readonly adjacent: boolean;
      readonly workgroups: Dim3;
    };

/**
 * How a matrix product runs: one invocation per output (`direct`, 256 consecutive outputs per
 * workgroup, recorded as a 1 x 256 tile); 16 x 16 invocations per workgroup, each a `blockM` x
 * `blockN` block strided by 16 (`tiled`); or 16 x 16 invocations each owning a contiguous 4 x 4
 * block read as vec4 (`blocked`). A tiled or blocked workgroup computes `tileM` x `tileN`
 * outputs, with one layer of workgroups along z per slice of k.
 */
export interface WgslMatmulPlan {
  readonly kind: 'matmul';
  readonly form: 'direct' | 'tiled' | 'blocked';
  readonly blockM: number;
  readonly blockN: number;
  readonly tileM: number;
  readonly tileN: number;
  readonly workgroups: Dim3;
}

/**
 * How a kernel runs on WebGPU: its form and the workgroups of its dispatch, decided from the
 * kernel's sizes and layout alone, before any text is written.
 */
export type WgslPlan = WgslMapPlan | WgslRowKernelPlan | WgslReducePlan | WgslMatmulPlan;

/** The plan `renderWgslKernel` renders `kernel` in. */
export function planWgslKernel(kernel: Kernel, options: Partial<WgslKernelOptions> = {}): WgslPlan {
  const limit = kernelOptions(options).maxWorkgroupsPerDimension;
  switch (kernel.kind) {
    case 'map':
      return kernel.rows ? planWgslRowKernel(kernel, kernel.rows, limit) : planWgslMap(kernel, limit);
    case 'reduce':
      return planWgslReduce(kernel, limit);
    case 'matmul':
      return planWgslMatmul(kernel, options);
  }
}

/** `{ size: 150000 }` → 586 workgroups of 256 invocations. */
export function planWgslMap(kernel: MapKernel, limit = MAX_WORKGROUPS_PER_DIMENSION): WgslMapPlan {
  const workgroups = planGrid(kernel, Math.ceil(kernel.size / WORKGROUP_SIZE), limit);
  return { kind: 'map', form: 'elements', workgroups };
}

/** A row kernel over 600 rows of 10 → 3 workgroups of 256 invocations, one per row. */
export function planWgslRowKernel(
  kernel: MapKernel,
  rowScalars: RowScalars,
  limit: number = MAX_WORKGROUPS_PER_DIMENSION,
): WgslRowKernelPlan {
  const rows = kernel.size / rowScalars.perRow;
  const workgroups = planGrid(kernel, Math.ceil(rows / WORKGROUP_SIZE), limit);
  return { kind: 'map', form: 'rows', rows, workgroups };
}

/**
 * Invocations per output of a reduction: one (a serial loop) up to twice
 * REDUCE_ELEMENTS_PER_INVOCATION elements, else about one per REDUCE_ELEMENTS_PER_INVOCATION
 * elements, a power of two up to the workgroup; at most 16 when outputs are contiguous and
 * each reduces strided elements (column sums), so that neighbouring invocations read
 * neighbouring elements.
 */
export function reduceThreads(kernel: ReduceKernel): number {
  // Short rows fold serially, as a row kernel folds them (compiler/rows.ts).
  if (kernel.reduceSize <= 2 * REDUCE_ELEMENTS_PER_INVOCATION || shortRows(kernel)) return 1;
  const wanted = Math.ceil(kernel.reduceSize / REDUCE_ELEMENTS_PER_INVOCATION);
  let threads = 1;
  while (threads < wanted && threads < WORKGROUP_SIZE) threads *= 2;
  if (outputsAdjacent(kernel) && kernel.outSize >= 16) threads = Math.min(threads, 16);
  return threads;
}

/**
 * Sum over axis 1 of [600,10] → serial, 3 workgroups; sum over axis 0 of [600,250] → a tree of
 * 16 invocations per output, 16 adjacent outputs to a workgroup, 16 workgroups.
 */
export function planWgslReduce(
  kernel: ReduceKernel,
  limit: number = MAX_WORKGROUPS_PER_DIMENSION,
): WgslReducePlan {
  const threads = reduceThreads(kernel);
  if (threads === 1) {
    const workgroups = planGrid(kernel, Math.ceil(kernel.outSize / WORKGROUP_SIZE), limit);
    return { kind: 'reduce', form: 'serial', workgroups };
  }
  const outputsPerGroup = WORKGROUP_SIZE / threads;
  return {
    kind: 'reduce',
    form: 'tree',
    threads,
    outputsPerGroup,
    adjacent: outputsAdjacent(kernel) && outputsPerGroup > 1,
    workgroups: planGrid(kernel, Math.ceil(kernel.outSize / outputsPerGroup), limit),
  };
}

/**
 * From this many rows and columns on, a product too large to run direct runs the blocked
 * kernel: where the tiled one would give each invocation a 4 x 4 block of a 64 x 64 tile
 * (`blockFor`), strided by 16, the blocked one gives it four neighbouring rows and columns, so
 * that its operands come from workgroup memory as vec4 (2 loads for 16 multiply-adds, against
 * 8). CUDA's blocked kernel starts at 64 (its tiled one keeps 2 x 2 blocks up to 1,024 rows).
 */
export const BLOCKED_MATMUL_MIN = 33;

/** Register block rows (or columns) per invocation for an output extent: 1, 2 or 4. */
function blockFor(extent: number): number {
  return extent > 32 ? 4 : extent > 16 ? 2 : 1;
}

/**
 * The form and dispatch of a matrix product: direct up to DIRECT_MATMUL_MAX_WORK multiply-adds
 * (unless split), blocked from BLOCKED_MATMUL_MIN rows and columns, tiled otherwise.
 * `{ m: 600, n: 250, k: 784 }` → blocked, 64 x 64 tiles, workgroups [4, 10, 1];
 * `{ m: 16, n: 300, k: 100 }` → tiled, 1 x 4 blocks, 16 x 64 tiles, workgroups [5, 1, 1].
 */
export function planWgslMatmul(
  kernel: MatmulKernel,
  options: Partial<WgslKernelOptions> = {},
): WgslMatmulPlan {
  const { maxWorkgroupsPerDimension: limit, blockedMatmulMin } = kernelOptions(options);
  const { m, n, k, kSlices } = kernel;
  if (m * n * k <= DIRECT_MATMUL_MAX_WORK && kSlices === 1) {
    const workgroups = planGrid(kernel, Math.ceil((m * n) / WORKGROUP_SIZE), limit);
    return { kind: 'matmul', form: 'direct', blockM: 1, blockN: 1, tileM: 1, tileN: WORKGROUP_SIZE, workgroups };
  }
  const blockM = blockFor(m);
  const blockN = blockFor(n);
  const form = Math.min(m, n) >= blockedMatmulMin && blockM === 4 && blockN === 4 ? 'blocked' : 'tiled';
  const [tileM, tileN] = [16 * blockM, 16 * blockN];
  const workgroups: Dim3 = [Math.ceil(n / tileN), Math.ceil(m / tileM), kSlices];
  if (workgroups.some((count) => count > limit)) {
    throw tooManyWorkgroups(kernel, workgroups.join(' x '), limit);
  }
  return { kind: 'matmul', form, blockM, blockN, tileM, tileN, workgroups };
}

/** `groups` workgroups as an x × y grid within `limit` per dimension. */
function planGrid(kernel: Kernel, groups: number, limit: number): Dim3 {
  if (groups <= limit) return [groups, 1, 1];
  const y = Math.ceil(groups / limit);
  if (y > limit) throw tooManyWorkgroups(kernel, `${groups}`, limit);
  return [Math.ceil(groups / y), y, 1];
}

function tooManyWorkgroups(kernel: Kernel, groups: string, limit: number): GradcError {
  return new GradcError(
    `WGSL target: kernel ${kernel.name} needs ${groups} workgroups, past ${limit} per ` +
      'dimension of the dispatch (maxComputeWorkgroupsPerDimension)',
  );
}

// ---- kernels ----

/** The linear index of a workgroup (`per` = 1) or invocation (`per` = its size) in a grid. */
function linearIndex(grid: readonly number[], id: string, per: number): string {
  return grid[1] === 1 ? `${id}.x` : `${id}.x + ${id}.y * ${grid[0] * per}u`;
}

/**
 * A map kernel, one invocation per element: `{ size: 150000, expr: add(load 0, load 1 view
 * {[600,250],[0,1]}) }` → `let i = gid.x; if (i >= 150000u) { return; }` /
 * `out[i] = in0[i] + in1[i % 250];` in 586 workgroups of 256.
 */
function renderMap(lang: CStyleLanguage, kernel: MapKernel, plan: WgslMapPlan): string {
  const folded: MapKernel = { ...kernel, expr: foldConstants(kernel.expr) };
  const { body } = mapParts(lang, folded, { kind: 'flat', size: kernel.size });
  return template<MapView>('wgsl/map.hbs')({
    entryPoint: WGSL_ENTRY_POINT,
    workgroupSize: WORKGROUP_SIZE,
    index: linearIndex(plan.workgroups, 'gid', WORKGROUP_SIZE),
    size: kernel.size,
    body,
  });
}

/** A row kernel: one invocation per row, which computes the row's values and then its elements. */
function renderRowKernel(
  lang: CStyleLanguage,
  kernel: MapKernel,
  rowScalars: RowScalars,
  plan: WgslRowKernelPlan,
): string {
  const folded: MapKernel = { ...kernel, expr: foldConstants(kernel.expr) };
  return template<RowKernelView>('wgsl/row-kernel.hbs')({
    entryPoint: WGSL_ENTRY_POINT,
    workgroupSize: WORKGROUP_SIZE,
    index: linearIndex(plan.workgroups, 'gid', WORKGROUP_SIZE),
    rows: plan.rows,
    body: rowKernelLines(lang, folded, foldedRows(rowScalars), 'r'),
  });
}

/** Per-row values with their constants folded (`foldConstants`). */
function foldedRows(rows: RowScalars): RowScalars {
  return { ...rows, scalars: rows.scalars.map((s) => ({ ...s, expr: foldConstants(s.expr) })) };
}

/**
 * Applies of constants only, folded in float32 arithmetic: WGSL evaluates such expressions
 * when it creates the shader and rejects one that overflows (`exp(100.0)`, `1.0 / 0.0`).
 * `add(load 0, mul(const 2, const 3))` → `add(load 0, const 6)`.
 */
function foldConstants(expr: Expr): Expr {
  return foldExpr<Expr>(expr, (e, args) => {
    if (e.op !== 'apply') return withArgs(e, args);
    const values = args.flatMap((a) => (a.op === 'const' ? [Math.fround(a.value)] : []));
    if (values.length < args.length) return { ...e, args };
    const op = OPS[e.kind];
    if (!isElementwise(op)) throw new Error(`wgsl renderer: ${e.kind} is not elementwise`);
    return { op: 'const', value: Math.fround(op.scalar(...values)) };
  });
}

/**
 * A reduction in the form `planWgslReduce` chose. Serial (sum over axis 1 of [600,10]), one
 * invocation per output: `let base: u32 = o * 10; var acc: f32 = 0.0;` /
 * `for (var r = 0u; r < 10u; r++) { acc = acc + in0[base + r]; }` / `out[o] = acc;`.
 * A tree (sum over axis 0 of [600,250]), 16 invocations per output, each summing every 16th
 * element, `partial[lane] = acc;`, then a tree over `partial` with `workgroupBarrier()`.
 * A max starts from the output's first element instead of -inf.
 */
function renderReduce(lang: CStyleLanguage, kernel: ReduceKernel, plan: WgslReducePlan): string {
  // A max starts from its first element (so its loop starts at step 1), a sum from 0.
  const first = kernel.op === 'max' && kernel.reduceSize > 0 ? reducedElement(lang, kernel, 'base') : undefined;
  const { base, init, step } = reduceParts(lang, kernel, first);
  const { outSize, reduceSize } = kernel;
  const common = { entryPoint: WGSL_ENTRY_POINT, workgroupSize: WORKGROUP_SIZE, outSize, reduceSize, base, init, step };
  if (plan.form === 'serial') {
    return template<ReduceSerialView>('wgsl/reduce-serial.hbs')({
      ...common,
      index: linearIndex(plan.workgroups, 'gid', WORKGROUP_SIZE),
      start: first === undefined ? 0 : 1,
      store: epilogueStore(lang, kernel, 'o', 'acc'),
    });
  }
  const { threads, outputsPerGroup: perGroup } = plan;
  const group = linearIndex(plan.workgroups, 'wid', 1);
  const [thread, within, span] = plan.adjacent
    ? [`lane / ${perGroup}u`, `lane % ${perGroup}u`, perGroup]
    : [threads === WORKGROUP_SIZE ? 'lane' : `lane % ${threads}u`, `lane / ${threads}u`, 1];
  const partner = span === 1 ? 'partial[lane + h]' : `partial[lane + h * ${span}u]`;
  const combine = kernel.op === 'max' ? lang.codeForOp.maximum : lang.codeForOp.add;
  return template<ReduceTreeView>('wgsl/reduce-tree.hbs')({
    ...common,
    threads,
    halfThreads: threads / 2,
    outputsPerGroup: perGroup,
    thread,
    slot: perGroup === 1 ? group : `${atomicIndex(group)} * ${perGroup}u + ${within}`,
    lastOutput: Math.max(0, outSize - 1),
    combine: combine(['partial[lane]', partner]),
    store: epilogueStore(lang, kernel, 'o', 'partial[lane]'),
  });
}

/** `kernel` with the constants of its epilogue folded as a map kernel's are (`foldConstants`). */
function withFoldedEpilogue<K extends EpilogueKernel>(kernel: K): K {
  const folded = kernel.epilogue ? { ...kernel, epilogue: foldConstants(kernel.epilogue) } : kernel;
  if (folded.kind !== 'reduce' || !folded.prologue) return folded;
  const { expr, rows } = folded.prologue;
  return { ...folded, prologue: { expr: foldConstants(expr), ...(rows ? { rows: foldedRows(rows) } : {}) } };
}

/** `wid.x` as is, `wid.x + wid.y * 7u` in parentheses. */
function atomicIndex(index: string): string {
  return index.includes(' ') ? `(${index})` : index;
}

/**
 * A matrix product in the form `planWgslMatmul` chose. A small one, `{ m: 5, n: 7, k: 3 }` →
 * one invocation per output: `let i = o / 7u; let j = o % 7u;` /
 * `for (var p = 0u; p < 3u; p++) { acc += in0[i * 3u + p] * in1[p * 7u + j]; }`.
 */
function renderMatmul(lang: CStyleLanguage, kernel: MatmulKernel, plan: WgslMatmulPlan): string {
  if (plan.form === 'blocked') return renderBlockedMatmul(lang, kernel);
  if (plan.form === 'tiled') return renderTiledMatmul(lang, kernel, plan);
  const { n, k } = kernel;
  return template<MatmulDirectView>('wgsl/matmul-direct.hbs')({
    entryPoint: WGSL_ENTRY_POINT,
    workgroupSize: WORKGROUP_SIZE,
    index: linearIndex(plan.workgroups, 'gid', WORKGROUP_SIZE),
    size: kernel.m * n,
    n,
    k,
    ...matmulElements(lang, kernel),
    store: epilogueStore(lang, kernel, 'o', 'acc'),
  });
}

/**
 * A tiled matrix product `{ m: 16, n: 300, k: 100, transA: false, transB: false }` →
 * 1 x 4 blocks, 16 x 64 tiles, invocation (x, y) owning row y and columns x + 16 c, A(i, p) =
 * `in0[i * 100u + p]`, B(p, j) = `in1[p * 300u + j]`; transA reads `in0[p * 16u + i]`,
 * transB `in1[j * 100u + p]`. Tiles are staged so that neighbouring invocations load
 * neighbouring elements in either layout; out-of-range elements are staged as zeros.
 */
function renderTiledMatmul(lang: CStyleLanguage, kernel: MatmulKernel, plan: WgslMatmulPlan): string {
  const { m, n, k } = kernel;
  const { blockM, blockN, tileM, tileN } = plan;
  const range = matmulSliceRange(lang, kernel, 'wid.z', 'K');
  return template<MatmulView>('wgsl/matmul-tiled.hbs')({
    entryPoint: WGSL_ENTRY_POINT,
    workgroupSize: WORKGROUP_SIZE,
    m,
    n,
    k,
    blockM,
    blockN,
    tileM,
    tileN,
    tileASize: 16 * (tileM + 1),
    tileBSize: 16 * (tileN + 1),
    accSize: blockM * blockN,
    ...tileStaging(lang, kernel, tileM, tileN),
    ...range,
    store: tiledMatmulStore(lang, kernel, range.outBase, 'acc[r * BLOCK_N + c]', 'N'),
  });
}

/**
 * A blocked matrix product `{ m: 600, n: 250, k: 784 }` → 64 x 64 tiles, 16 x 16 invocations;
 * invocation (x, y) owns rows 4y..4y+3 and columns 4x..4x+3 of its tile and reads its operands
 * from workgroup memory as one vec4 of A and one of B per step of k, the tiles staged as vec4
 * too (four rows of A or columns of B per invocation, `vectorTileStaging`). Split products run
 * their slices along the grid's z, as the tiled ones do.
 */
function renderBlockedMatmul(lang: CStyleLanguage, kernel: MatmulKernel): string {
  const { m, n, k } = kernel;
  const range = matmulSliceRange(lang, kernel, 'wid.z', 'K');
  return template<MatmulBlockedView>('wgsl/matmul-blocked.hbs')({
    entryPoint: WGSL_ENTRY_POINT,
    m,
    n,
    k,
    ...vectorTileStaging(lang, kernel),
    ...range,
    store: tiledMatmulStore(lang, kernel, range.outBase, 'acc[r][c]', 'N'),
  });
}
