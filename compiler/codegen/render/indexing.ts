/**
 * Index arithmetic as text: the input index a strided view reads at an output index, with its
 * constants baked in and the identity parts left out (`indexExpr`), a view split into a per-row
 * base plus a column stride (`rowLoad`), and affine sums of index terms (`affineText`).
 */
import type { StridedView, ViewAxis } from '../../../ir/layout.ts';
import { simplifyView } from '../../../ir/layout.ts';
import type { CStyleLanguage } from './language.ts';

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

/** `(v / inner) % size`, the identity parts left out. */
export function axisPosition(lang: CStyleLanguage, v: string, inner: number, size: number, outermost: boolean): string {
  const quotient = inner === 1 ? v : lang.indexDiv(v, inner);
  return outermost ? quotient : `${quotient} % ${size}`;
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

/** `a + b` with zeros left out. */
export function offsetSum(a: string, b: string): string {
  if (b === '0') return a;
  return a === '0' ? b : `${a} + ${b}`;
}

/** True for index expressions that need no local: `0`, `o`, `17`. */
export function isSimpleIndex(text: string): boolean {
  return /^[A-Za-z_0-9]+$/.test(text);
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
