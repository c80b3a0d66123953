/**
 * Row fusion and reduction prologues: work on short rows, and elementwise work feeding a
 * reduction, run inside the kernel that needs it instead of going through memory.
 *
 * A softmax with its cross-entropy is, kernel by kernel, a max over each row of the logits, a
 * subtraction, an exponential, a row sum, a log, a product with the labels, another row sum,
 * and their gradients: a dozen kernels over a [batch, classes] tensor, each writing what the
 * next reads. Row fusion (`fuseRows`) gives each such result that leaves the group one kernel
 * that computes, per row, the row's values it needs (`RowScalars`: the max, the sum of
 * exponentials, ...) from the inputs, then its own elements: the reductions over the row run
 * again wherever a result needs them, on a row that is in registers and cache, instead of
 * being written and read back. What a group member computes is recomputed by each kernel that
 * needs it; rows are at most ROW_WIDTH_MAX long, so that costs a few operations per element.
 *
 * The group: reductions over contiguous rows of 2 to ROW_WIDTH_MAX elements (`rowShape`, one
 * row shape at a time), with the map kernels over the same rows that feed them or read them:
 * element maps (one output per element, reading members at their own element and per-row
 * members broadcast along the row) and per-row maps (one output per row). Maps that read
 * through a window, draw random numbers or update in place stay out.
 *
 * Prologue fusion (`fusePrologues`): a map kernel whose output only a reduction reads, as the
 * reduced input, becomes that reduction's prologue (`ReduceKernel.prologue`): the squares
 * before a batch normalisation's variance sum, or a per-row loss before the sum over the batch.
 *
 * Both keep every value as the unfused kernels compute it: the same operations on the same
 * operands, each reduction folded in the same order.
 */
import { isIdentityAxes, simplifyView } from '../ir/layout.ts';
import type { StridedView } from '../ir/layout.ts';
import type { Expr, Kernel, MapKernel, ReduceKernel, RowScalar } from './codegen/kernel-ir.ts';
import { MAX_KERNEL_INPUTS, exprNodes, foldExpr, shortRows, withArgs, withIdentity } from './codegen/kernel-ir.ts';

/** Rows of `width` contiguous elements, `rows` of them. */
export interface RowShape {
  readonly rows: number;
  readonly width: number;
}

/** The most nodes a row kernel's expressions may hold, recomputation counted. */
export const ROW_EXPR_MAX_NODES = 2000;

/**
 * The longest chain of members a row kernel inlines; a member further up is read from memory
 * (it stays a kernel), so a deep chain of row work builds without deep recursion.
 */
export const ROW_INLINE_MAX_DEPTH = 64;

function isIdentity(view: StridedView | undefined): boolean {
  return !view || isIdentityAxes(simplifyView(view));
}

/** Whether `view` reads, for element r·width + j of a [rows, width] result, element r. */
function isRowBroadcast(view: StridedView | undefined, { rows, width }: RowShape): boolean {
  if (!view) return false;
  return JSON.stringify(simplifyView(view)) === JSON.stringify(simplifyView({ outShape: [rows, width], inStrides: [1, 0] }));
}

/** The rows of a reduction over short contiguous rows with nothing fused into it yet (`shortRows`). */
export function rowShape(kernel: Kernel): RowShape | undefined {
  if (kernel.kind !== 'reduce' || kernel.epilogue || kernel.prologue) return undefined;
  return shortRows(kernel);
}

/** A map kernel that may join a row group: plain elementwise work read and written element by element. */
function isPlainMap(kernel: Kernel): kernel is MapKernel {
  if (kernel.kind !== 'map' || kernel.rows) return false;
  return exprNodes(kernel.expr).every(
    (e) => e.op !== 'random' && !(e.op === 'load' && (e.window || e.input === kernel.inputs.length)),
  );
}

/** How a kernel takes part in a row group of `shape`. */
type Part = 'element' | 'row' | 'reduce';

