/**
 * The kernel IR: what every renderer takes. A program is a fixed list of kernels over
 * statically sized float32 buffers; each kernel is one of three loop structures, lowered once
 * here and rendered per backend.
 */
import type { PrimKind, Shape } from '../../ir/types.ts';
import type { StridedView, WindowView } from '../../ir/layout.ts';
import { simplifyView } from '../../ir/layout.ts';

/**
 * The most input buffers one kernel reads. Fusion stops below it: WebGPU's default limit is 8
 * storage buffers per shader stage (Chrome's too), the inputs and the output.
 */
export const MAX_KERNEL_INPUTS = 7;

/** data: fed each step; param/state: persistent; hyper: a fed scalar; temp: internal. */
export type BufferRole = 'data' | 'param' | 'state' | 'hyper' | 'temp';

export interface BufferDecl {
  readonly id: number;
  readonly name: string;
  readonly shape: Shape;
  readonly size: number;
  readonly role: BufferRole;
  /**
   * The allocation the buffer lives in. Temporaries whose lifetimes do not overlap share one
   * (compiler/memory.ts); every other buffer has its own. Storages are numbered densely.
   */
  readonly storage: number;
}

/**
 * An elementwise expression evaluated at output index `i`. A load whose `input` equals the
 * kernel's number of inputs reads the output buffer itself at `i` (no view): an in-place
 * update, where a parameter's new value overwrites its old one element by element.
 */
export type Expr =
  /**
   * inputs[input] at `i`, or at the index `view` maps `i` to (broadcast, transpose), or through
   * `window` (convolution patches and their adjoint's terms; never with `view`).
   */
  | { readonly op: 'load'; readonly input: number; readonly view?: StridedView; readonly window?: WindowView }
  | { readonly op: 'const'; readonly value: number }
  /** The index `view` maps the output index `i` to, as a float (iota: the index along an axis). */
  | { readonly op: 'index'; readonly view: StridedView }
  | RandomExpr<Expr>
  | { readonly op: 'apply'; readonly kind: PrimKind; readonly args: readonly Expr[] }
  /** Per-row value number `index` of the row the element is in (`RowScalars`). */
  | { readonly op: 'scalar'; readonly index: number }
  /**
   * args[0] rounded to float32 as storing it would round it: where a fused kernel uses a value
   * that the unfused kernels passed through memory. Only a target that computes in more than
   * float32 (TypeScript, in float64) does anything here.
   */
  | { readonly op: 'stored'; readonly args: readonly Expr[] };

/**
 * The most elements a row of a row kernel may have (`RowScalars.width`): every element is
 * read once per per-row value and again for the outputs, in registers and cache.
 */
export const ROW_WIDTH_MAX = 256;

/**
 * The rows of a reduction over contiguous rows of 2 to ROW_WIDTH_MAX elements: max over axis 1
 * of [600,10] → 600 rows of 10; a sum over axis 0, or over rows of 1000, → undefined. Every
 * target folds such a reduction serially, j ascending, as a row kernel does.
 */
export function shortRows(kernel: ReduceKernel): { readonly rows: number; readonly width: number } | undefined {
  const { outSize: rows, reduceSize: width } = kernel;
  if (width < 2 || width > ROW_WIDTH_MAX) return undefined;
  const same = (a: StridedView, b: StridedView) => JSON.stringify(simplifyView(a)) === JSON.stringify(simplifyView(b));
  const contiguous =
    same(kernel.outView, { outShape: [rows], inStrides: [width] }) && same(kernel.redView, { outShape: [width], inStrides: [1] });
  return contiguous ? { rows, width } : undefined;
}

/**
 * One per-row value: `op` over the row's elements of `expr`, or, for `value`, `expr` itself at
 * the row's first element (work done once per row, such as the log of a row sum, whose loads
 * read the same element at every position of the row).
 */
export interface RowScalar {
  readonly op: 'sum' | 'max' | 'value';
  readonly expr: Expr;
}

/**
 * Per-row values a kernel computes once per row before its own expression reads them through
 * `scalar` leaves (compiler/rows.ts): a softmax's max and sum of exponentials, a cross-entropy's
 * row sum. The kernel's elements come `perRow` to a row (element x is in row floor(x /
 * perRow)): `width` for a [rows, width] result, 1 for one value per row. Value k of row r is
 * `op` folded, j ascending from its identity (0 for a sum, -inf for a max), over j < width of
 * `expr` at element index r·width + j (a `value`: `expr` at r·width alone), whose loads read inputs at that index through their
 * views and whose `scalar` leaves read values before k. Each row reads its inputs where they
 * are, so a row kernel keeps a row in registers and cache instead of writing it between
 * kernels.
 */
export interface RowScalars {
  readonly width: number;
  readonly perRow: number;
  readonly scalars: readonly RowScalar[];
}

/**
 * A uniform float in [0, 1) drawn for output element `i`: the top 24 bits of the first word of
 * Philox4x32-10 with key (`seed`, `stream`) and counter (i, args[0] as a 32-bit word, 0, 0)
 * (ir/ops/random.ts, `philoxUniform`). `args` holds that one counter expression.
 */
