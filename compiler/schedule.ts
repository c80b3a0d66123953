/**
 * Scheduling: turns optimised graphs into programs of kernels over static buffers.
 *
 * Elementwise nodes are fused into the expression of their single consumer; broadcast and
 * transpose become strided loads; reshape aliases its input's buffer. A node is given its own
 * buffer when it is an output, when more than one node reads it, or when a reduction, a matmul
 * or a movement needs it in memory. Updated parameters and states are computed into temporary
 * buffers and copied back at the end of the step, so no kernel reads a half-updated value.
 * Long reductions with few outputs become partial results plus a short total (compiler/split.ts).
 * Every buffer starts with a storage of its own; compiler/memory.ts then lets temporaries share.
 */
import type { Graph, NodeId, Shape } from '../ir/types.ts';
import { formatLoc, sizeOf } from '../ir/types.ts';
import type { ReductionLayout, StridedView, WindowView } from '../ir/layout.ts';
import { axisView, broadcastStrides, reductionLayout, transposeStrides } from '../ir/layout.ts';
import { matmulSlices, reduceSlices } from './split.ts';
import { updateInPlace } from './in-place.ts';
import { fuseEpilogues, renumbered } from './fuse.ts';
import { fusePrologues, fuseRows } from './rows.ts';
import { OPS, isPassThrough, matmulDims } from '../ir/ops/index.ts';
import { patchesView, unpatchesTerms, windowGeometry } from '../ir/ops/window.ts';
import type {
  BufferDecl, BufferRole, Expr, Kernel, KernelIdentity, Program, ProgramIO, RandomExpr, Schedule,
} from './codegen/kernel-ir.ts';
import { MAX_KERNEL_INPUTS, foldTree, kernelName, withIdentity } from './codegen/kernel-ir.ts';
import { tensorRole } from '../dsl/spec.ts';

/** An expression over buffers (loads name buffer ids until a kernel numbers its inputs). */
type BufExpr =
  | { readonly op: 'load'; readonly buf: number; readonly view?: StridedView; readonly window?: WindowView }
  | { readonly op: 'const'; readonly value: number }
  | (Expr & { op: 'index' })
  | RandomExpr<BufExpr>
  | { readonly op: 'apply'; readonly kind: Expr & { op: 'apply' } extends { kind: infer K } ? K : never; readonly args: readonly BufExpr[] };

/**
 * The graph nodes a fused expression computes, as a tree of the operands' sets: fusing a node
 * adds one part instead of copying its operands' lists, so a chain of n nodes costs O(n), not
 * O(n²). `nodeList` flattens it when a kernel is made.
 */
interface NodeSet {
  readonly own: readonly NodeId[];
  readonly parts: readonly NodeSet[];
}

const NO_NODES: NodeSet = { own: [], parts: [] };

/** The ids of a node set (duplicates possible), without recursion. */
function nodeList(set: NodeSet): NodeId[] {
  const ids: NodeId[] = [];
  const stack = [set];
  for (let s = stack.pop(); s !== undefined; s = stack.pop()) {
    ids.push(...s.own);
    stack.push(...s.parts);
  }
  return ids;
}

type Value =
  | { readonly t: 'buf'; readonly buf: number; readonly view?: StridedView; readonly window?: WindowView }
  | {
      readonly t: 'expr';
      readonly expr: BufExpr;
      readonly nodes: NodeSet;
      /** The distinct buffers `expr` loads (at most MAX_KERNEL_INPUTS), so fusing never walks it. */
      readonly loads: readonly number[];
    };

/** The buffers a value reads when it is used as an operand. */
function loadsOf(v: Value): readonly number[] {
  return v.t === 'expr' ? v.loads : [v.buf];
}

const bufExprArgs = (e: BufExpr): readonly BufExpr[] => ('args' in e ? e.args : []);

export interface ScheduleInput {
  readonly name: string;
  readonly graph: Graph;
}