function partOf(kernel: Kernel, shape: RowShape): Part | undefined {
  const reduced = rowShape(kernel);
  if (reduced) return reduced.rows === shape.rows && reduced.width === shape.width ? 'reduce' : undefined;
  if (!isPlainMap(kernel)) return undefined;
  if (kernel.size === shape.rows * shape.width) return 'element';
  return kernel.size === shape.rows ? 'row' : undefined;
}

/**
 * Whether a `reader` part can compute a `producer` part it reads through `view` itself: an
 * element reads elements at its own element and per-row values broadcast along its row; a
 * per-row value reads per-row values at its own row; a reduction reads elements (its rows).
 */
function inlines(reader: Part, producer: Part, view: StridedView | undefined, shape: RowShape): boolean {
  if (reader === 'reduce') return producer === 'element';
  if (reader === 'element') return producer === 'element' ? isIdentity(view) : isRowBroadcast(view, shape);
  return producer !== 'element' && isIdentity(view);
}

/** An expression under construction: loads name buffer ids, not input numbers. */
type BufferExpr = Expr;

/** A view over a [rows] result as the same reads from element r·width + j of [rows, width]. */
function alongRow(view: StridedView | undefined, { rows, width }: RowShape): StridedView {
  const base = view ?? { outShape: [rows], inStrides: [1] };
  return { outShape: [...base.outShape, width], inStrides: [...base.inStrides, 0] };
}

/** Builds one row kernel's expressions, inlining the group members it reads. */
class RowKernelBuilder {
  readonly scalars: RowScalar[] = [];
  private readonly scalarOf = new Map<number, number>();
  private readonly elements = new Map<number, BufferExpr>();
  /** The members this kernel computes, itself included. */
  readonly used = new Set<number>();
  private depth = 0;

  constructor(
    private readonly kernels: readonly Kernel[],
    private readonly producerOf: ReadonlyMap<number, number>,
    private readonly parts: ReadonlyMap<number, Part>,
    private readonly shape: RowShape,
  ) {}

  /** The member that writes `buffer`, with its part, if the group has one. */
  private member(buffer: number): { at: number; part: Part } | undefined {
    const at = this.producerOf.get(buffer);
    const part = at === undefined ? undefined : this.parts.get(at);
    return at === undefined || part === undefined ? undefined : { at, part };
  }

  /** Kernel `at` (an element map) at element r·width + j. */
  element(at: number): BufferExpr {
    const known = this.elements.get(at);
    if (known) return known;
    const kernel = this.kernels[at] as MapKernel;
    const expr = foldExpr<BufferExpr>(kernel.expr, (e, args) => {
      if (e.op !== 'load') return withArgs(e, args);
      const buffer = kernel.inputs[e.input];
      const member = this.member(buffer);
      if (this.inlinable(member) && inlines('element', member.part, e.view, this.shape)) return this.value(member);
      return { ...e, input: buffer };
    });
    this.elements.set(at, expr);
    return expr;
  }

  /**
   * Kernel `at` (a per-row map) as a per-row value computed once per row (its loads read the
   * same element at every position of the row).
   */
  row(at: number): BufferExpr {
    const known = this.scalarOf.get(at);
    if (known !== undefined) return { op: 'scalar', index: known };
    const kernel = this.kernels[at] as MapKernel;
    const expr = foldExpr<BufferExpr>(kernel.expr, (e, args) => {
      if (e.op === 'index') return { ...e, view: alongRow(e.view, this.shape) };
      if (e.op !== 'load') return withArgs(e, args);
      const buffer = kernel.inputs[e.input];
      const member = this.member(buffer);
      if (this.inlinable(member) && inlines('row', member.part, e.view, this.shape)) return this.value(member);
      return { op: 'load', input: buffer, view: alongRow(e.view, this.shape) };
    });
    return this.pushScalar(at, 'value', expr);
  }