export interface RandomExpr<E> {
  readonly op: 'random';
  readonly seed: number;
  readonly stream: number;
  readonly args: readonly E[];
}

/**
 * What a scheduled kernel is, as the parts its name is made of (`kernelName`): the name is
 * built from these fields whenever one of them changes, and never read back.
 */
export type KernelIdentity =
  /**
   * `<program>_<position>_<work>` (`train_004_matmul`): computes part of the program's graph.
   * `position` is the kernel's index in the program (three digits at least), `work` what the
   * name says it does: `map`, `copy`, `rows`, `sum`, `reduce_max` or `matmul`.
   */
  | { readonly role: 'compute'; readonly program: string; readonly position: number; readonly work: string }
  /**
   * `<program>_assign_<assigns>_b<output>` (`train_assign_fc1_w_b7`): copies the new value of
   * parameter or state `assigns` into its buffer at the end of a step. In the name, characters of
   * `assigns` other than letters and digits become `_`, and the output buffer's id keeps names
   * unique (`a.b` and `a_b` both give `a_b`).
   */
  | { readonly role: 'assign'; readonly program: string; readonly assigns: string };

/** The name of a kernel with identity `identity` writing buffer `output`. */
export function kernelName(identity: KernelIdentity, output: number): string {
  if (identity.role === 'assign') {
    return `${identity.program}_assign_${identity.assigns.replace(/[^A-Za-z0-9]/g, '_')}_b${output}`;
  }
  return `${identity.program}_${String(identity.position).padStart(3, '0')}_${identity.work}`;
}

/**
 * `kernel` with `identity` and the name made of it (and of its output). A kernel without an
 * identity (one built by hand, outside the scheduler) keeps its name.
 */
export function withIdentity<K extends Kernel>(kernel: K, identity: KernelIdentity | undefined): K {
  return identity ? { ...kernel, identity, name: kernelName(identity, kernel.output) } : kernel;
}

/** The parameter or state a kernel copies a new value into (an `assign` kernel), else undefined. */
export function assignedBy(kernel: Kernel): string | undefined {
  return kernel.identity?.role === 'assign' ? kernel.identity.assigns : undefined;
}

interface KernelBase {
  /** The name renderers give the kernel and launch lists call it by; see `KernelIdentity`. */
  readonly name: string;
  /**
   * What the name is made of: set on every kernel the scheduler makes, absent on one built by
   * hand (tests, a renderer's helper kernels), whose name is its own.
   */
  readonly identity?: KernelIdentity;
  /** Buffer ids read, in parameter order. */
  readonly inputs: readonly number[];
  /** Buffer id written. */
  readonly output: number;
  /** One line per graph node the kernel computes: `%id kind  file:line:col label`. */
  readonly sources: readonly string[];
}

/** out[i] = expr(i) for i < size: fused elementwise work. */
export interface MapKernel extends KernelBase {
  readonly kind: 'map';
  readonly size: number;
  readonly expr: Expr;
  /** Set on a row kernel: the per-row values `expr` reads, computed once per row. */
  readonly rows?: RowScalars;
}

/**
 * Elementwise work on a reduction's input (compiler/rows.ts): the reduced element at input
 * index x is `expr` at x, whose loads read the kernel's inputs at x through their views, and,
 * with `rows`, whose `scalar` leaves read the per-row values of x's row.
 */
export interface Prologue {
  readonly expr: Expr;
  readonly rows?: RowScalars;
}

/** out[o] = reduce_r in[outView(o) + redView(r)]. */
export interface ReduceKernel extends KernelBase {
  readonly kind: 'reduce';
  readonly op: 'sum' | 'max';
  readonly outSize: number;
  readonly reduceSize: number;
  readonly outView: StridedView;
  readonly redView: StridedView;
  /**
   * Set when the reduced elements are computed, not read: element x (x = outView(o) +
   * redView(r)) is the prologue at x, and input 0 is no longer the reduced buffer but the
   * prologue's first input. Without it, element x is input 0 at x.
   */
  readonly prologue?: Prologue;
  /**
   * Set on a reduction that updates its output in place (compiler/in-place.ts), as a product's
   * `inPlace`: the epilogue reads the output's old value through input number `inputs.length +
   * 1`, and the reduction's value never goes through the output buffer.
   */
  readonly inPlace?: true;
  /**
   * Elementwise work on the result (compiler/fuse.ts): out[o] = epilogue at output element o,
   * where a load of input number `inputs.length` is the reduction's value there and other loads
   * read their inputs at o through their views, as a map kernel's do (input 0 is the reduced
   * input, which it may read that way too). Never on the partial reduce of a split reduction
   * (only its total, which a short reduce over the slices computes, takes one).
   */
  readonly epilogue?: Expr;
}