/** How much to fuse: `fuse: false` leaves each product's elementwise work to map kernels. */
export interface ScheduleOptions {
  readonly fuse: boolean;
}

/** Roles of named inputs; anything not listed is data. */
export type InputRoles = Readonly<Record<string, BufferRole>>;

class Scheduler {
  readonly buffers: BufferDecl[] = [];
  private readonly named = new Map<string, number>();
  /** Data inputs a program reads with a shape of its own, by `<name>@<program>`. */
  private readonly perProgram = new Map<string, number>();

  constructor(
    private readonly roles: InputRoles,
    readonly options: ScheduleOptions,
  ) {}

  /**
   * The buffer of a named input, shared by every program. A data input that `program` reads
   * with another shape than an earlier program (predict compiled at another batch) gets a
   * buffer of its own, named `<name>@<program>`; any other named input must keep its shape.
   */
  namedBuffer(name: string, shape: Shape, program: string): number {
    const existing = this.named.get(name);
    if (existing === undefined) {
      const id = this.newBuffer(name, shape, this.roles[name] ?? 'data');
      this.named.set(name, id);
      return id;
    }
    const before = this.buffers[existing];
    if (before.shape.length === shape.length && before.shape.every((n, i) => n === shape[i])) return existing;
    if (before.role !== 'data') {
      throw new Error(`gradc: ${before.role} "${name}" is [${shape}] in ${program}, [${before.shape}] before`);
    }
    const key = `${name}@${program}`;
    const own = this.perProgram.get(key);
    if (own !== undefined) return own;
    const id = this.newBuffer(key, shape, 'data');
    this.perProgram.set(key, id);
    return id;
  }

  newBuffer(name: string, shape: Shape, role: BufferRole): number {
    const id = this.buffers.length;
    this.buffers.push({ id, name, shape: [...shape], size: Math.max(1, sizeOf(shape)), role, storage: id });
    return id;
  }

  lower(program: ScheduleInput): Program {
    return new ProgramLowering(this, program).run();
  }
}

class ProgramLowering {
  private readonly kernels: Kernel[] = [];
  private readonly values = new Map<NodeId, Value>();
  private readonly consumers: number[];
  private readonly outputIds: Set<NodeId>;

  constructor(
    private readonly sched: Scheduler,
    private readonly program: ScheduleInput,
  ) {
    const { graph } = program;
    this.consumers = graph.nodes.map(() => 0);
    // Every operand counts: in mul(h, h) the expression h is read twice, so it gets a buffer
    // instead of being computed twice.
    for (const node of graph.nodes) for (const s of node.src) this.consumers[s]++;
    this.outputIds = new Set(Object.values(graph.outputs));
  }

  run(): Program {
    const { graph } = this.program;
    graph.nodes.forEach((_, id) => this.values.set(id, this.lowerNode(id)));
    const feeds: ProgramIO[] = [];
    graph.nodes.forEach((node) => {
      if (node.kind !== 'input') return;
      const name = node.attrs.name as string;
      const buffer = this.sched.namedBuffer(name, node.shape, this.program.name);
      const role = this.sched.buffers[buffer].role;
      if (role === 'data' || role === 'hyper') feeds.push({ name, buffer });
    });
    const outputs: ProgramIO[] = [];
    const copies: Kernel[] = [];
    for (const [name, id] of Object.entries(graph.outputs)) {
      const buffer = this.materialise(id);
      const role = tensorRole(name);
      if (role?.kind === 'update') {
        const target = this.sched.namedBuffer(role.target, graph.nodes[id].shape, this.program.name);
        if (target === buffer) continue;
        // A new value that is another parameter or state (a swap) is copied into a temporary
        // first: the copies run in order, and one must not read what another already replaced.
        const source = this.sched.buffers[buffer].role === 'temp' ? buffer : this.copyToTemp(id, buffer);
        copies.push(this.copyKernel(name, role.target, source, target));
      } else {
        outputs.push({ name, buffer });
      }
    }
    const keep = new Set([...outputs.map((o) => o.buffer), ...copies.flatMap((k) => k.inputs)]);
    const computed = this.sched.options.fuse
      ? renumbered(fuseEpilogues(fusePrologues(fuseRows(this.kernels, keep), keep), keep))
      : this.kernels;
    const kernels = updateInPlace([...computed, ...copies], new Set(outputs.map((o) => o.buffer)));
    return { name: this.program.name, kernels, feeds, outputs };
  }