  /** Per-row value number `scalars.length` for member `at`, read through a `scalar` leaf. */
  private pushScalar(at: number, op: RowScalar['op'], expr: BufferExpr): BufferExpr {
    const index = this.scalars.length;
    this.scalars.push({ op, expr });
    this.scalarOf.set(at, index);
    return { op: 'scalar', index };
  }

  /** How many per-row values are reductions over the row. */
  get reductions(): number {
    return this.scalars.filter((s) => s.op !== 'value').length;
  }

  /** Kernel `at` (a row reduction) as a per-row value, computed once per row. */
  scalar(at: number): BufferExpr {
    const known = this.scalarOf.get(at);
    if (known !== undefined) return { op: 'scalar', index: known };
    const kernel = this.kernels[at] as ReduceKernel;
    const buffer = kernel.inputs[0];
    const member = this.member(buffer);
    const expr = this.inlinable(member) && member.part === 'element' ? this.value(member) : { op: 'load' as const, input: buffer };
    return this.pushScalar(at, kernel.op, expr);
  }

  /** Member `member`'s value as its reader saw it: read back from memory, so rounded to float32. */
  value(member: { at: number; part: Part }): BufferExpr {
    this.used.add(member.at);
    this.depth++;
    try {
      const value =
        member.part === 'element' ? this.element(member.at) : member.part === 'row' ? this.row(member.at) : this.scalar(member.at);
      return stored(value);
    } finally {
      this.depth--;
    }
  }

  /** Whether a member read now can be inlined, or is read from memory. */
  private inlinable(member: { at: number; part: Part } | undefined): member is { at: number; part: Part } {
    return !!member && this.depth < ROW_INLINE_MAX_DEPTH;
  }
}

function stored(expr: Expr): Expr {
  return expr.op === 'stored' || expr.op === 'load' ? expr : { op: 'stored', args: [expr] };
}

/**
 * Nodes of expression trees counted with repetition (a subtree shared in memory counts once per
 * use), without recursion.
 */
function treeSize(roots: readonly Expr[]): number {
  const sizes = new Map<Expr, number>();
  const stack: Expr[] = [...roots];
  while (stack.length > 0) {
    const e = stack[stack.length - 1];
    if (sizes.has(e)) {
      stack.pop();
      continue;
    }
    const args = 'args' in e ? e.args : [];
    const pending = args.filter((a) => !sizes.has(a));
    if (pending.length > 0) {
      stack.push(...pending);
      continue;
    }
    stack.pop();
    sizes.set(e, 1 + args.reduce((sum, a) => sum + sizes.get(a)!, 0));
  }
  return roots.reduce((sum, e) => sum + sizes.get(e)!, 0);
}

/** `exprs` with buffer loads renumbered as the inputs they become, in first-use order. */
function withInputs(exprs: readonly BufferExpr[]): { inputs: number[]; exprs: Expr[] } {
  const inputs: number[] = [];
  const renumbered = exprs.map((expr) =>
    foldExpr<Expr>(expr, (e, args) => {
      if (e.op !== 'load') return withArgs(e, args);
      let input = inputs.indexOf(e.input);
      if (input < 0) input = inputs.push(e.input) - 1;
      return { ...e, input };
    }),
  );
  return { inputs, exprs: renumbered };
}

/**
 * The row kernel computing member `at` of a group, or undefined when it would read more than
 * MAX_KERNEL_INPUTS buffers, grow past ROW_EXPR_MAX_NODES, or needs no per-row value.
 */