/**
 * out[m,n] = op(A)[m,k] op(B)[k,n], op = identity or transpose. With `kSlices` S > 1 (S divides
 * k), out is [S,m,n] and slice s holds the product over p in [s·k/S, (s+1)·k/S) only: partial
 * products that a reduce kernel adds (compiler/split.ts).
 */
export interface MatmulKernel extends KernelBase {
  readonly kind: 'matmul';
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly kSlices: number;
  /**
   * Set for an implicit GEMM: A is not in memory but read through this window view of input 0
   * (a convolution's patches, never copied). A's element at storage index f (A(i,p) at
   * i·k + p, or p·m + i when transposed) is the window read of output index f.
   */
  readonly aWindow?: WindowView;
  /**
   * Elementwise work on the product (compiler/fuse.ts): out[e] = epilogue at output element e
   * (e = i·n + j), where a load of input number `inputs.length` is the product's value there and
   * other loads read inputs 2 and on as a map kernel's do (inputs 0 and 1 are the operands,
   * which it may read too). Never on a split product.
   */
  readonly epilogue?: Expr;
  /**
   * Set on a product that updates its output in place (compiler/in-place.ts): the output buffer
   * is a parameter or state that holds its old value when the kernel starts, and the epilogue
   * computes the new one from it. The epilogue's loads of input number `inputs.length + 1`
   * (`epilogueInputs(kernel).old`) read that old value at the element, always with no view;
   * the product's value stays input `inputs.length` and never goes through the output buffer,
   * since each element's old value must still be there when its epilogue runs. Only with an
   * epilogue that reads the old value.
   */
  readonly inPlace?: true;
}

export type Kernel = MapKernel | ReduceKernel | MatmulKernel;

/** A kernel that can carry an epilogue: a matrix product or a reduction. */
export type EpilogueKernel = MatmulKernel | ReduceKernel;

/**
 * The input numbers through which an epilogue reads what is not an input buffer: `product`,
 * the product's or reduction's value at the element, and, for an in-place product, `old`, the
 * output buffer's value there before the kernel runs (undefined otherwise).
 */
export function epilogueInputs(kernel: EpilogueKernel): { readonly product: number; readonly old?: number } {
  const product = kernel.inputs.length;
  return kernel.inPlace ? { product, old: product + 1 } : { product };
}

export interface ProgramIO {
  readonly name: string;
  readonly buffer: number;
}

export interface Program {
  readonly name: string;
  readonly kernels: readonly Kernel[];
  /** Buffers the caller fills before a run (data and hyperparameters). */
  readonly feeds: readonly ProgramIO[];
  /** Buffers the caller may read after a run (loss, predictions). */
  readonly outputs: readonly ProgramIO[];
}

export interface Schedule {
  readonly buffers: readonly BufferDecl[];
  readonly programs: readonly Program[];
}

/** Every kernel of a schedule, in program order. */
export function allKernels(schedule: Schedule): Kernel[] {
  return schedule.programs.flatMap((p) => p.kernels);
}

/**
 * Folds a tree bottom-up without recursion, so that a fused chain of any length fits in the
 * JavaScript stack: `combine` sees each node after all of its children, children left to right
 * (the order of a recursive post-order walk, so leaves come in their left-to-right order), with
 * the children's results. `children` returns an empty list for a leaf.
 * `foldTree(add(load 0, neg(load 1)), ...)` combines load 0, load 1, neg, add.
 */
export function foldTree<N, R>(
  root: N,
  children: (node: N) => readonly N[],
  combine: (node: N, results: R[]) => R,
): R {
  interface Frame {
    readonly node: N;
    readonly children: readonly N[];
    readonly results: R[];
  }
  const stack: Frame[] = [{ node: root, children: children(root), results: [] }];
  for (;;) {
    const top = stack[stack.length - 1];
    if (top.results.length < top.children.length) {
      const child = top.children[top.results.length];
      stack.push({ node: child, children: children(child), results: [] });
      continue;
    }
    stack.pop();
    const result = combine(top.node, top.results);
    if (stack.length === 0) return result;
    stack[stack.length - 1].results.push(result);
  }
}

const NO_ARGS: readonly never[] = [];

/** An expression's arguments: an apply's operands, none for a leaf (load, constant, index). */
export function exprArgs(expr: Expr): readonly Expr[] {
  return 'args' in expr ? expr.args : NO_ARGS;
}

/** `expr` with its arguments replaced by `args`; a leaf as it is. */
export function withArgs(expr: Expr, args: readonly Expr[]): Expr {
  return 'args' in expr ? { ...expr, args } : expr;
}

/** `foldTree` over a kernel expression. */
export function foldExpr<R>(expr: Expr, combine: (expr: Expr, args: R[]) => R): R {
  return foldTree(expr, exprArgs, combine);
}

/** Every node of an expression, without recursion, in the order of `foldExpr`. */
export function exprNodes(expr: Expr): Expr[] {
  const nodes: Expr[] = [];
  foldExpr<void>(expr, (e) => {
    nodes.push(e);
  });
  return nodes;
}