  private lowerNode(id: NodeId): Value {
    const { graph } = this.program;
    const node = graph.nodes[id];
    const op = OPS[node.kind];
    const srcValue = (i: number) => this.values.get(node.src[i])!;
    let value: Value;
    switch (op.category) {
      case 'source':
        value = this.lowerSource(id);
        break;
      case 'elementwise': {
        if (isPassThrough(op)) {
          // An identity once gradients are built (stop_gradient): its operand's value, with no
          // kernel or copy.
          value = srcValue(0);
          break;
        }
        value = this.fused(id, (args) => ({ op: 'apply', kind: node.kind, args }));
        break;
      }
      case 'random': {
        const { seed, stream } = node.attrs as { seed: number; stream: number };
        value = this.fused(id, ([counter]) => ({ op: 'random', seed, stream, args: [counter] }));
        break;
      }
      case 'movement':
        value = this.lowerMovement(id);
        break;
      case 'window':
        value = this.lowerWindow(id);
        break;
      case 'reduce':
        value = { t: 'buf', buf: this.reduceKernel(id) };
        break;
      case 'matmul':
        value = { t: 'buf', buf: this.matmulKernel(id) };
        break;
    }
    this.values.set(id, value);
    const shared = value.t === 'expr' && value.expr.op !== 'const' && this.consumers[id] > 1;
    if (this.outputIds.has(id) || shared) return { t: 'buf', buf: this.materialise(id) };
    return value;
  }

  /** Node `id` as an expression over its operands' expressions, fused into its consumer. */
  private fused(id: NodeId, expr: (args: BufExpr[]) => BufExpr): Value {
    const node = this.program.graph.nodes[id];
    const srcValue = (i: number) => this.values.get(node.src[i])!;
    const operands = this.withinInputLimit(node.src.map((s, i) => ({ id: s, value: srcValue(i) })));
    const args = operands.map((v) => this.asExpr(v).expr);
    const nodes: NodeSet = { own: [id], parts: operands.map((v) => this.nodesOf(v)) };
    const loads = [...new Set(operands.flatMap(loadsOf))];
    return { t: 'expr', expr: expr(args), nodes, loads };
  }

  /** A fill is a constant, an iota the output index through its axis' view, an input its buffer. */
  private lowerSource(id: NodeId): Value {
    const node = this.program.graph.nodes[id];
    const leaf = (expr: BufExpr): Value => ({ t: 'expr', expr, nodes: { own: [id], parts: [] }, loads: [] });
    switch (node.kind) {
      case 'fill':
        return leaf({ op: 'const', value: node.attrs.value as number });
      case 'iota':
        return leaf({ op: 'index', view: axisView(node.shape, node.attrs.axis as number) });
      default:
        return { t: 'buf', buf: this.sched.namedBuffer(node.attrs.name as string, node.shape, this.program.name) };
    }
  }

  /**
   * The operands' values, with fused operands given buffers when fusing them all would make a
   * kernel read more than MAX_KERNEL_INPUTS buffers.
   */
  private withinInputLimit(operands: readonly { id: NodeId; value: Value }[]): Value[] {
    const buffers = new Set(operands.flatMap((o) => loadsOf(o.value)));
    if (buffers.size <= MAX_KERNEL_INPUTS) return operands.map((o) => o.value);
    return operands.map((o) =>
      o.value.t === 'expr' && o.value.expr.op !== 'const' ? { t: 'buf', buf: this.materialise(o.id) } : o.value,
    );
  }

