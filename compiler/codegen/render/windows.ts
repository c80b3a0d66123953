/**
 * Window reads (`patches`, `unpatches`, an implicit GEMM's A): each input coordinate's
 * numerator, only the checks that can fail, and one guarded read (`windowRead`), with the
 * locals they need declared once per body and, in nested loops, hoisted out of the innermost
 * one where they do not depend on it (`windowLocals`); a window's output coordinates split
 * between a product's row and step (`splitCoordinates`).
 */
import type { Shape } from '../../../ir/types.ts';
import type { WindowView } from '../../../ir/layout.ts';
import { stridesOf, windowAxisRange } from '../../../ir/layout.ts';
import type { CStyleLanguage } from './language.ts';
import { axisPosition, isSimpleIndex, affineText } from './indexing.ts';

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

/** The first axis of more than one element: its position needs no `% size`. */
function firstNonUnitAxis(shape: Shape): number {
  const d = shape.findIndex((size) => size > 1);
  return d < 0 ? 0 : d;
}
