/**
 * The TypeScript renderer: a whole Schedule becomes one strict-TypeScript module with one
 * `export function <kernel>(in0: Float32Array, ..., out: Float32Array): void` per kernel and a
 * `kernels` record for the JS backend. Arithmetic runs in float64 inside a kernel and is
 * rounded to float32 when stored.
 *
 * Maps, row kernels and reductions are the function renderer's (function-kernels.ts, through
 * templates/js/); this file holds TypeScript's language and its matrix products, passes over
 * rows of A into float64 accumulators.
 */
import type { WindowView } from '../../../ir/layout.ts';
import type { MatmulKernel, Schedule } from '../kernel-ir.ts';
import { allKernels } from '../kernel-ir.ts';
import { jsString } from '../escape.ts';
import type { CFunctionLanguage, CodeForOp } from './language.ts';
import { atomic, call, conditionalRead, infix, inputNames, prefix } from './language.ts';
import { isSimpleIndex } from './indexing.ts';
import { epilogueStore } from './expr.ts';
import { windowElement } from './windows.ts';
import { matmulSlicing, matmulStrides } from './matmul-parts.ts';
import type { ModuleMeta } from './module-text.ts';
import { RUNTIME_MODULE, moduleHeader } from './module-text.ts';
import type { FunctionKernelView, FunctionTarget } from './function-kernels.ts';
import { renderFunctionKernels } from './function-kernels.ts';
import type { SupportFunction } from './support.ts';
import { SupportNeeds, supportCode } from './support.ts';
import { template } from './templates.ts';

/**
 * `1`, `0.5`, `(-2)`, `0.10000000149011612` (0.1 as float32): the exact float32 value as a
 * plain literal, so JS computes with the same constant as the float32 targets.
 */
export function jsFloatLiteral(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '(-Infinity)';
  if (Object.is(value, -0)) return '(-0)';
  return atomic(String(Math.fround(value)));
}

/** The scalar meaning of each primitive on atomic operands, e.g. `less` → `x < y ? 1 : 0`. */
export const jsCodeForOp = {
  neg: prefix('-'),
  exp: call('Math.exp'),
  log: call('Math.log'),
  sqrt: call('Math.sqrt'),
  tanh: call('Math.tanh'),
  add: infix('+'),
  sub: infix('-'),
  mul: infix('*'),
  div: infix('/'),
  pow: call('Math.pow'),
  maximum: call('Math.max'),
  less: ([x, y]) => `${x} < ${y} ? 1 : 0`,
  equal: ([x, y]) => `${x} === ${y} ? 1 : 0`,
  where: ([c, x, y]) => `${c} !== 0 ? ${x} : ${y}`,
} satisfies CodeForOp;

/** TypeScript as one module writes it, recording the support functions its code calls in `support`. */
export function jsLanguage(support: SupportNeeds = new SupportNeeds()): CFunctionLanguage {
  return {
    name: 'js',
    support,
    floatLiteral: jsFloatLiteral,
    indexDiv: (dividend, divisor) => `((${dividend} / ${divisor}) | 0)`,
    declareFloat: (name, value) => `const ${name} = ${value};`,
    declareIndex: (name, value) => `const ${name} = ${value};`,
    declareAccumulator: (name, init) => `let ${name} = ${init};`,
    declareCoordinate: (name, index) => `const ${name} = ${index};`,
    declareSignedIndex: (name, value) => `const ${name} = ${value};`,
    declareCondition: (name, value) => `const ${name} = ${value};`,
    guardedRead: conditionalRead,
    floatOfIndex: (index) => (isSimpleIndex(index) ? index : `(${index})`),
    randomUniform: (seed, stream, index, counter) =>
      `${support.use('gradc_uniform')}(${seed}, ${stream}, ${index}, ${counter} >>> 0)`,
    inputParam: (name) => `${name}: Float32Array`,
    outputParam: (name) => `${name}: Float32Array`,
    signature: (name, params) => `export function ${name}(${params}): void {`,
    stored: (value) => `Math.fround(${value})`,
    countedLoop: (v, count) => `for (let ${v} = 0; ${v} < ${count}; ${v}++) {`,
    elementFunction: (name, inputs, param) =>
      `function ${name}(${[...inputNames(inputs).map((n) => `${n}: Float32Array`), `${param}: number`].join(', ')}): number {`,
    callElement: (name, inputs, index) => `${name}(${[...inputNames(inputs), index].join(', ')})`,
    codeForOp: jsCodeForOp,
  };
}

export type JsRenderMeta = ModuleMeta;

/** Support functions, each in the module only when a kernel (or another used one) calls it. */
const SUPPORT: readonly SupportFunction[] = [
  { name: 'gradc_mulhi', template: 'js/support-mulhi.hbs' },
  { name: 'gradc_uniform', template: 'js/support-philox.hbs', calls: ['gradc_mulhi'] },
];