  private asExpr(v: Value): { expr: BufExpr } {
    return v.t === 'expr' ? { expr: v.expr } : { expr: { op: 'load', buf: v.buf, view: v.view, window: v.window } };
  }

  /**
   * The nodes an operand contributes to the kernel that fuses it: none for a buffer, no fills.
   * Only a constant's set holds fills (an apply's set is built of what this returns and the
   * apply itself), so only a constant's small set is filtered.
   */
  private nodesOf(v: Value): NodeSet {
    if (v.t !== 'expr') return NO_NODES;
    if (v.expr.op !== 'const') return v.nodes;
    const own = nodeList(v.nodes).filter((n) => this.program.graph.nodes[n].kind !== 'fill');
    return own.length === 0 ? NO_NODES : { own, parts: [] };
  }

  private lowerMovement(id: NodeId): Value {
    const node = this.program.graph.nodes[id];
    const from = this.program.graph.nodes[node.src[0]].shape;
    const src = this.values.get(node.src[0])!;
    if (src.t === 'expr' && src.expr.op === 'const') return src;
    // Patches keep their window through a reshape (the same elements in the same order), so a
    // convolution's matrix product reads its input through the window: an implicit GEMM.
    if (node.kind === 'reshape' && src.t === 'buf' && src.window && !src.view) return src;
    const buf = this.materialise(node.src[0]);
    if (node.kind === 'reshape') return { t: 'buf', buf };
    const inStrides =
      node.kind === 'broadcast'
        ? broadcastStrides(from, node.shape)
        : transposeStrides(from, node.attrs.perm as readonly number[]);
    return { t: 'buf', buf, view: { outShape: node.shape, inStrides } };
  }

  /**
   * `patches` reads its operand's buffer through a window view, like a movement; `unpatches`
   * adds KH·KW window reads of its operand's buffer, an expression later elementwise work fuses.
   */
  private lowerWindow(id: NodeId): Value {
    const node = this.program.graph.nodes[id];
    const from = this.program.graph.nodes[node.src[0]].shape;
    const buf = this.materialise(node.src[0]);
    const geometry = windowGeometry(node.attrs);
    if (node.kind === 'patches') return { t: 'buf', buf, window: patchesView(from, geometry, node.attrs.fill as number) };
    const loads = unpatchesTerms(from, geometry, node.shape).map((window): BufExpr => ({ op: 'load', buf, window }));
    const expr = loads.reduce((sum, load) => ({ op: 'apply', kind: 'add', args: [sum, load] }));
    return { t: 'expr', expr, nodes: { own: [id], parts: [] }, loads: [buf] };
  }

  /** The id of a plain buffer holding node `id`, emitting a map kernel when needed. */
  private materialise(id: NodeId): number {
    const v = this.values.get(id)!;
    if (v.t === 'buf' && !v.view && !v.window) return v.buf;
    const node = this.program.graph.nodes[id];
    const out = this.sched.newBuffer(`${this.program.name}.%${id}`, node.shape, 'temp');
    const expr = this.asExpr(v).expr;
    const nodes = v.t === 'expr' ? nodeList(v.nodes) : [id];
    this.kernels.push(this.mapKernel(out, sizeOf(node.shape), expr, nodes));
    this.values.set(id, { t: 'buf', buf: out });
    return out;
  }

  /** The identity and name of the next kernel of the program, writing `output`. */
  private named(work: string, output: number): { identity: KernelIdentity; name: string } {
    const identity: KernelIdentity = { role: 'compute', program: this.program.name, position: this.kernels.length, work };
    return { identity, name: kernelName(identity, output) };
  }

  private describe(ids: readonly NodeId[]): string[] {
    const { graph } = this.program;
    return [...new Set(ids)].sort((a, b) => a - b).map((id) => `%${id} ${graph.nodes[id].kind}  ${formatLoc(graph.locs[id])}`);
  }

