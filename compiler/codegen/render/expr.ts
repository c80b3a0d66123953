/**
 * Fused expressions as statements: an `Expr` tree rendered as one local per inner value and the
 * root inline (`renderExpr`), the loads an expression makes (`loadsOf`), its estimated cost per
 * element (`exprCost`), and an epilogue rendered at an output element with its store
 * (`epilogueStore`), which every target's products and reductions share.
 */
import type { PrimKind } from '../../../ir/types.ts';
import type { StridedView, WindowView } from '../../../ir/layout.ts';
import { isIdentityAxes, simplifyView } from '../../../ir/layout.ts';
import { OPS, elementwiseOp } from '../../../ir/ops/index.ts';
import type { Expr, EpilogueKernel } from '../kernel-ir.ts';
import { epilogueInputs, exprNodes, foldExpr } from '../kernel-ir.ts';
import type { EmitFn, CStyleLanguage } from './language.ts';
import { inputName, OUTPUT_NAME, OUTPUT_INDEX } from './language.ts';
import { indexExpr } from './indexing.ts';

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

function emitterFor(lang: CStyleLanguage, kind: PrimKind): EmitFn {
  const table: Readonly<Record<string, EmitFn>> = lang.codeForOp;
  const emit = table[kind];
  if (!emit) throw new Error(`${lang.name} renderer: no kernel computes ${kind}`);
  return emit;
}

/** The local holding per-row value `k` of the current row: `rs0`. */
export function rowScalarName(k: number): string {
  return `rs${k}`;
}

/** Loads at element index `index` through their views (a row kernel's or a prologue's: no windows, no in-place reads). */
export function viewLoad(lang: CStyleLanguage, index: string): LoadCode {
  return (input, view) => {
    const axes = view ? simplifyView(view) : [];
    return `${inputName(input)}[${isIdentityAxes(axes) ? index : indexExpr(lang, axes, index)}]`;
  };
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
