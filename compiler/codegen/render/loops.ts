/**
 * How a map kernel walks its output (`planMapLoop`: one flat loop, rows whose strided loads are
 * a base per row plus a step, or one loop per output axis for window reads) and its body in
 * that loop (`mapParts`); nested loop headers for the targets that write loops (`nestedLoops`).
 */
import { isIdentityAxes, simplifyView, stridesOf } from '../../../ir/layout.ts';
import type { MapKernel } from '../kernel-ir.ts';
import type { CStyleLanguage } from './language.ts';
import { inputName, OUTPUT_NAME, OUTPUT_INDEX } from './language.ts';
import { indexExpr, rowLoad, offsetBy, isSimpleIndex } from './indexing.ts';
import type { LoadCode } from './expr.ts';
import { renderExpr, loadsOf, loadKey } from './expr.ts';
import type { WindowLocals, WindowHoist } from './windows.ts';
import { windowLocals, HOIST_MIN_LOOPS, windowRead } from './windows.ts';

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