interface ModuleView {
  readonly header: readonly string[];
  /** The specifier as a string literal. */
  readonly runtimeImport: string;
  /** The build id as a string literal. */
  readonly buildId: string;
  /** The support functions the kernels call (Philox for random draws), when they call one. */
  readonly support: readonly string[];
  readonly kernels: readonly string[];
  readonly names: readonly string[];
}

type KernelView = FunctionKernelView;

interface MatmulView extends KernelView {
  readonly n: number;
  /**
   * Module-level scratch arrays, allocated once instead of on every call: the float64 row
   * accumulators and, for a transposed B, its repacked copy.
   */
  readonly scratch: readonly string[];
  /** Statements before the loops: the scratch taken as `acc0`, `acc1`, ..., Bᵀ repacked as B. */
  readonly prelude: readonly string[];
  /** The range of p a row sums over (its slice of k), in terms of `s`. */
  readonly pBegin: string;
  readonly pEnd: string;
  /** The array holding B as [k, n] rows. */
  readonly b: string;
  readonly passes: readonly MatmulPassView[];
}

/** A loop over groups of rows (and slices): three rows at a time, then the rows left. */
interface MatmulPassView {
  readonly about: string;
  /** Rows of A the pass reads at a time. */
  readonly rows: number;
  readonly count: number;
  /** The slice `s` and first row `i` of pass `t`, and the rows' offsets into A. */
  readonly rowDecls: readonly string[];
  readonly fills: readonly string[];
  /** A(i + r, p + q) for q = 0..3, then each row's update from x0..x3. */
  readonly quadLoads: readonly string[];
  readonly quadUpdates: readonly string[];
  /** A(i + r, p), then each row's update from x0. */
  readonly singleLoads: readonly string[];
  readonly singleUpdates: readonly string[];
  readonly stores: readonly string[];
}

/** Renders every kernel of `schedule` into one TypeScript module. */
export function renderJs(schedule: Schedule, meta: JsRenderMeta): string {
  const lang = jsLanguage();
  const kernels = renderFunctionKernels(jsTarget(lang), schedule);
  const view: ModuleView = {
    header: moduleHeader(schedule, meta, 'rendered as JavaScript', 'js.ts'),
    runtimeImport: jsString(RUNTIME_MODULE),
    buildId: jsString(meta.buildId),
    support: supportCode(lang.support, SUPPORT),
    kernels,
    names: allKernels(schedule).map((k) => k.name),
  };
  return template<ModuleView>('js/module.hbs')(view);
}

/**
 * TypeScript as a function target (function-kernels.ts): every loop on the one thread, and
 * products in passes over rows of A into float64 accumulators.
 */
function jsTarget(lang: CFunctionLanguage): FunctionTarget {
  return {
    lang,
    templates: 'js',
    loopPragmas: () => [],
    renderMatmul: (base, kernel) => renderMatmul(lang, base, kernel),
  };
}

/** Rows of A a matmul pass reads at a time: each element of B loaded feeds three rows. */
export const MATMUL_ROWS_PER_PASS = 3;

/**
 * A matrix product, i-k-j into float64 row accumulators, three rows of A at a time with k
 * unrolled by 4, so that each element of B read serves 12 multiply-adds:
 * `acc1[j] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3` with `x0 = in1[b0 + j]`; the one or
 * two rows left over run one at a time. A(i, p) is `in0[aRow0 + p]`, or `in0[p * m + i]` when A
 * is transposed; a transposed B is first repacked into `b` as [k, n] so the inner loop reads
 * contiguous rows. The accumulators and the repacked B are module-level scratch, allocated once
 * rather than on every training step. A split product (kSlices 20, k 6000, m 250) runs its passes over slices ×
 * groups: `s = (t / 83) | 0`, `i = (t - s * 83) * 3`, p over [s * 300, s * 300 + 300), out at
 * `s * 2500 + ...`. Each element is summed in the same order as one row at a time.
 */
