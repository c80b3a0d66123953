/**
 * The shared base of the C-like renderers (C, TypeScript, WGSL, CUDA): what a target
 * language is (`CStyleLanguage`, plain data and small functions, no if-chains on a target
 * name), and the pieces every renderer needs from the kernel IR: float literals, fused
 * expressions as statements, strided-load index arithmetic with its constants baked in, the
 * loop shape of a map kernel, parameter names and kernel comments; and what the GPU renderers
 * share (tile staging, slices of k, support functions).
 */
import { template } from './templates.ts';
import { lineCommentText } from '../escape.ts';
import type { PrimKind, Shape } from '../../../ir/types.ts';
import type { StridedView, ViewAxis, WindowView } from '../../../ir/layout.ts';
import { isIdentityAxes, simplifyView, stridesOf, windowAxisRange } from '../../../ir/layout.ts';
import type { ComputedKind } from '../../../ir/ops/index.ts';
import { OPS, elementwiseOp } from '../../../ir/ops/index.ts';
import type {
  BufferDecl,
  Expr,
  EpilogueKernel,
  Kernel,
  MapKernel,
  MatmulKernel,
  ReduceKernel,
  RowScalars,
  Schedule,
} from '../kernel-ir.ts';
import { epilogueInputs, exprNodes, foldExpr } from '../kernel-ir.ts';

/** Emits one primitive applied to already-rendered atomic operands. */
export type EmitFn = (args: readonly string[]) => string;

/**
 * A renderer's table: one emitter per elementwise primitive a kernel computes, so tsc names a
 * missing one (a pass-through primitive such as `stop_gradient` never reaches a kernel).
 */
export type CodeForOp = Readonly<Record<ComputedKind, EmitFn>>;

/** What differs between C-like targets. */
export interface CStyleLanguage {
  readonly name: string;
  /** A float32 constant; must be exact and an atom (negative values parenthesised). */
  floatLiteral(value: number): string;
  /**
   * The quotient of an index expression by a positive constant, as an atom, truncated toward
   * zero: a window read also divides numerators that may be negative, whose quotient it only
   * uses where a check has found them not negative.
   */
  indexDiv(dividend: string, divisor: number): string;
  /** `const float t0 = v;` and the like: an immutable float local. */
  declareFloat(name: string, value: string): string;
  /** An immutable integer index local. */
  declareIndex(name: string, value: string): string;
  /** A mutable float accumulator. */
  declareAccumulator(name: string, init: string): string;
  /** A signed integer local from a non-negative index expression (window coordinates go below 0). */
  declareCoordinate(name: string, index: string): string;
  /** A signed integer local. */
  declareSignedIndex(name: string, value: string): string;
  /** A boolean local (an int in C). */
  declareCondition(name: string, value: string): string;
  /**
   * `buffer[index]` where `condition` holds, else `fill`, never reading out of bounds: a
   * conditional expression in C, CUDA and TypeScript; WGSL's eager `select` also clamps the index.
   */
  guardedRead(buffer: string, condition: string, index: string, fill: string): string;
  /** A non-negative index expression as a float atom (the value of an `index` leaf). */
  floatOfIndex(index: string): string;
  /**
   * A uniform draw (a `random` expression) as a call of the module's Philox support function
   * `gradc_uniform(seed, stream, element, counter)`, `counter` a float atom to read as a word.
   */
  randomUniform(seed: number, stream: number, index: string, counter: string): string;
  /** A float value rounded to float32 as a store rounds it (a `stored` expression). */
  stored(value: string): string;
  /** The line that opens a loop of `v` over [0, count). */
  countedLoop(v: string, count: number): string;
  /**
   * The line that opens a function of a kernel's `inputs` buffers and an element index `param`
   * returning a float (a reduction's prologue), and a call of it at `index`.
   */
  elementFunction(name: string, inputs: number, param: string): string;
  callElement(name: string, inputs: number, index: string): string;
  readonly codeForOp: CodeForOp;
}

/**
 * A C-like target whose kernels are functions taking their buffers as parameters (C, JS);
 * WGSL binds its buffers at module scope instead and has no parameter list.
 */
export interface CFunctionLanguage extends CStyleLanguage {
  /** The declaration of a read-only input buffer parameter and of the output parameter. */
  inputParam(name: string): string;
  outputParam(name: string): string;
  /** The line that opens a kernel's definition, given its parameter list. */
  signature(name: string, params: string): string;
}

// ---- emitter helpers for codeForOp tables ----

/** `call('expf')([x])` → `expf(x)`. */
export function call(fn: string): EmitFn {
  return (args) => `${fn}(${args.join(', ')})`;
}

/** `infix('+')([x, y])` → `x + y` (operands are atoms, so no parentheses are needed). */
export function infix(op: string): EmitFn {
  return ([x, y]) => `${x} ${op} ${y}`;
}

/** `(c ? in0[k] : 0.0f)`: a read taken only where `condition` holds (C, CUDA, TypeScript). */
export function conditionalRead(buffer: string, condition: string, index: string, fill: string): string {
  return `(${condition} ? ${buffer}[${index}] : ${fill})`;
}

/** `prefix('-')([x])` → `-x`. */
export function prefix(op: string): EmitFn {
  return ([x]) => `${op}${x}`;
}

// ---- literals ----

/**
 * The shortest decimal that rounds to the same float32 as `value`: 0.1 → "0.1",
 * 16777217 → "16777216", 1e-45 → "1e-45". Finite values only.
 */