  private mapKernel(out: number, size: number, expr: BufExpr, nodes: readonly NodeId[]): Kernel {
    // Inputs are numbered in the order the loads come, left to right.
    const inputs: number[] = [];
    const numbered = foldTree<BufExpr, Expr>(expr, bufExprArgs, (e, args) => {
      if (e.op === 'const' || e.op === 'index') return e;
      if (e.op === 'apply') return { op: 'apply', kind: e.kind, args };
      if (e.op === 'random') return { ...e, args };
      let input = inputs.indexOf(e.buf);
      if (input < 0) input = inputs.push(e.buf) - 1;
      if (e.window) return { op: 'load', input, window: e.window };
      return e.view ? { op: 'load', input, view: e.view } : { op: 'load', input };
    });
    const kind = expr.op === 'load' || expr.op === 'const' ? 'copy' : 'map';
    return { kind: 'map', ...this.named(kind, out), inputs, output: out, size, expr: numbered, sources: this.describe(nodes) };
  }

  private copyToTemp(id: NodeId, buffer: number): number {
    const node = this.program.graph.nodes[id];
    const out = this.sched.newBuffer(`${this.program.name}.%${id}.copy`, node.shape, 'temp');
    this.kernels.push(this.mapKernel(out, sizeOf(node.shape), { op: 'load', buf: buffer }, [id]));
    return out;
  }

  /** The kernel that copies `assigns`'s new value (output `name`) from `from` into its buffer `to`. */
  private copyKernel(name: string, assigns: string, from: number, to: number): Kernel {
    const size = this.sched.buffers[to].size;
    const identity: KernelIdentity = { role: 'assign', program: this.program.name, assigns };
    return {
      kind: 'map',
      name: kernelName(identity, to),
      identity,
      inputs: [from],
      output: to,
      size,
      expr: { op: 'load', input: 0 },
      sources: [`${name}: the step's new value replaces the old one`],
    };
  }

  private reduceKernel(id: NodeId): number {
    const node = this.program.graph.nodes[id];
    const input = this.materialise(node.src[0]);
    const inShape = this.program.graph.nodes[node.src[0]].shape;
    const layout = reductionLayout(inShape, node.attrs.axes as readonly number[]);
    const op = node.kind === 'sum' ? 'sum' : 'max';
    const outSize = sizeOf(node.shape);
    const out = this.sched.newBuffer(`${this.program.name}.%${id}`, node.shape, 'temp');
    const [first = 1, ...restShape] = layout.redView.outShape;
    const slices = reduceSlices(outSize, layout.reduceSize, first);
    if (slices === 1) {
      this.pushReduce(id, op, input, out, layout);
      return out;
    }
    // Slice s reduces elements [s·first/S, (s+1)·first/S) of the first reduced axis: the
    // slice is one more output axis, whose stride steps over a slice.
    const sliceLength = first / slices;
    const [firstStride, ...restStrides] = layout.redView.inStrides;
    const partial = this.sched.newBuffer(`${this.program.name}.%${id}.slices`, [slices, outSize], 'temp');
    this.pushReduce(id, op, input, partial, {
      outView: {
        outShape: [slices, ...layout.outView.outShape],
        inStrides: [sliceLength * firstStride, ...layout.outView.inStrides],
      },
      redView: { outShape: [sliceLength, ...restShape], inStrides: [firstStride, ...restStrides] },
      reduceSize: layout.reduceSize / slices,
    });
    this.pushSliceTotal(id, op, partial, out, slices, outSize);
    return out;
  }

  private pushReduce(id: NodeId, op: 'sum' | 'max', input: number, out: number, layout: ReductionLayout): void {
    this.kernels.push({
      kind: 'reduce',
      ...this.named(op === 'sum' ? 'sum' : 'reduce_max', out),
      op,
      inputs: [input],
      output: out,
      outSize: layout.outView.outShape.reduce((a, b) => a * b, 1),
      reduceSize: layout.reduceSize,
      outView: layout.outView,
      redView: layout.redView,
      sources: this.describe([id]),
    });
  }

