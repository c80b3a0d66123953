/**
 * The C renderer: a whole Schedule becomes one C file (C99 + OpenMP, GNU vector extensions in
 * the matrix product) with one exported `void <kernel>(const float *restrict in0, ...,
 * float *restrict out)` per kernel, plus `gradc_alloc`/`gradc_free` for the native runtime.
 * Compile with `-O3 -march=native -fopenmp -shared -fPIC`.
 *
 * Maps, row kernels and reductions are the function renderer's (function-kernels.ts, through
 * templates/c/); this file holds C's language, its OpenMP pragmas, reductions over adjacent
 * outputs a row at a time, and matrix products as calls of the packed `gradc_matmul` with the
 * packers and epilogue functions they pass it.
 */
import type { WindowView } from '../../../ir/layout.ts';
import { isIdentityAxes, simplifyView, stridesOf, windowAxisRange } from '../../../ir/layout.ts';
import type { Expr, MapKernel, MatmulKernel, ReduceKernel, Schedule } from '../kernel-ir.ts';
import type { CFunctionLanguage, CodeForOp } from './language.ts';
import {
  OUTPUT_NAME,
  atomic,
  call,
  conditionalRead,
  infix,
  inputName,
  inputNames,
  prefix,
  shortestFloat32Digits,
} from './language.ts';
import { affineText, isSimpleIndex } from './indexing.ts';
import { epilogueStore, loadsOf } from './expr.ts';
import { splitCoordinates, windowElement } from './windows.ts';
import { mapParts } from './loops.ts';
import type { ReduceColumns } from './reductions.ts';
import { reduceColumnParts, reduceColumns } from './reductions.ts';
import { matmulSlicing, matmulStrides } from './matmul-parts.ts';
import type { ModuleMeta } from './module-text.ts';
import { moduleHeader } from './module-text.ts';
import type { FunctionKernelView, FunctionTarget, OuterLoop } from './function-kernels.ts';
import { renderFunctionKernels } from './function-kernels.ts';
import type { SupportFunction } from './support.ts';
import { SupportNeeds, supportCall, supportCode } from './support.ts';
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
 * propagates NaN like the reference and vectorises (libm's `fmaxf` is a call per element);
 * its calls are recorded in `support`.
 */
export function cCodeForOp(support: SupportNeeds): CodeForOp {
  return {
    neg: prefix('-'),
    exp: call('expf'),
    log: call('logf'),
    sqrt: call('sqrtf'),
    tanh: call('tanhf'),
    add: infix('+'),
    sub: infix('-'),
    mul: infix('*'),
    div: infix('/'),
    pow: call('powf'),
    maximum: supportCall(support, 'gradc_maximum'),
    less: ([x, y]) => `${x} < ${y} ? 1.0f : 0.0f`,
    equal: ([x, y]) => `${x} == ${y} ? 1.0f : 0.0f`,
    where: ([c, x, y]) => `${c} != 0.0f ? ${x} : ${y}`,
  } satisfies CodeForOp;
}

/** C as one module writes it, recording the support functions its code calls in `support`. */
export function cLanguage(support: SupportNeeds = new SupportNeeds()): CFunctionLanguage {
  return {
    name: 'c',
    support,
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
      `${support.use('gradc_uniform')}(${seed}u, ${stream}u, (uint32_t)${index}, (uint32_t)${counter})`,
    inputParam: (name) => `const float *restrict ${name}`,
    outputParam: (name) => `float *restrict ${name}`,
    signature: (name, params) => `GRADC_EXPORT void ${name}(${params}) {`,
    stored: (value) => value,
    countedLoop: (v, count) => `for (int ${v} = 0; ${v} < ${count}; ${v}++) {`,
    elementFunction: (name, inputs, param) =>
      `static inline float ${name}(\n${[...inputNames(inputs).map((n) => `  const float *restrict ${n}`), `  const int ${param}`].join(',\n')}\n) {`,
    callElement: (name, inputs, index) => `${name}(${[...inputNames(inputs), index].join(', ')})`,
    codeForOp: cCodeForOp(support),
  };
}

export type CRenderMeta = ModuleMeta;

/**
 * Support functions: `gradc_maximum` is in the fixed part (templates/c/support.hbs), Philox after
 * it only when a kernel draws random numbers.
 */
const SUPPORT: readonly SupportFunction[] = [
  { name: 'gradc_maximum' },
  { name: 'gradc_uniform', template: 'c/support-philox.hbs' },
];

interface ModuleView {
  readonly header: readonly string[];
  readonly support: string;
  readonly kernels: readonly string[];
}

type KernelView = FunctionKernelView;

/** A reduction in rows of adjacent outputs, accumulated a row at a time (`ReduceColumns`). */
interface ReduceColumnsView extends KernelView {
  readonly pragmas: readonly string[];
  readonly rows: number;
  readonly cols: number;
  readonly reduceSize: number;
  readonly base: string;
  readonly init: string;
  readonly step: string;
  /**
   * The row's accumulators `acc`: the row of out itself, or a local row when the reduction
   * updates out in place (out keeps the old values until the epilogue).
   */
  readonly accumulators: string;
  /** After a row's r loop, a loop that applies the epilogue over the row (`columnEpilogue`); none without. */
  readonly epilogue: readonly string[];
}

interface MatmulView extends KernelView {
  /** An implicit GEMM's packer of A and an epilogue's function, before the kernel. */
  readonly packer: readonly string[];
  readonly notes: readonly string[];
  readonly body: readonly string[];
}

/** Renders every kernel of `schedule` into one C translation unit. */
export function renderC(schedule: Schedule, meta: CRenderMeta): string {
  const lang = cLanguage();
  const kernels = renderFunctionKernels(cTarget(lang), schedule);
  const fixed = template<object>('c/support.hbs')({}).trimEnd();
  const view: ModuleView = {
    header: moduleHeader(schedule, meta, 'rendered for C with OpenMP', 'c.ts', [
      'Build: cc -O3 -march=native -fopenmp -shared -fPIC',
    ]),
    support: [fixed, ...supportCode(lang.support, SUPPORT)].join('\n\n'),
    kernels,
  };
  return template<ModuleView>('c/module.hbs')(view);
}

/**
 * C as a function target (function-kernels.ts): OpenMP over the outer loop when the work pays
 * for waking the thread team, reductions over adjacent outputs a row at a time, and products
 * through the packed `gradc_matmul`.
 */
function cTarget(lang: CFunctionLanguage): FunctionTarget {
  return {
    lang,
    templates: 'c',
    loopPragmas: ompPragmas,
    renderReduce: (base, kernel) => {
      const columns = reduceColumns(kernel);
      if (!columns) return undefined;
      const view = reduceColumnsView(lang, base, kernel, columns);
      return template<ReduceColumnsView>('c/reduce-columns.hbs')(view);
    },
    renderMatmul: (base, kernel) => template<MatmulView>('c/matmul.hbs')(matmulView(lang, base, kernel)),
  };
}

/**
 * `#pragma omp ...` before an outer loop of `work`, the thread team only when it pays: a loop
 * over elements is `parallel for simd` (a `simd` loop on one thread), nested loops collapse
 * their outer two, rows run `parallel for`.
 */
function ompPragmas(loop: OuterLoop, work: number): string[] {
  const parallel = work >= PARALLEL_MIN_WORK;
  switch (loop.kind) {
    case 'elements':
      return [parallel ? '#pragma omp parallel for simd' : '#pragma omp simd'];
    case 'nested':
      return parallel ? [loop.depth > 1 ? '#pragma omp parallel for collapse(2)' : '#pragma omp parallel for'] : [];
    case 'rows':
      return parallel ? ['#pragma omp parallel for'] : [];
  }
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
  lang: CFunctionLanguage,
  base: KernelView,
  kernel: ReduceKernel,
  { rows, cols }: ReduceColumns,
): ReduceColumnsView {
  const work = kernel.outSize * kernel.reduceSize;
  return {
    ...base,
    ...reduceColumnParts(lang, kernel, cols),
    pragmas: rows > 1 ? ompPragmas({ kind: 'rows' }, work) : [],
    rows,
    cols,
    reduceSize: kernel.reduceSize,
    accumulators: kernel.inPlace
      ? `float acc[${cols}] __attribute__((aligned(64)));`
      : `float *const acc = ${OUTPUT_NAME} + ob * ${cols};`,
    epilogue: columnEpilogue(lang, kernel, cols),
  };
}

/**
 * A row's epilogue, once its sums are in `acc` (row `ob` of out): each output `oe` goes through
 * the epilogue while the row is in cache, with `acc[j]` the reduction's value there:
 * `#pragma omp simd` / `for (int j = 0; j < 250; j++) { const int oe = ob * 250 + j;` /
 * `out[oe] = in1[oe] - in2[0] * acc[j]; }`. None without an epilogue.
 */
function columnEpilogue(lang: CFunctionLanguage, kernel: ReduceKernel, cols: number): string[] {
  if (!kernel.epilogue) return [];
  return [
    '#pragma omp simd',
    `for (int j = 0; j < ${cols}; j++) {`,
    `  ${lang.declareIndex('oe', `ob * ${cols} + j`)}`,
    ...epilogueStore(lang, kernel, 'oe', 'acc[j]').map((line) => `  ${line}`),
    '}',
  ];
}

/**
 * A matrix product calls the packed, blocked `gradc_matmul` with the operands' strides:
 * `{ m: 600, n: 250, k: 784, transA: false, transB: true }` →
 * `gradc_matmul(in0, in1, out, 600, 250, 784, 784, 1, 1, 784);`. A split product calls
 * `gradc_matmul_slices`, which runs the slices of k side by side. An implicit GEMM (`aWindow`)
 * passes the packer of A that `windowPacker` writes for it.
 */
function matmulView(lang: CFunctionLanguage, base: KernelView, kernel: MatmulKernel): MatmulView {
  const { ars, acs, brs, bcs } = matmulStrides(kernel);
  const { m, n, k } = kernel;
  const strides = [ars, acs, brs, bcs].join(', ');
  const packer = [
    ...(kernel.aWindow ? windowPacker(lang, kernel, kernel.aWindow) : []),
    ...(kernel.epilogue ? epilogueFunction(lang, kernel, kernel.epilogue) : []),
  ];
  const packA = kernel.aWindow ? packerName(kernel) : 'gradc_pack_a_tile';
  if (kernel.kSlices > 1) {
    const { slices, sliceK, bStep, outStep } = matmulSlicing(kernel);
    return {
      ...base,
      packer,
      notes: [`${slices} slices of k, ${sliceK} each: slice s is the product over p in [s * ${sliceK}, (s + 1) * ${sliceK}).`],
      body: [`gradc_matmul_slices(in0, in1, out, ${slices}, ${bStep}, ${outStep}, ${m}, ${n}, ${sliceK}, ${strides}, ${packA});`],
    };
  }
  if (!kernel.aWindow && !kernel.epilogue) {
    return { ...base, packer, notes: [], body: [`gradc_matmul(in0, in1, out, ${m}, ${n}, ${k}, ${strides});`] };
  }
  const inputs = kernel.inputs.map((_, i) => inputName(i));
  const epilogue = kernel.epilogue ? [epilogueName(kernel), 'in'] : ['NULL', 'NULL'];
  return {
    ...base,
    packer,
    notes: [],
    body: [
      ...(kernel.epilogue ? [`const float *const in[] = {${inputs.join(', ')}};`] : []),
      `gradc_matmul_packed(in0, in1, out, ${m}, ${n}, ${k}, ${strides}, ${packA}, ${epilogue.join(', ')}, ${kernel.inPlace ? 1 : 0});`,
    ],
  };
}

function epilogueName(kernel: MatmulKernel): string {
  return `${kernel.name}_epilogue`;
}

/**
 * The epilogue of a product as a `gradc_epilogue`: rows i0 .. i0 + rows - 1 of out, where the
 * product is stored, through the fused elementwise work, the rows loop of a map kernel (a
 * strided load's base hoisted per row, a simd loop over the row) when every strided load's
 * innermost axis is a multiple of the row, else one loop over the rows' elements. An in-place
 * product's epilogue reads the product from the row tile's scratch `p`, as one more input after
 * the kernel's (`inN[i]`, `inN` pointing i0 rows before `p`), and the old value from `out`,
 * where a map kernel's in-place update reads it.
 */
function epilogueFunction(lang: CFunctionLanguage, kernel: MatmulKernel, epilogue: Expr): string[] {
  const { m, n } = kernel;
  const { name, output, sources } = kernel;
  // The product as input number kernel.inputs.length (`inN`), the old value as the output.
  const inputs = kernel.inPlace ? [...kernel.inputs, output] : kernel.inputs;
  const map: MapKernel = { kind: 'map', name, inputs, output, sources, size: m * n, expr: epilogue };
  const rowsFit = loadsOf(epilogue).every(({ view }) => {
    const axes = view ? simplifyView(view) : [];
    return isIdentityAxes(axes) || axes[axes.length - 1].size % n === 0;
  });
  const { bases, body } = mapParts(lang, map, rowsFit ? { kind: 'rows', rows: m, cols: n } : { kind: 'flat', size: m * n });
  const read = [...new Set(loadsOf(epilogue).map((l) => l.input))].filter((input) => input < kernel.inputs.length).sort((a, b) => a - b);
  const loops = rowsFit
    ? [
        '  for (int o = i0; o < i0 + rows; o++) {',
        ...bases.map((line) => `    ${line}`),
        '    #pragma omp simd',
        `    for (int j = 0; j < ${n}; j++) {`,
        `      const int i = o * ${n} + j;`,
        ...body.map((line) => `      ${line}`),
        '    }',
        '  }',
      ]
    : [
        '  #pragma omp simd',
        `  for (int i = i0 * ${n}; i < (i0 + rows) * ${n}; i++) {`,
        ...body.map((line) => `    ${line}`),
        '  }',
      ];
  const product = kernel.inPlace
    ? [`  const float *restrict ${inputName(kernel.inputs.length)} = p - (size_t)i0 * ${n};`]
    : ['  (void)p;'];
  const about = kernel.inPlace
    ? 'rows i0 .. i0 + rows - 1 of out, which hold the old value, from their product in p'
    : 'rows i0 .. i0 + rows - 1 of out, where the product is stored';
  return [
    `/* The epilogue of ${kernel.name}: ${about}. */`,
    `static void ${epilogueName(kernel)}(float *restrict out, const float *restrict p,`,
    `${' '.repeat(13 + epilogueName(kernel).length)}const float *const *in, int i0, int rows) {`,
    ...(read.length === 0 ? ['  (void)in;'] : read.map((input) => `  const float *restrict ${inputName(input)} = in[${input}];`)),
    ...product,
    ...loops,
    '}',
    '',
  ];
}

function packerName(kernel: MatmulKernel): string {
  return `${kernel.name}_pack_a`;
}

/**
 * The packer of an implicit GEMM's A, a `gradc_pack_a`: ap[q][r] = A(i0 + r, pc + q), read
 * through the window instead of from a patches buffer. A's storage index is i · k + p (or
 * p · m + i when A is transposed); each output coordinate of the window comes from i or from p
 * alone (`splitCoordinates`), so each input coordinate is a row part plus a step part, and so is
 * the input index. The row parts are computed once per tile into small arrays, the step parts
 * once per step: an element costs an add, the checks padding needs, and the load. Rows past
 * `rows` are zero. A window that does not split so (or divides) reads each element whole.
 */
function windowPacker(lang: CFunctionLanguage, kernel: MatmulKernel, window: WindowView): string[] {
  const parts = separableParts(lang, kernel, window) ?? wholeElementParts(lang, kernel, window);
  const name = packerName(kernel);
  return [
    `/* A(i, p) of ${kernel.name}, read through its window and packed as gradc_pack_a_tile packs. */`,
    `static void ${name}(const float *restrict in0, float *restrict ap, int i0, int rows,`,
    `${' '.repeat(13 + name.length)}int pc, int kc, int ars, int acs) {`,
    '  (void)ars;',
    '  (void)acs;',
    ...parts.rowArrays.map((line) => `  int ${line}[GRADC_MR];`),
    ...(parts.rowDecls.length > 0
      ? ['  for (int r = 0; r < rows; r++) {', '    const int i = i0 + r;', ...parts.rowDecls.map((l) => `    ${l}`), '  }']
      : []),
    '  for (int q = 0; q < kc; q++) {',
    '    const int p = pc + q;',
    ...parts.stepDecls.map((line) => `    ${line}`),
    '    for (int r = 0; r < rows; r++) {',
    ...parts.elementDecls.map((line) => `      ${line}`),
    `      ap[q * GRADC_MR + r] = ${parts.element};`,
    '    }',
    '    for (int r = rows; r < GRADC_MR; r++) ap[q * GRADC_MR + r] = 0.0f;',
    '  }',
    '}',
    '',
  ];
}

/** The statements of a window packer: per tile row, per step, per element. */
interface PackerParts {
  /** Arrays of GRADC_MR ints, one value per row of the tile. */
  readonly rowArrays: readonly string[];
  /** Statements that fill row `r`'s entries (`i` is its row of A). */
  readonly rowDecls: readonly string[];
  /** Statements per step (`p` is its step of k). */
  readonly stepDecls: readonly string[];
  readonly elementDecls: readonly string[];
  readonly element: string;
}

/** Each element read whole: its index `i * ars + p * acs` decoded into coordinates. */
function wholeElementParts(lang: CFunctionLanguage, kernel: MatmulKernel, window: WindowView): PackerParts {
  const { ars, acs } = matmulStrides(kernel);
  const read = windowElement(lang, inputName(0), window, `i * ${ars} + p * ${acs}`);
  return { rowArrays: [], rowDecls: [], stepDecls: [], elementDecls: ['const int i = i0 + r;', ...read.decls], element: read.element };
}

/**
 * Input coordinate j of the window is row_j + step_j (its terms over row coordinates plus its
 * offset, and its terms over step coordinates), the index the sum of both parts times the
 * input's strides: `row_base[r]` and `step_base`; only the axes padding can take out of the
 * input are checked, on `row_n<j>[r] + step_n<j>`. Undefined where the window does not split.
 */
function separableParts(lang: CFunctionLanguage, kernel: MatmulKernel, window: WindowView): PackerParts | undefined {
  const { m, k, transA } = kernel;
  const [major, minor] = transA ? ['p', 'i'] : ['i', 'p'];
  const coordinates = splitCoordinates(lang, window.outShape, major, minor, transA ? m : k);
  if (!coordinates || window.axes.some((axis) => axis.divisor !== 1 || axis.terms.length === 0)) return undefined;
  const [row, step] = transA ? [coordinates.minor, coordinates.major] : [coordinates.major, coordinates.minor];
  const rowAxes = new Set(row.map((c) => c.axis));
  const inStrides = stridesOf(window.inShape);
  const rowIndex: (readonly [string, number])[] = [];
  const stepIndex: (readonly [string, number])[] = [];
  const rowArrays = ['row_base'];
  const rowDecls = row.map(({ axis, text }) => `const int o${axis} = ${text};`);
  const stepDecls = step.map(({ axis, text }) => `const int o${axis} = ${text};`);
  const elementDecls: string[] = [];
  const checks: string[] = [];
  let offset = 0;
  for (const [j, axis] of window.axes.entries()) {
    // A coordinate along an axis of one element is 0: its terms drop out.
    const terms = axis.terms.filter((t) => window.outShape[t.axis] > 1);
    const rowTerms = terms.filter((t) => rowAxes.has(t.axis)).map((t) => [`o${t.axis}`, t.coef] as const);
    const stepTerms = terms.filter((t) => !rowAxes.has(t.axis)).map((t) => [`o${t.axis}`, t.coef] as const);
    for (const [v, coef] of rowTerms) rowIndex.push([v, coef * inStrides[j]]);
    for (const [v, coef] of stepTerms) stepIndex.push([v, coef * inStrides[j]]);
    offset += axis.offset * inStrides[j];
    const { min, max } = windowAxisRange(axis, window.outShape);
    const limit = window.inShape[j];
    if (min >= 0 && max < limit) continue;
    rowArrays.push(`row_n${j}`);
    rowDecls.push(`row_n${j}[r] = ${affineText(rowTerms, axis.offset)};`);
    stepDecls.push(`const int step_n${j} = ${affineText(stepTerms, 0)};`);
    elementDecls.push(`const int n${j} = row_n${j}[r] + step_n${j};`);
    if (min < 0) checks.push(`n${j} >= 0`);
    if (max >= limit) checks.push(`n${j} < ${limit}`);
  }
  rowDecls.push(`row_base[r] = ${affineText(rowIndex, offset)};`);
  stepDecls.push(`const int step_base = ${affineText(stepIndex, 0)};`);
  const read = `${inputName(0)}[row_base[r] + step_base]`;
  const element = checks.length === 0 ? read : conditionalRead(inputName(0), checks.join(' && '), 'row_base[r] + step_base', lang.floatLiteral(window.fill));
  return { rowArrays, rowDecls, stepDecls, elementDecls, element };
}