export function shortestFloat32Digits(value: number): string {
  const f = Math.fround(value);
  for (let precision = 1; precision < 9; precision++) {
    const text = String(Number(f.toPrecision(precision)));
    if (Math.fround(Number(text)) === f) return text;
  }
  return String(Number(f.toPrecision(9)));
}

/** Wraps a negative literal so that `-x` and `a - x` stay well formed: -2 → `(-2)`. */
export function atomic(text: string): string {
  return text.startsWith('-') ? `(${text})` : text;
}

// ---- expressions ----

/**
 * Renders the element a load reads (`in1[j]`); receives the load's input number and view or
 * window, and where a window read puts the locals it declares (before the expression that reads).
 */
export type LoadCode = (
  input: number,
  view: StridedView | undefined,
  window?: WindowView,
  declare?: (statement: string) => void,
) => string;

export interface RenderedExpr {
  /** Declarations of the intermediate values, in evaluation order. */
  readonly statements: readonly string[];
  /** The expression for the root value. */
  readonly value: string;
}

/**
 * Renders a fused expression tree at element `index` (the output index `i` unless a matrix
 * product's epilogue names another), one local per inner `apply` and the root inline:
 * `maximum(add(load 0, load 1 view), const 0)` in C →
 * statements `["const float t0 = in0[i] + in1[j];"]`, value `gradc_maximum(t0, 0.0f)`.
 */
export function renderExpr(lang: CStyleLanguage, expr: Expr, load: LoadCode, index: string = OUTPUT_INDEX): RenderedExpr {
  const statements: string[] = [];
  // Post-order without recursion: an apply is emitted after its operands, so locals are
  // numbered in evaluation order; every apply but the root becomes a local.
  const value = foldExpr<string>(expr, (e, args) => {
    if (e.op === 'const') return lang.floatLiteral(e.value);
    if (e.op === 'load') return load(e.input, e.view, e.window, (statement) => statements.push(statement));
    if (e.op === 'index') return lang.floatOfIndex(indexExpr(lang, simplifyView(e.view), index));
    if (e.op === 'scalar') return rowScalarName(e.index);
    if (e.op === 'stored') {
      const value = lang.stored(args[0]);
      return value === args[0] || e === expr ? value : declared(value);
    }
    const applied =
      e.op === 'random'
        ? lang.randomUniform(e.seed, e.stream, index, args[0])
        : emitterFor(lang, e.kind)(args);
    if (e === expr) return applied;
    return declared(applied);
  });
  return { statements, value };

  function declared(value: string): string {
    const name = `t${statements.length}`;
    statements.push(lang.declareFloat(name, value));
    return name;
  }
}

// ---- row kernels and prologues ----

/** The local holding per-row value `k` of the current row: `rs0`. */
export function rowScalarName(k: number): string {
  return `rs${k}`;
}

/** Loads at element index `index` through their views (a row kernel's or a prologue's: no windows, no in-place reads). */
function viewLoad(lang: CStyleLanguage, index: string): LoadCode {
  return (input, view) => {
    const axes = view ? simplifyView(view) : [];
    return `${inputName(input)}[${isIdentityAxes(axes) ? index : indexExpr(lang, axes, index)}]`;
  };
}

function indented(lines: readonly string[]): string[] {
  return lines.map((line) => `  ${line}`);
}

/**
 * The lines that compute row `row`'s per-row values, each a loop over the row's elements
 * `rx = row * width + rj`: max over rows of 10 in C → `float rs0 = (-INFINITY);` /
 * `for (int rj = 0; rj < 10; rj++) {` / `const int rx = r * 10 + rj;` /
 * `rs0 = gradc_maximum(rs0, in0[rx]);` / `}`.
 */
export function rowScalarLines(lang: CStyleLanguage, rows: RowScalars, row: string): string[] {
  return rows.scalars.flatMap((scalar, k) => {
    const name = rowScalarName(k);
    const { statements, value } = renderExpr(lang, scalar.expr, viewLoad(lang, 'rx'), 'rx');
    const combine = scalar.op === 'sum' ? lang.codeForOp.add : lang.codeForOp.maximum;
    return [
      lang.declareAccumulator(name, lang.floatLiteral(scalar.op === 'sum' ? 0 : -Infinity)),
      lang.countedLoop('rj', rows.width),
      ...indented([lang.declareIndex('rx', `${row} * ${rows.width} + rj`), ...statements, `${name} = ${combine([name, value])};`]),
      '}',
    ];
  });
}

/**
 * A row kernel's lines for row `row`: its per-row values, then its elements of that row,
 * `out[i] = ...` for i = row * perRow + q (just `row` with one element per row).
 */
export function rowKernelLines(lang: CStyleLanguage, kernel: MapKernel, rows: RowScalars, row: string): string[] {
  const { statements, value } = renderExpr(lang, kernel.expr, viewLoad(lang, OUTPUT_INDEX), OUTPUT_INDEX);
  const element = [...statements, `${OUTPUT_NAME}[${OUTPUT_INDEX}] = ${value};`];
  const scalars = rowScalarLines(lang, rows, row);
  if (rows.perRow === 1) return [...scalars, lang.declareIndex(OUTPUT_INDEX, row), ...element];
  return [
    ...scalars,
    lang.countedLoop('q', rows.perRow),
    ...indented([lang.declareIndex(OUTPUT_INDEX, `${row} * ${rows.perRow} + q`), ...element]),
    '}',
  ];
}