function rowKernel(
  kernels: readonly Kernel[],
  at: number,
  builder: RowKernelBuilder,
  part: Part,
  shape: RowShape,
): MapKernel | undefined {
  const kernel = kernels[at];
  const value = builder.value({ at, part });
  // One reduction over the row and nothing per element is a reduction with a prologue and an
  // epilogue (fusePrologues, compiler/fuse.ts), which reads each element once.
  if (builder.reductions === 0 || (part !== 'element' && builder.reductions === 1)) return undefined;
  // The kernel's own value is stored as it is.
  const own = value.op === 'stored' ? value.args[0] : value;
  const all = [...builder.scalars.map((s) => s.expr), own];
  if (treeSize(all) > ROW_EXPR_MAX_NODES) return undefined;
  const { inputs, exprs } = withInputs(all);
  if (inputs.length > MAX_KERNEL_INPUTS) return undefined;
  const scalars = builder.scalars.map((s, k) => ({ op: s.op, expr: exprs[k] }));
  const perRow = part === 'element' ? shape.width : 1;
  const sources = [...builder.used].sort((a, b) => a - b).flatMap((i) => kernels[i].sources);
  const row: MapKernel = {
    kind: 'map',
    name: kernel.name,
    inputs,
    output: kernel.output,
    sources,
    size: shape.rows * perRow,
    expr: exprs[exprs.length - 1],
    rows: { width: shape.width, perRow, scalars },
  };
  // At the member's place, named a row kernel: `train_004_map` → `train_004_rows`.
  return withIdentity(row, kernel.identity?.role === 'compute' ? { ...kernel.identity, work: 'rows' } : kernel.identity);
}

/**
 * The members of the row group of `shape`: the reductions of that shape, and the maps over its
 * rows connected to them through reads one of them can inline.
 */
function groupOf(kernels: readonly Kernel[], shape: RowShape, producerOf: ReadonlyMap<number, number>): Map<number, Part> {
  const parts = new Map<number, Part>();
  const queue: number[] = [];
  kernels.forEach((k, i) => {
    if (partOf(k, shape) === 'reduce') {
      parts.set(i, 'reduce');
      queue.push(i);
    }
  });
  const readers = (buffer: number) => kernels.flatMap((k, i) => (k.inputs.includes(buffer) ? [i] : []));
  while (queue.length > 0) {
    const at = queue.pop()!;
    const part = parts.get(at)!;
    const kernel = kernels[at];
    // Producers this member inlines.
    for (const [input, buffer] of kernel.inputs.entries()) {
      const p = producerOf.get(buffer);
      if (p === undefined || parts.has(p)) continue;
      const producerPart = partOf(kernels[p], shape);
      if (!producerPart || producerPart === 'reduce') continue;
      if (readViews(kernel, input).every((view) => inlines(part, producerPart, view, shape))) {
        parts.set(p, producerPart);
        queue.push(p);
      }
    }
    // Readers that inline this member.
    for (const r of readers(kernel.output)) {
      if (parts.has(r)) continue;
      const readerPart = partOf(kernels[r], shape);
      if (!readerPart) continue;
      const input = kernels[r].inputs.indexOf(kernel.output);
      if (readViews(kernels[r], input).every((view) => inlines(readerPart, part, view, shape))) {
        parts.set(r, readerPart);
        queue.push(r);
      }
    }
  }
  return parts;
}

/** The views through which `kernel` reads its input `input` (a reduction reads its rows: identity). */
function readViews(kernel: Kernel, input: number): (StridedView | undefined)[] {
  if (kernel.kind !== 'map') return [undefined];
  return exprNodes(kernel.expr).flatMap((e) => (e.op === 'load' && e.input === input ? [e.view] : []));
}

/** Whether every read of member `at`'s output is one its reader inlines. */
function readOnlyInside(kernels: readonly Kernel[], at: number, parts: ReadonlyMap<number, Part>, shape: RowShape): boolean {
  const buffer = kernels[at].output;
  return kernels.every((k, r) => {
    const input = k.inputs.indexOf(buffer);
    if (input < 0) return true;
    const readerPart = parts.get(r);
    return !!readerPart && readViews(k, input).every((view) => inlines(readerPart, parts.get(at)!, view, shape));
  });
}