  /** out[o] = op over s of partial[s, o]: the slices of a split reduction combined in order. */
  private pushSliceTotal(
    id: NodeId,
    op: 'sum' | 'max',
    partial: number,
    out: number,
    slices: number,
    outSize: number,
  ): void {
    this.pushReduce(id, op, partial, out, {
      outView: { outShape: [outSize], inStrides: [1] },
      redView: { outShape: [slices], inStrides: [outSize] },
      reduceSize: slices,
    });
  }

  private matmulKernel(id: NodeId): number {
    const { graph } = this.program;
    const node = graph.nodes[id];
    const aValue = this.values.get(node.src[0])!;
    const aWindow = aValue.t === 'buf' && !aValue.view ? aValue.window : undefined;
    const a = aValue.t === 'buf' && aWindow ? aValue.buf : this.materialise(node.src[0]);
    const b = this.materialise(node.src[1]);
    const dims = matmulDims(graph.nodes[node.src[0]].shape, graph.nodes[node.src[1]].shape, node.attrs);
    const out = this.sched.newBuffer(`${this.program.name}.%${id}`, node.shape, 'temp');
    const kSlices = matmulSlices(dims.m, dims.n, dims.k);
    const product =
      kSlices === 1
        ? out
        : this.sched.newBuffer(`${this.program.name}.%${id}.slices`, [kSlices, dims.m, dims.n], 'temp');
    this.kernels.push({
      kind: 'matmul',
      ...this.named('matmul', product),
      inputs: [a, b],
      output: product,
      ...dims,
      transA: node.attrs.transA as boolean,
      transB: node.attrs.transB as boolean,
      kSlices,
      ...(aWindow ? { aWindow } : {}),
      sources: this.describe([id]),
    });
    if (kSlices > 1) this.pushSliceTotal(id, 'sum', product, out, kSlices, dims.m * dims.n);
    return out;
  }
}

/**
 * The schedule without temporaries no kernel uses any more (in-place updates leave some),
 * buffer ids renumbered in order; named buffers always stay.
 */
function dropUnusedTemporaries(schedule: Schedule): Schedule {
  const used = new Set(schedule.programs.flatMap((p) => p.kernels.flatMap((k) => [...k.inputs, k.output])));
  const kept = schedule.buffers.filter((b) => b.role !== 'temp' || used.has(b.id));
  if (kept.length === schedule.buffers.length) return schedule;
  const id = new Map(kept.map((b, i) => [b.id, i]));
  const at = (b: number) => id.get(b)!;
  return {
    buffers: kept.map((b, i) => ({ ...b, id: i, storage: i })),
    programs: schedule.programs.map((p) => ({
      ...p,
      // An assignment's name holds the id of the buffer it writes (`train_assign_u_b3`).
      kernels: p.kernels.map((k) => withIdentity({ ...k, inputs: k.inputs.map(at), output: at(k.output) }, k.identity)),
      feeds: p.feeds.map((io) => ({ ...io, buffer: at(io.buffer) })),
      outputs: p.outputs.map((io) => ({ ...io, buffer: at(io.buffer) })),
    })),
  };
}

/**
 * Lowers each program in order; named inputs share one buffer across programs. `declared`
 * named inputs get their buffers even when no program reads them (a predict-only build keeps
 * every parameter, so that a model's weights load whole).
 */
export function schedule(
  programs: readonly ScheduleInput[],
  roles: InputRoles,
  declared: readonly { readonly name: string; readonly shape: Shape }[] = [],
  options: ScheduleOptions = { fuse: true },
): Schedule {
  const sched = new Scheduler(roles, options);
  const lowered = programs.map((p) => sched.lower(p));
  for (const d of declared) sched.namedBuffer(d.name, d.shape, 'declared');
  return dropUnusedTemporaries({ buffers: sched.buffers, programs: lowered });
}