/** About how many operations a row kernel does: each row's values over the row, then its elements. */
export function rowKernelWork(kernel: MapKernel, rows: RowScalars): number {
  const perRowValues = rows.scalars.reduce((sum, s) => sum + rows.width * exprCost(s.expr), 0);
  return (kernel.size / rows.perRow) * perRowValues + kernel.size * exprCost(kernel.expr);
}

/** The function computing a reduction's elements from its prologue: `<kernel>_element`. */
export function prologueName(kernel: ReduceKernel): string {
  return `${kernel.name}_element`;
}

/** Element `index` of a reduction: `in0[index]`, or its prologue's function at `index`. */
export function reducedElement(lang: CStyleLanguage, kernel: ReduceKernel, index: string): string {
  return kernel.prologue ? lang.callElement(prologueName(kernel), kernel.inputs.length, index) : `${inputName(0)}[${index}]`;
}

/**
 * A reduction's prologue as a function of element index `e`: its row's values when it has
 * some (row `e / perRow`), then `return value;`. Empty for a reduction without one.
 */
export function prologueFunction(lang: CStyleLanguage, kernel: ReduceKernel): string[] {
  const { prologue } = kernel;
  if (!prologue) return [];
  const rows = prologue.rows;
  const row = rows ? [lang.declareIndex('r', rows.perRow === 1 ? 'e' : lang.indexDiv('e', rows.perRow)), ...rowScalarLines(lang, rows, 'r')] : [];
  const { statements, value } = renderExpr(lang, prologue.expr, viewLoad(lang, 'e'), 'e');
  return [
    lang.elementFunction(prologueName(kernel), kernel.inputs.length, 'e'),
    ...indented([...row, ...statements, `return ${value};`]),
    '}',
  ];
}

function emitterFor(lang: CStyleLanguage, kind: PrimKind): EmitFn {
  const table: Readonly<Record<string, EmitFn>> = lang.codeForOp;
  const emit = table[kind];
  if (!emit) throw new Error(`${lang.name} renderer: no kernel computes ${kind}`);
  return emit;
}

/** A load of a kernel expression: its input and how it indexes it. */
export interface Load {
  readonly input: number;
  readonly view?: StridedView;
  readonly window?: WindowView;
}

/** The loads of an expression, each distinct (input, view or window) once, in first-use order. */
export function loadsOf(expr: Expr): Load[] {
  const seen = new Map<string, Load>();
  for (const e of exprNodes(expr)) {
    if (e.op !== 'load') continue;
    const key = loadKey(e.input, e.view, e.window);
    if (seen.has(key)) continue;
    const { input, view, window } = e;
    seen.set(key, window ? { input, window } : view ? { input, view } : { input });
  }
  return [...seen.values()];
}

export function loadKey(input: number, view: StridedView | undefined, window?: WindowView): string {
  if (window) return JSON.stringify([input, 'window', window]);
  return JSON.stringify([input, view ? simplifyView(view) : 'identity']);
}

// ---- strided index arithmetic ----

/**
 * The input index that output index `v` reads through `axes`, constants baked in:
 * `[{600,0},{250,1}]` on `i` → `i % 250`; `[{4,1},{3,4}]` on `i` in C → `(i / 3) + (i % 3) * 4`
 * (with the language's integer division); identity → `i`; all broadcast → `0`.
 */
export function indexExpr(lang: CStyleLanguage, axes: readonly ViewAxis[], v: string): string {
  const terms: string[] = [];
  let inner = 1;
  for (let d = axes.length - 1; d >= 0; d--) {
    const { size, stride } = axes[d];
    if (stride !== 0) terms.unshift(axisTerm(lang, v, inner, size, d === 0, stride));
    inner *= size;
  }
  return terms.length > 0 ? terms.join(' + ') : '0';
}

/** `((v / inner) % size) * stride`, leaving out every part that is the identity. */
function axisTerm(
  lang: CStyleLanguage,
  v: string,
  inner: number,
  size: number,
  outermost: boolean,
  stride: number,
): string {
  const position = axisPosition(lang, v, inner, size, outermost);
  if (stride === 1) return position;
  return outermost ? `${position} * ${stride}` : `(${position}) * ${stride}`;
}

// ---- loop shapes ----

/** Rows shorter than this are not worth a nested loop. */
export const MIN_ROW_LENGTH = 8;

/**
 * How a map kernel walks its output. `flat`: one loop over `i`, strided loads by division.
 * `rows`: `i = o * cols + j`, so each strided load is a base hoisted per row `o` plus `j`
 * times its innermost stride, and the inner loop needs no division.
 */
export type MapLoop =
  | { readonly kind: 'flat'; readonly size: number }
  | { readonly kind: 'rows'; readonly rows: number; readonly cols: number }
  /** One loop per output axis, `o0` outermost: window reads take their coordinates without division. */
  | { readonly kind: 'nested'; readonly shape: readonly number[] };

/**
 * Rows of the largest length every strided load's innermost axis is a multiple of; flat when a
 * load goes through a window, whose index is no base plus a step.
 */