/** `kernels` without the group members nothing reads any more. */
function withoutUnread(kernels: readonly Kernel[], members: ReadonlySet<number>, keep: ReadonlySet<number>): Kernel[] {
  let list = kernels.map((k, i) => ({ k, member: members.has(i) }));
  for (;;) {
    const read = new Set(list.flatMap(({ k }) => k.inputs));
    const next = list.filter(({ k, member }) => !member || keep.has(k.output) || read.has(k.output));
    if (next.length === list.length) return next.map(({ k }) => k);
    list = next;
  }
}

/**
 * A program's kernels (before its parameter copies) with each row group's results computed by
 * row kernels: every member whose output is read outside the group, or kept (`keep`: buffers
 * read after the program), becomes a row kernel at its place, and members nothing reads any
 * more go.
 */
export function fuseRows(kernels: readonly Kernel[], keep: ReadonlySet<number>): Kernel[] {
  const shapes = new Map<string, RowShape>();
  for (const k of kernels) {
    const shape = rowShape(k);
    if (shape) shapes.set(`${shape.rows}x${shape.width}`, shape);
  }
  let list = [...kernels];
  for (const shape of shapes.values()) {
    const producerOf = new Map(list.map((k, i) => [k.output, i] as const));
    const parts = groupOf(list, shape, producerOf);
    const members = [...parts.keys()].sort((a, b) => a - b);
    const fused = new Map<number, MapKernel>();
    for (const at of members) {
      if (!keep.has(list[at].output) && readOnlyInside(list, at, parts, shape)) continue;
      const builder = new RowKernelBuilder(list, producerOf, parts, shape);
      const kernel = rowKernel(list, at, builder, parts.get(at)!, shape);
      if (kernel) fused.set(at, kernel);
    }
    if (fused.size === 0) continue;
    const replaced = list.map((k, i) => fused.get(i) ?? k);
    list = withoutUnread(replaced, new Set(members), keep);
  }
  return list;
}

/**
 * A reduction whose reduced input is written by a map kernel that nothing else reads: that map
 * as the reduction's prologue, the map's inputs as the reduction's. A map computing several
 * elements per row from per-row values (`perRow` > 1) stays a map: as a prologue it would
 * compute its row's values once per element.
 */
function withPrologue(reduce: ReduceKernel, map: MapKernel): ReduceKernel {
  return {
    ...reduce,
    inputs: map.inputs,
    prologue: map.rows ? { expr: stored(map.expr), rows: map.rows } : { expr: stored(map.expr) },
    sources: [...map.sources, ...reduce.sources],
  };
}

function canBePrologue(map: Kernel): map is MapKernel {
  if (map.kind !== 'map' || (map.rows && map.rows.perRow !== 1)) return false;
  return exprNodes(map.expr).every((e) => !(e.op === 'load' && (e.window || e.input === map.inputs.length)));
}

/**
 * A program's kernels with map kernels fused into the reductions that read them as prologues
 * (`withPrologue`), where the map's output is a temporary only that reduction reads; the
 * reduction stays at its place, the map goes.
 */
export function fusePrologues(kernels: readonly Kernel[], keep: ReadonlySet<number>): Kernel[] {
  let list = [...kernels];
  for (let at = 0; at < list.length; at++) {
    const reduce = list[at];
    if (reduce.kind !== 'reduce' || reduce.prologue || reduce.epilogue) continue;
    const buffer = reduce.inputs[0];
    const p = list.findIndex((k) => k.output === buffer);
    if (p < 0 || p > at || keep.has(buffer) || !canBePrologue(list[p])) continue;
    if (list.some((k, i) => i !== at && k.inputs.includes(buffer))) continue;
    const fused = withPrologue(reduce, list[p] as MapKernel);
    list = list.flatMap((k, i) => (i === at ? [fused] : i === p ? [] : [k]));
    at--;
  }
  return list;
}
