/**
 * What a C-like target language is, for every renderer (C, TypeScript, WGSL, CUDA):
 * `CStyleLanguage` (float literals, index division, local declarations, guarded reads, the
 * `codeForOp` table checked with `satisfies CodeForOp`; plain data and small functions, no
 * if-chains on a target name) and `CFunctionLanguage` for the targets whose kernels are
 * functions of their buffers (C, TypeScript, CUDA); the helpers the `codeForOp` tables are
 * written with; float literal digits and bits; and the names every kernel gives its buffers
 * (`in0`, ..., `out`) and its output element (`i`).
 */
import type { ComputedKind } from '../../../ir/ops/index.ts';
import type { SupportNeeds } from './support.ts';

/** Emits one primitive applied to already-rendered atomic operands. */
export type EmitFn = (args: readonly string[]) => string;

/**
 * A renderer's table: one emitter per elementwise primitive a kernel computes, so tsc names a
 * missing one (a pass-through primitive such as `stop_gradient` never reaches a kernel).
 */
export type CodeForOp = Readonly<Record<ComputedKind, EmitFn>>;

/**
 * What differs between C-like targets, as one module writes it: a renderer makes a language per
 * module (`cLanguage()`, ...), whose emitters record in `support` the support functions the
 * code they write calls.
 */
export interface CStyleLanguage {
  readonly name: string;
  /** The support functions the code emitted so far calls (`maximum`, `random`, `stored`, ...). */
  readonly support: SupportNeeds;
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
   * `gradc_uniform(seed, stream, element, counter)`, `counter` a float atom to read as a word
   * (recorded in `support`).
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

/** `prefix('-')([x])` → `-x`. */
export function prefix(op: string): EmitFn {
  return ([x]) => `${op}${x}`;
}

/** `(c ? in0[k] : 0.0f)`: a read taken only where `condition` holds (C, CUDA, TypeScript). */
export function conditionalRead(buffer: string, condition: string, index: string, fill: string): string {
  return `(${condition} ? ${buffer}[${index}] : ${fill})`;
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

/** The bits of a float32 as an unsigned hex literal: `0x7f800000u` for +inf. */
export function float32Bits(value: number): string {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  return `0x${view.getUint32(0).toString(16).padStart(8, '0')}u`;
}

// ---- names in generated kernels ----

/** `in0` to `in<count - 1>`, the names of a kernel's input buffers. */
export function inputNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => inputName(i));
}

/** `in<input>`. */
export function inputName(input: number): string {
  return `in${input}`;
}

/** The name of a kernel's output buffer. */
export const OUTPUT_NAME = 'out';

/** The output index of a map kernel's element, in scope wherever its expression is rendered. */
export const OUTPUT_INDEX = 'i';