export function planMapLoop(kernel: MapKernel): MapLoop {
  const loads = loadsOf(kernel.expr);
  const windows = loads.flatMap((l) => (l.window ? [l.window.outShape] : []));
  if (windows.length > 0) {
    const shape = windows[0];
    const shared = windows.every((s) => s.length === shape.length && s.every((n, d) => n === shape[d]));
    return shared && shape.reduce((a, b) => a * b, 1) === kernel.size ? { kind: 'nested', shape } : { kind: 'flat', size: kernel.size };
  }
  const strided = loads
    .map((l) => (l.view ? simplifyView(l.view) : []))
    .filter((axes) => !isIdentityAxes(axes));
  if (strided.length === 0) return { kind: 'flat', size: kernel.size };
  const cols = strided.map((axes) => axes[axes.length - 1].size).reduce(gcd);
  if (cols < MIN_ROW_LENGTH || cols >= kernel.size) return { kind: 'flat', size: kernel.size };
  return { kind: 'rows', rows: kernel.size / cols, cols };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A strided load in a `rows` loop: `base` (over `o`, hoisted) + `j` times `innerStride`. */
export interface RowLoad {
  readonly base: string;
  readonly innerStride: number;
}

/**
 * Splits a view's index for rows of `cols` elements, the row being `v`: `[{600,0},{250,1}]`,
 * cols 250 → base `0`, innerStride 1; `[{600,1},{250,0}]` → base `o`, innerStride 0.
 */
export function rowLoad(lang: CStyleLanguage, axes: readonly ViewAxis[], cols: number, v = 'o'): RowLoad {
  const last = axes[axes.length - 1];
  const outerAxes = [...axes.slice(0, -1), { size: last.size / cols, stride: last.stride * cols }];
  const base = indexExpr(lang, simplifyView(axesAsView(outerAxes)), v);
  return { base, innerStride: last.stride };
}

function axesAsView(axes: readonly ViewAxis[]): StridedView {
  return { outShape: axes.map((a) => a.size), inStrides: axes.map((a) => a.stride) };
}

/** `base + j * stride` with the trivial parts left out. */
export function offsetBy(base: string, v: string, stride: number): string {
  const step = stride === 0 ? '' : stride === 1 ? v : `${v} * ${stride}`;
  if (base === '0') return step || '0';
  return step ? `${base} + ${step}` : base;
}

/** True for index expressions that need no local: `0`, `o`, `17`. */
export function isSimpleIndex(text: string): boolean {
  return /^[A-Za-z_0-9]+$/.test(text);
}

// ---- kernel bodies, shared by every C-like target ----

/** The pieces of a map kernel: its loop, per-row base indices (rows loops), loop body. */
export interface MapParts {
  readonly loop: MapLoop;
  /**
   * Declarations hoisted out of the inner loop: a `rows` loop's row bases, a `nested` loop's
   * window locals that do not depend on its innermost variable (numerators, checks and reads
   * of the outer coordinates, so the inner loop is straight-line work the compiler vectorises).
   */
  readonly bases: readonly string[];
  /** The statements for element `i`, ending in `out[i] = ...;`. */
  readonly body: readonly string[];
}

/**
 * A map kernel's parts, e.g. `{ size: 150000, expr: add(load 0, load 1 view
 * {[600,250],[0,1]}) }` → rows loop 600 × 250, no bases, body `["out[i] = in0[i] + in1[j];"]`;
 * a transposed load `{[250,600],[1,250]}` in a rows loop reads `in0[o + j * 250]`.
 * A target with one thread per element (WGSL) passes a flat `loop`: `in1[i % 250]`.
 */
export function mapParts(
  lang: CStyleLanguage,
  kernel: MapKernel,
  loop: MapLoop = planMapLoop(kernel),
): MapParts {
  if (loop.kind === 'rows') {
    const { bases, load } = rowLoads(lang, kernel, loop.cols);
    const { statements, value } = renderExpr(lang, kernel.expr, load);
    return { loop, bases, body: [...statements, `${OUTPUT_NAME}[${OUTPUT_INDEX}] = ${value};`] };
  }
  const bases: string[] = [];
  const coordinates = loop.kind === 'nested' ? loopVariables(loop.shape) : undefined;
  const hoist = coordinates && coordinates.length >= HOIST_MIN_LOOPS
    ? { variant: [coordinates[coordinates.length - 1], OUTPUT_INDEX], declare: (line: string) => bases.push(line) }
    : undefined;
  const { statements, value } = renderExpr(lang, kernel.expr, flatLoad(lang, kernel, coordinates, hoist));
  return { loop, bases, body: [...statements, `${OUTPUT_NAME}[${OUTPUT_INDEX}] = ${value};`] };
}

/** The buffer a load of a map kernel reads: `in1`, or `out` for an in-place update. */
function loadedName(kernel: MapKernel, input: number): string {
  return input === kernel.inputs.length ? OUTPUT_NAME : inputName(input);
}

/**
 * Loads in a flat loop over `i`: `in0[i]`, `in1[i % 250]`, a window read (its coordinates the
 * nested loops' variables when there are some).
 */
function flatLoad(
  lang: CStyleLanguage,
  kernel: MapKernel,
  coordinates?: readonly string[],
  hoist?: WindowHoist,
): LoadCode {
  let locals: WindowLocals | undefined;
  return (input, view, window, declare) => {
    if (window) {
      const emit = declare ?? (() => {
        throw new Error('a window read needs somewhere to declare its locals');
      });
      locals ??= windowLocals(lang, emit, OUTPUT_INDEX, coordinates, hoist);
      return windowRead(lang, loadedName(kernel, input), window, locals);
    }
    const axes = view ? simplifyView(view) : [];
    const index = isIdentityAxes(axes) ? OUTPUT_INDEX : indexExpr(lang, axes, OUTPUT_INDEX);
    return `${loadedName(kernel, input)}[${index}]`;
  };
}

/**
 * Where window locals that do not vary in an inner loop go: a local whose value names none of
 * `variant` (the inner loop's variable and the output index), nor a local that does, is
 * declared through `declare` instead, before that loop.
 */
export interface WindowHoist {
  readonly variant: readonly string[];
  readonly declare: (statement: string) => void;
}

/**
 * Nested loops hoist window locals out of the innermost one only when at least this many loops
 * nest: the outer two may be collapsed into one for threads, which needs nothing between them.
 */
export const HOIST_MIN_LOOPS = 3;

/**
 * The locals of window reads in one body, each distinct value declared once through `declare`
 * (the terms of an adjoint's sum share numerators and checks): output coordinates are the
 * loop variables `coordinates` when given, else positions of the flat index `flatIndex`.
 */
export function windowLocals(
  lang: CStyleLanguage,
  declare: (statement: string) => void,
  flatIndex: string,
  coordinates?: readonly string[],
  hoist?: WindowHoist,
): WindowLocals {
  const declared = new Map<string, string>();
  const variant = new Set(hoist?.variant);
  let count = 0;
  const local = (prefix: string, value: string, statement: (name: string) => string) => {
    const key = `${prefix}:${value}`;
    const known = declared.get(key);
    if (known !== undefined) return known;
    const name = `${prefix}${count++}`;
    const varies = !hoist || (value.match(/[A-Za-z_]\w*/g) ?? []).some((word) => variant.has(word));
    if (varies) {
      variant.add(name);
      declare(statement(name));
    } else {
      hoist.declare(statement(name));
    }
    declared.set(key, name);
    return name;
  };
  return {
    coordinate(shape, d) {
      if (coordinates) return coordinates[d];
      if (shape[d] === 1) return '0';
      const position = axisPosition(lang, flatIndex, stridesOf(shape)[d], shape[d], d === firstNonUnitAxis(shape));
      return local('wc', position, (n) => lang.declareCoordinate(n, position));
    },
    signed: (value) => local('wi', value, (n) => lang.declareSignedIndex(n, value)),
    condition: (value) => local('wk', value, (n) => lang.declareCondition(n, value)),
    float: (value) => local('wv', value, (n) => lang.declareFloat(n, value)),
  };
}

/**
 * Element `f` of an implicit GEMM's A (storage index `flatIndex`, an index expression) read
 * through the kernel's window: the statements that declare `f` and the window's locals, and
 * the value. `{ aWindow: patches of [1,5,5,1], 3x3 }` with `i * 9 + p` in C →
 * `const int f = i * 9 + p;`, `const int wc0 = (f / 45) % 5;`, ..., value `wv5`.
 */
export function windowElement(
  lang: CStyleLanguage,
  buffer: string,
  view: WindowView,
  flatIndex: string,
): { decls: string[]; element: string } {
  const decls = [lang.declareIndex('f', flatIndex)];
  const element = windowRead(lang, buffer, view, windowLocals(lang, (line) => decls.push(line), 'f'));
  return { decls, element };
}

/**
 * Loads in a rows loop: identity → `in0[i]`; strided → `in1[b0 + j * 4]` with
 * `b0` (the index of row `o`) declared once per row, or inlined when it is a name or number.
 */
function rowLoads(lang: CStyleLanguage, kernel: MapKernel, cols: number) {
  const bases: string[] = [];
  const indices = new Map<string, string>();
  for (const { input, view } of loadsOf(kernel.expr)) {
    const axes = view ? simplifyView(view) : [];
    if (isIdentityAxes(axes)) continue;
    const split = rowLoad(lang, axes, cols);
    let base = split.base;
    if (!isSimpleIndex(base)) {
      const name = `b${bases.length}`;
      bases.push(lang.declareIndex(name, base));
      base = name;
    }
    indices.set(loadKey(input, view), offsetBy(base, 'j', split.innerStride));
  }
  // planMapLoop gives kernels with window reads nested loops, never rows.
  const load: LoadCode = (input, view) =>
    `${loadedName(kernel, input)}[${indices.get(loadKey(input, view)) ?? OUTPUT_INDEX}]`;
  return { bases, load };
}

/**
 * The locals a window read declares, in the kernel body before the expression that reads:
 * the output coordinates (loop variables of nested loops, or declared from `i` once), signed
 * integers and conditions.
 */
export interface WindowLocals {
  /** The signed coordinate along output axis `d` of the window's output shape. */
  coordinate(shape: readonly number[], d: number): string;
  /** A signed integer local holding `value`; its name. */
  signed(value: string): string;
  /** A condition local holding `value`; its name. */
  condition(value: string): string;
  /** A float local holding `value`; its name. */
  float(value: string): string;
}

/**
 * The element a window load reads: each input coordinate's numerator (a local unless it is one
 * output coordinate), the checks that can fail (below 0, past the axis, not a multiple of the
 * divisor; those that hold for every index are left out) in one condition local, the index in
 * another, then the guarded read. Patches of [1,5,5,1], 3x3, padding 1, in C:
 * `const int wi0 = o1 + o3 - 1; const int wi1 = o2 + o4 - 1;`
 * `const int wi2 = wi0 * 5 + wi1; const int wk3 = wi0 >= 0 && wi0 < 5 && wi1 >= 0 && wi1 < 5;`,
 * `const float wv4 = (wk3 ? in0[wi2] : 0.0f);`, read as `wv4`.
 */
export function windowRead(lang: CStyleLanguage, buffer: string, view: WindowView, locals: WindowLocals): string {
  const inStrides = stridesOf(view.inShape);
  const checks: string[] = [];
  const indexTerms: string[] = [];
  let constantIndex = 0;
  for (const [j, axis] of view.axes.entries()) {
    if (axis.terms.length === 0) {
      // A fixed coordinate: in range or not for every output, so no check.
      const { offset, divisor } = axis;
      if (offset < 0 || offset % divisor !== 0 || offset / divisor >= view.inShape[j]) return lang.floatLiteral(view.fill);
      constantIndex += (offset / divisor) * inStrides[j];
      continue;
    }
    const terms = axis.terms.map((t) => [locals.coordinate(view.outShape, t.axis), t.coef] as const);
    const single = terms.length === 1 && terms[0][1] === 1 && axis.offset === 0;
    const numerator = single ? terms[0][0] : locals.signed(affineText(terms, axis.offset));
    const { min, max } = windowAxisRange(axis, view.outShape);
    const limit = view.inShape[j] * axis.divisor;
    if (min < 0) checks.push(`${numerator} >= 0`);
    if (max >= limit) checks.push(`${numerator} < ${limit}`);
    const exact = axis.terms.every((t) => t.coef % axis.divisor === 0) && axis.offset % axis.divisor === 0;
    if (!exact) checks.push(`${numerator} % ${axis.divisor} == 0`);
    if (view.inShape[j] === 1) continue;
    const position = axis.divisor === 1 ? numerator : lang.indexDiv(numerator, axis.divisor);
    indexTerms.push(inStrides[j] === 1 ? position : `${position} * ${inStrides[j]}`);
  }
  if (constantIndex !== 0 || indexTerms.length === 0) indexTerms.push(String(constantIndex));
  const index = indexTerms.length === 1 && isSimpleIndex(indexTerms[0]) ? indexTerms[0] : locals.signed(indexTerms.join(' + '));
  if (checks.length === 0) return `${buffer}[${index}]`;
  return locals.float(lang.guardedRead(buffer, locals.condition(checks.join(' && ')), index, lang.floatLiteral(view.fill)));
}

/** One output coordinate of a window view: its axis and the index expression it is. */
export interface CoordinateText {
  readonly axis: number;
  readonly text: string;
}

/**
 * The coordinates of a window view's output index `major · minorSize + minor`, each from the
 * one index it depends on, or undefined when no axis boundary of `shape` splits it there; axes
 * of one element are left out (their coordinate is 0). [128,11,11,3,3,32], minorSize 288 →
 * major `i`: `(i / 121)`, `(i / 11) % 11`, `i % 11`; minor `p`: `(p / 96)`, `(p / 32) % 3`, `p % 32`.
 */
export function splitCoordinates(
  lang: CStyleLanguage,
  shape: Shape,
  major: string,
  minor: string,
  minorSize: number,
): { major: CoordinateText[]; minor: CoordinateText[] } | undefined {
  const strides = stridesOf(shape);
  const boundary = shape.findIndex((_, d) => strides[d] * shape[d] === minorSize);
  if (boundary < 0) return undefined;
  const group = (from: number, to: number, index: string, unit: number): CoordinateText[] => {
    const first = shape.findIndex((size, d) => d >= from && size > 1);
    return shape.flatMap((size, axis) =>
      axis < from || axis >= to || size === 1
        ? []
        : [{ axis, text: axisPosition(lang, index, strides[axis] / unit, size, axis === first) }],
    );
  };
  return { major: group(0, boundary, major, minorSize), minor: group(boundary, shape.length, minor, 1) };
}

/** `o0`, `o1`, ...: the variables of nested loops over `shape`. */
export function loopVariables(shape: readonly number[]): string[] {
  return shape.map((_, d) => `o${d}`);
}

/**
 * Nested loops over `shape` for a function-style target: the opening lines (indented, `head`
 * writes one loop; `hoisted` lines go just before the innermost one), the flat index `i` of the
 * innermost iteration, the closing lines. [2,3] in C → `for (int o0 = 0; o0 < 2; o0++) {`, `  for (int o1 = 0; o1 < 3; o1++) {`,
 * `i = o0 * 3 + o1`.
 */
export function nestedLoops(
  shape: readonly number[],
  head: (variable: string, count: number) => string,
  hoisted: readonly string[] = [],
): { opens: string[]; index: string; closes: string[]; indent: string } {
  const variables = loopVariables(shape);
  const opens = variables.flatMap((v, d) => [
    ...(d === shape.length - 1 ? hoisted.map((line) => `${'  '.repeat(d + 1)}${line}`) : []),
    `${'  '.repeat(d + 1)}${head(v, shape[d])}`,
  ]);
  const closes = variables.map((_, d) => `${'  '.repeat(shape.length - d)}}`);
  const strides = stridesOf(shape);
  const index = variables.map((v, d) => (strides[d] === 1 ? v : `${v} * ${strides[d]}`)).join(' + ') || '0';
  return { opens, index, closes, indent: '  '.repeat(shape.length + 1) };
}

/** The first axis of more than one element: its position needs no `% size`. */
function firstNonUnitAxis(shape: Shape): number {
  const d = shape.findIndex((size) => size > 1);
  return d < 0 ? 0 : d;
}

/** `(v / inner) % size`, the identity parts left out. */
function axisPosition(lang: CStyleLanguage, v: string, inner: number, size: number, outermost: boolean): string {
  const quotient = inner === 1 ? v : lang.indexDiv(v, inner);
  return outermost ? quotient : `${quotient} % ${size}`;
}

/** `a * 2 + b - 1` from terms and a constant, with unit coefficients and zeros left out. */
export function affineText(terms: readonly (readonly [string, number])[], offset: number): string {
  let text = '';
  for (const [value, coef] of terms) {
    if (coef === 0) continue;
    const magnitude = Math.abs(coef) === 1 ? (text === '' ? value : parenthesised(value)) : `${parenthesised(value)} * ${Math.abs(coef)}`;
    text = text === '' ? (coef < 0 ? `-${parenthesised(magnitude)}` : magnitude) : `${text} ${coef < 0 ? '-' : '+'} ${magnitude}`;
  }
  if (text === '') return String(offset);
  if (offset === 0) return text;
  return `${text} ${offset < 0 ? '-' : '+'} ${Math.abs(offset)}`;
}

/** `text` as an operand of `*` or `-`: a name, a number or one parenthesised group stays as it is. */
function parenthesised(text: string): string {
  if (/^[A-Za-z0-9_.]+$/.test(text)) return text;
  if (text.startsWith('(') || /^[A-Za-z0-9_]+\(/.test(text)) {
    let depth = 0;
    for (let i = text.indexOf('('); i < text.length; i++) {
      if (text[i] === '(') depth++;
      else if (text[i] === ')' && --depth === 0) return i === text.length - 1 ? text : `(${text})`;
    }
  }
  return `(${text})`;
}

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
 */
export function reduceParts(lang: CStyleLanguage, kernel: ReduceKernel): ReduceParts {
  const base = indexExpr(lang, simplifyView(kernel.outView), 'o');
  const step = indexExpr(lang, simplifyView(kernel.redView), 'r');
  const element = reducedElement(lang, kernel, offsetSum('base', step));
  return { base, init: reductionInit(lang, kernel), step: reductionCombine(lang, kernel)(['acc', element]) };
}

/** What a reduction's accumulator starts from: `0.0f` for a sum, `(-INFINITY)` for a max in C. */
function reductionInit(lang: CStyleLanguage, kernel: ReduceKernel): string {
  return lang.floatLiteral(kernel.op === 'sum' ? 0 : -Infinity);
}

/** How a reduction folds one element into its accumulator: `add`, or the NaN-keeping `maximum`. */
function reductionCombine(lang: CStyleLanguage, kernel: ReduceKernel): EmitFn {
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

/** `a + b` with zeros left out. */
function offsetSum(a: string, b: string): string {
  if (b === '0') return a;
  return a === '0' ? b : `${a} + ${b}`;
}

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

// ---- kernels ----

/** in0, in1, ..., the names of a kernel's input parameters. */
/** `in0` to `in<count - 1>`. */
export function inputNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => inputName(i));
}

export function inputName(input: number): string {
  return `in${input}`;
}

export const OUTPUT_NAME = 'out';

/** The output index of a map kernel's element, in scope wherever its expression is rendered. */
export const OUTPUT_INDEX = 'i';

/** Generated lines are kept to this width where the structure allows. */
export const LINE_WIDTH = 100;

/**
 * The opening line of a kernel, parameters (inputs in order, then the output) on one line or,
 * when that is too wide, one per line: `void k(const float *restrict in0, float *restrict out) {`.
 */
export function kernelSignature(lang: CFunctionLanguage, kernel: Kernel): string {
  const inputs = kernel.inputs.map((_, i) => lang.inputParam(inputName(i)));
  const params = [...inputs, lang.outputParam(OUTPUT_NAME)];
  const oneLine = lang.signature(kernel.name, params.join(', '));
  if (oneLine.length <= LINE_WIDTH) return oneLine;
  return lang.signature(kernel.name, `\n${params.map((p) => `  ${p}`).join(',\n')}\n`);
}

/** What every template of a function-style target (C, TypeScript) starts a kernel with. */
export interface FunctionKernelView {
  readonly comment: readonly string[];
  readonly name: string;
  /** The opening line(s) of the definition. */
  readonly signature: string;
}

export function functionKernelView(
  lang: CFunctionLanguage,
  schedule: Schedule,
  kernel: Kernel,
): FunctionKernelView {
  return { comment: kernelComment(schedule, kernel), name: kernel.name, signature: kernelSignature(lang, kernel) };
}

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

/**
 * The comment heading a generated module: what it is, which renderer wrote it, its programs,
 * then `notes`: `// gradc kernels for model "m", rendered for C with OpenMP.` /
 * `// Generated by gradc (compiler/codegen/render/c.ts); do not edit.` /
 * `// Programs: train (37 kernels), predict (10 kernels).`
 */
export function moduleHeader(
  schedule: Schedule,
  meta: ModuleMeta,
  renderedAs: string,
  renderer: string,
  notes: readonly string[] = [],
): string[] {
  const programs = schedule.programs.map((p) => `${p.name} (${p.kernels.length} kernels)`);
  return lineComments([
    `gradc kernels for model "${meta.modelName}", ${renderedAs}.`,
    `Generated by gradc (compiler/codegen/render/${renderer}); do not edit.`,
    `Programs: ${programs.join(', ') || 'none'}.`,
    ...notes,
    buildLine(meta.buildId),
  ]);
}

/**
 * What every generated file names: its model and the build it belongs to. The runtime refuses
 * kernel files whose build id differs from the glue module's (a stale or mixed folder).
 */
export interface ModuleMeta {
  readonly modelName: string;
  readonly buildId: string;
}

/** The module generated TypeScript imports gradc's runtime types from. */
export const RUNTIME_MODULE = 'gradc/runtime';

/** `gradc build <id>`: the header line the runtime reads a C or CUDA source's build from. */
export function buildLine(buildId: string): string {
  return `gradc build ${buildId}`;
}

/** `// line` comments, their text escaped (escape.ts: lineCommentText). */
export function lineComments(lines: readonly string[]): string[] {
  return lines.map((line) => `// ${lineCommentText(line)}`.trimEnd());
}

function shapeText(buffer: BufferDecl | undefined): string {
  return buffer ? `[${buffer.shape.join(',')}]` : '[?]';
}

/**
 * The comment above a kernel: what it computes over which shapes, then the DSL nodes it
 * fuses (its `sources`): `// train_000_matmul: out[600,250] = in0[600,784] · in1[784,250]`.
 */
export function kernelComment(schedule: Schedule, kernel: Kernel): string[] {
  const shape = (id: number) => shapeText(schedule.buffers[id]);
  const ins = kernel.inputs.map((id, i) => `${inputName(i)}${shape(id)}`);
  const head = `${kernel.name}: ${OUTPUT_NAME}${shape(kernel.output)} = ${summary(kernel, ins)}`;
  return lineComments([head, ...kernel.sources.map((s) => `  ${s}`)]);
}

function summary(kernel: Kernel, ins: readonly string[]): string {
  switch (kernel.kind) {
    case 'map':
      return `map(${ins.join(', ')})`;
    case 'reduce':
      return `${kernel.op}(${ins[0]}) over ${kernel.reduceSize} each`;
    case 'matmul': {
      const product = `${ins[0]}${kernel.transA ? 'ᵀ' : ''} · ${ins[1]}${kernel.transB ? 'ᵀ' : ''}`;
      return kernel.kSlices === 1 ? product : `${product} in ${kernel.kSlices} slices of k`;
    }
  }
}

/**
 * Estimated cost of one output element: each primitive applied or drawn counts its record's
 * `cost` (ir/ops/), each load, constant and index 1.
 */
export function exprCost(expr: Expr): number {
  return foldExpr<number>(expr, (e, args) => {
    if (e.op === 'stored') return args[0];
    if (e.op !== 'apply' && e.op !== 'random') return 1;
    const own = e.op === 'random' ? OPS.random_uniform.cost : elementwiseOp(e.kind).cost;
    return args.reduce((sum, a) => sum + a, own);
  });
}

// ---- pieces the GPU renderers (WGSL, CUDA) share ----

/** A support function of a generated module: the name kernels call it by, its template. */
export interface SupportFunction {
  readonly name: string;
  readonly template: string;
}

/**
 * The support functions `code` calls, and those they call in turn, rendered, in `support`
 * order: each is in a module only when something in it calls it.
 */
export function supportFor(code: string, support: readonly SupportFunction[]): string[] {
  const texts = new Map(support.map((s) => [s.name, template<object>(s.template)({}).trimEnd()]));
  const used = new Set<string>();
  let scanned = code;
  for (let grew = true; grew; ) {
    grew = false;
    for (const { name } of support) {
      if (used.has(name) || !scanned.includes(`${name}(`)) continue;
      used.add(name);
      scanned += `\n${texts.get(name)}`;
      grew = true;
    }
  }
  return support.filter((s) => used.has(s.name)).map((s) => texts.get(s.name)!);
}

/** The bits of a float32 as an unsigned hex literal: `0x7f800000u` for +inf. */
export function float32Bits(value: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  return `0x${view.getUint32(0).toString(16).padStart(8, '0')}u`;
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
 * A product's or reduction's epilogue at flat output element `index` for a target that holds
 * the result in a register: `product` is its value there (a float32 expression), an in-place
 * product's old value is `out[index]` (read before the store, which is the element's last
 * access), other loads read their inputs at `index` through their views. The statements, then
 * `out[index] = value;`. Without an epilogue, the plain store of `product`.
 */
export function epilogueStore(lang: CStyleLanguage, kernel: EpilogueKernel, index: string, product: string): string[] {
  if (!kernel.epilogue) return [`${OUTPUT_NAME}[${index}] = ${product};`];
  const reads = epilogueInputs(kernel);
  const load: LoadCode = (input, view) => {
    if (input === reads.product) return product;
    if (input === reads.old) return `${OUTPUT_NAME}[${index}]`;
    const axes = view ? simplifyView(view) : [];
    return `${inputName(input)}[${isIdentityAxes(axes) ? index : indexExpr(lang, axes, index)}]`;
  };
  const { statements, value } = renderExpr(lang, kernel.epilogue, load, index);
  return [...statements, `${OUTPUT_NAME}[${index}] = ${value};`];
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