function renderMatmul(lang: CFunctionLanguage, base: KernelView, kernel: MatmulKernel): string {
  const { m, n, k } = kernel;
  const { slices, sliceK } = matmulSlicing(kernel);
  const groups = Math.floor(m / MATMUL_ROWS_PER_PASS);
  // [rows at a time, groups of them per slice, first row]: the passes that have rows to do.
  const shapes: [number, number, number][] = [
    [MATMUL_ROWS_PER_PASS, groups, 0],
    [1, m - groups * MATMUL_ROWS_PER_PASS, groups * MATMUL_ROWS_PER_PASS],
  ];
  const passes = shapes
    .filter(([, units]) => units > 0)
    .map(([rows, units, first]) => matmulPass(lang, kernel, rows, units, first));
  // As many accumulators as the widest pass takes rows.
  const accumulators = Array.from({ length: Math.max(...passes.map((p) => p.rows)) }, (_, r) => `acc${r}`);
  const scratch = accumulators.map((acc) => `const ${kernel.name}_${acc} = new Float64Array(${n});`);
  const prelude = accumulators.map((acc) => `const ${acc} = ${kernel.name}_${acc};`);
  if (kernel.aWindow) scratch.push(...windowElementFunction(lang, kernel, kernel.aWindow));
  if (kernel.transB) {
    scratch.push(`const ${kernel.name}_b = new Float32Array(${k * n});`);
    prelude.push(
      `const b = ${kernel.name}_b;`,
      `for (let j = 0; j < ${n}; j++) {`,
      `  for (let p = 0; p < ${k}; p++) b[p * ${n} + j] = in1[j * ${k} + p];`,
      '}',
    );
  }
  return template<MatmulView>('js/matmul-rows.hbs')({
    ...base,
    n,
    scratch,
    prelude,
    pBegin: slices === 1 ? '0' : `s * ${sliceK}`,
    pEnd: slices === 1 ? `${k}` : `s * ${sliceK} + ${sliceK}`,
    b: kernel.transB ? 'b' : 'in1',
    passes,
  });
}

/** `units` groups of `rows` rows per slice, starting at row `first`. */
function matmulPass(lang: CFunctionLanguage, kernel: MatmulKernel, rows: number, units: number, first: number): MatmulPassView {
  const { m, n, k } = kernel;
  const { slices, outStep } = matmulSlicing(kernel);
  const unit = (t: string) => (rows === 1 ? `${first} + ${t}` : `${t} * ${rows}`);
  const rowDecls =
    slices === 1
      ? [`const i = ${unit('t')};`]
      : [`const s = (t / ${units}) | 0;`, `const i = ${unit(`(t - s * ${units})`)};`];
  const each = Array.from({ length: rows }, (_, r) => r);
  const rowOf = (r: number) => (r === 0 ? 'i' : `(i + ${r})`);
  if (!kernel.transA && !kernel.aWindow) rowDecls.push(...each.map((r) => `const aRow${r} = ${rowOf(r)} * ${k};`));
  const a = (r: number, q: number) => {
    const p = q === 0 ? 'p' : `(p + ${q})`;
    if (kernel.aWindow) return `${windowElementName(kernel)}(in0, ${r === 0 ? 'i' : `i + ${r}`}, ${q === 0 ? 'p' : `p + ${q}`})`;
    return kernel.transA ? `in0[${p} * ${m} + ${r === 0 ? 'i' : `i + ${r}`}]` : `in0[aRow${r} + ${q === 0 ? 'p' : `p + ${q}`}]`;
  };
  const quarters = [0, 1, 2, 3];
  const outBase = slices === 1 ? '' : `s * ${outStep} + `;
  return {
    about: rows === 1 ? `rows ${first} to ${m - 1}, one at a time` : `rows in groups of ${rows}`,
    rows,
    count: slices * units,
    rowDecls,
    fills: each.map((r) => `acc${r}.fill(0);`),
    quadLoads: each.flatMap((r) => quarters.map((q) => `const a${r}${q} = ${a(r, q)};`)),
    quadUpdates: each.map((r) => `acc${r}[j] += ${quarters.map((q) => `a${r}${q} * x${q}`).join(' + ')};`),
    singleLoads: each.map((r) => `const a${r} = ${a(r, 0)};`),
    singleUpdates: each.map((r) => `acc${r}[j] += a${r} * x0;`),
    stores: each.flatMap((r) => (kernel.epilogue ? epilogueLoop(lang, kernel, rowOf(r), `acc${r}`) : [`out.set(acc${r}, ${outBase}${rowOf(r)} * ${n});`])),
  };
}

function windowElementName(kernel: MatmulKernel): string {
  return `${kernel.name}_a`;
}

/** A(i, p) of an implicit GEMM as a module-level function reading through the window. */
function windowElementFunction(lang: CFunctionLanguage, kernel: MatmulKernel, window: WindowView): string[] {
  const { ars, acs } = matmulStrides(kernel);
  const { decls, element } = windowElement(lang, 'in0', window, `i * ${ars} + p * ${acs}`);
  return [
    `function ${windowElementName(kernel)}(in0: Float32Array, i: number, p: number): number {`,
    ...decls.map((line) => `  ${line}`),
    `  return ${element};`,
    '}',
  ];
}

/**
 * A row of a product with an epilogue: each element, rounded to float32 as a store would round
 * it, goes through the epilogue at `oe` (`epilogueStore`), in a loop of its own so that each
 * row's locals have a scope of their own.
 */
function epilogueLoop(lang: CFunctionLanguage, kernel: MatmulKernel, row: string, acc: string): string[] {
  const body = epilogueStore(lang, kernel, 'oe', `Math.fround(${acc}[j])`);
  return [
    `for (let j = 0; j < ${kernel.n}; j++) {`,
    `  const oe = ${row} * ${kernel.n} + j;`,
    ...body.map((line) => `  ${line}`),
    '}',
  ];
}
