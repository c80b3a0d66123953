/**
 * Builds a Graph node by node. Nodes are interned (identical kind, shape, inputs and attrs give
 * the same id), shape rules run on every node, and optional rewrite rules simplify each node
 * before it is interned, so a rewrite pass is a replay of a graph through a builder with rules.
 */
import type { Attrs, Graph, Node, NodeId, PrimKind, Shape, SourceLoc } from './types.ts';
import { formatShape, sameShape } from './types.ts';
import { GradcError, ShapeError } from './errors.ts';
import { OPS } from './ops/index.ts';
import type { BinaryKind } from './ops/index.ts';
import type { WindowGeometry } from './ops/window.ts';
import { geometryAttrs } from './ops/window.ts';
import { shapeProblem } from './limits.ts';

/** A node about to be built, after its inputs were built. */
export interface NodeProposal {
  readonly kind: PrimKind;
  readonly src: readonly NodeId[];
  readonly attrs: Attrs;
  readonly shape: Shape;
}

/** A named local rewrite: returns the id of an equivalent node, or undefined to decline. */
export interface RewriteRule {
  readonly name: string;
  apply(b: GraphBuilder, n: NodeProposal): NodeId | undefined;
}

/** numpy broadcasting of two shapes (aligned on the right). */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** JSON writes Infinity, -Infinity and NaN as null and -0 as 0: keep distinct constants apart. */
function exactNumbers(_key: string, value: unknown): unknown {
  if (typeof value !== 'number' || (Number.isFinite(value) && !Object.is(value, -0))) return value;
  return Object.is(value, -0) ? '#-0' : `#${value}`;
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly index = new Map<string, NodeId>();
  private readonly locs: Record<number, SourceLoc> = {};
  private currentLoc: SourceLoc | undefined;
  /** How often each rewrite rule fired, for `--verbose`. */
  readonly ruleHits: Record<string, number> = {};

  constructor(private readonly rules: readonly RewriteRule[] = []) {}

  get size(): number {
    return this.nodes.length;
  }

  node(id: NodeId): Node {
    return this.nodes[id];
  }

  shapeOf(id: NodeId): Shape {
    return this.nodes[id].shape;
  }

  locOf(id: NodeId): SourceLoc | undefined {
    return this.locs[id];
  }

  /** The location new nodes get, if a `withLoc` is active. */
  get activeLoc(): SourceLoc | undefined {
    return this.currentLoc;
  }

  /** Runs `build` with `loc` attached to every node it creates. */
  withLoc<T>(loc: SourceLoc | undefined, build: () => T): T {
    const saved = this.currentLoc;
    this.currentLoc = loc ?? saved;
    try {
      return build();
    } finally {
      this.currentLoc = saved;
    }
  }

  make(kind: PrimKind, src: readonly NodeId[], attrs: Attrs = {}): NodeId {
    const op = OPS[kind];
    if (src.length !== op.arity) {
      throw new Error(`${kind} takes ${op.arity} inputs, got ${src.length}`);
    }
    const shape = this.inferShape(kind, src, attrs);
    this.checkShape(kind, shape);
    const proposal: NodeProposal = { kind, src, attrs, shape };
    for (const rule of this.rules) {
      const replaced = rule.apply(this, proposal);
      if (replaced !== undefined) {
        this.ruleHits[rule.name] = (this.ruleHits[rule.name] ?? 0) + 1;
        return replaced;
      }
    }
    return this.intern({ kind, dtype: 'f32', shape, src: [...src], attrs });
  }

  private inferShape(kind: PrimKind, src: readonly NodeId[], attrs: Attrs): Shape {
    try {
      return OPS[kind].inferShape(src.map((s) => this.shapeOf(s)), attrs);
    } catch (e) {
      if (e instanceof ShapeError) throw new GradcError(e.message, this.currentLoc);
      throw e;
    }
  }

  /**
   * Every node's shape: positive safe integer sizes and at most MAX_ELEMENTS elements
   * (ir/limits.ts), refused at the user's line. Inputs, fills, reshapes and
   * broadcasts bring new sizes; every other node's result is checked for its element count.
   */
  private checkShape(kind: PrimKind, shape: unknown): void {
    const problem = shapeProblem(shape);
    if (problem === undefined) return;
    throw new GradcError(problem.startsWith('[') ? `${kind} ${problem}` : `${kind}: ${problem}`, this.currentLoc);
  }

  private intern(node: Node): NodeId {
    const key = JSON.stringify([node.kind, node.shape, node.src, node.attrs], exactNumbers);
    const existing = this.index.get(key);
    if (existing !== undefined) return existing;
    const id = this.nodes.length;
    this.nodes.push(node);
    this.index.set(key, id);
    if (this.currentLoc) this.locs[id] = this.currentLoc;
    return id;
  }

  /** The graph built so far; its outputs are a record without a prototype (names key it). */
  finish(outputs: Readonly<Record<string, NodeId>>): Graph {
    const named = Object.assign(Object.create(null) as Record<string, NodeId>, outputs);
    return { nodes: [...this.nodes], locs: { ...this.locs }, outputs: named };
  }

  // ---- leaves ----
  input(name: string, shape: Shape): NodeId {
    this.checkShape('input', shape);
    return this.make('input', [], { name, shape: [...shape] });
  }

  fill(value: number, shape: Shape): NodeId {
    if (typeof value !== 'number') {
      throw new GradcError(`a constant must be a number, got ${typeof value}`, this.currentLoc);
    }
    this.checkShape('fill', shape);
    return this.make('fill', [], { value, shape: [...shape] });
  }

  /** Each element's index along `axis`, as a float: iota([2, 3], 1) is [[0, 1, 2], [0, 1, 2]]. */
  iota(shape: Shape, axis: number): NodeId {
    this.checkShape('iota', shape);
    return this.make('iota', [], { shape: [...shape], axis });
  }

  /**
   * Uniform draws in [0, 1) of `shape`, one per element, keyed by (`seed`, `stream`) and
   * counted by `counter` (the step, broadcast): ir/ops/random.ts.
   */
  randomUniform(counter: NodeId, shape: Shape, seed: number, stream: number): NodeId {
    return this.make('random_uniform', [this.broadcastTo(counter, shape)], { seed, stream });
  }

  scalarLike(value: number, like: NodeId): NodeId {
    return this.fill(value, this.shapeOf(like));
  }

  // ---- elementwise (numpy broadcasting) ----
  neg(x: NodeId): NodeId {
    return this.make('neg', [x]);
  }
  exp(x: NodeId): NodeId {
    return this.make('exp', [x]);
  }
  log(x: NodeId): NodeId {
    return this.make('log', [x]);
  }
  sqrt(x: NodeId): NodeId {
    return this.make('sqrt', [x]);
  }
  tanh(x: NodeId): NodeId {
    return this.make('tanh', [x]);
  }
  /** x, through which no gradient flows. */
  stopGradient(x: NodeId): NodeId {
    return this.make('stop_gradient', [x]);
  }
  add(x: NodeId, y: NodeId): NodeId {
    return this.binary('add', x, y);
  }
  sub(x: NodeId, y: NodeId): NodeId {
    return this.binary('sub', x, y);
  }
  mul(x: NodeId, y: NodeId): NodeId {
    return this.binary('mul', x, y);
  }
  div(x: NodeId, y: NodeId): NodeId {
    return this.binary('div', x, y);
  }
  pow(x: NodeId, y: NodeId): NodeId {
    return this.binary('pow', x, y);
  }
  maximum(x: NodeId, y: NodeId): NodeId {
    return this.binary('maximum', x, y);
  }
  less(x: NodeId, y: NodeId): NodeId {
    return this.binary('less', x, y);
  }
  equal(x: NodeId, y: NodeId): NodeId {
    return this.binary('equal', x, y);
  }

  where(c: NodeId, x: NodeId, y: NodeId): NodeId {
    const shape = this.broadcastShapeOf(this.broadcastShapeOf(this.shapeOf(c), this.shapeOf(x)), this.shapeOf(y));
    return this.make('where', [this.broadcastTo(c, shape), this.broadcastTo(x, shape), this.broadcastTo(y, shape)]);
  }

  binary(kind: BinaryKind, x: NodeId, y: NodeId): NodeId {
    const shape = this.broadcastShapeOf(this.shapeOf(x), this.shapeOf(y));
    return this.make(kind, [this.broadcastTo(x, shape), this.broadcastTo(y, shape)]);
  }

  private broadcastShapeOf(a: Shape, b: Shape): Shape {
    try {
      return broadcastShapes(a, b);
    } catch (e) {
      if (e instanceof ShapeError) throw new GradcError(e.message, this.currentLoc);
      throw e;
    }
  }

  // ---- reductions ----
  sum(x: NodeId, axes: readonly number[], keepDims = false): NodeId {
    if (axes.length === 0) return x;
    return this.make('sum', [x], { axes: [...axes], keepDims });
  }

  reduceMax(x: NodeId, axes: readonly number[], keepDims = false): NodeId {
    if (axes.length === 0) return x;
    return this.make('reduce_max', [x], { axes: [...axes], keepDims });
  }

  // ---- movement ----
  broadcastTo(x: NodeId, shape: Shape): NodeId {
    this.checkShape('broadcast', shape);
    if (sameShape(this.shapeOf(x), shape)) return x;
    return this.make('broadcast', [x], { shape: [...shape] });
  }

  /** The adjoint of broadcastTo: sums `x` down to `shape`. */
  sumTo(x: NodeId, shape: Shape): NodeId {
    const from = this.shapeOf(x);
    if (sameShape(from, shape)) return x;
    const offset = from.length - shape.length;
    const axes = from.map((_, i) => i).filter((i) => i < offset || (shape[i - offset] === 1 && from[i] !== 1));
    return this.reshape(this.sum(x, axes, true), shape);
  }

  reshape(x: NodeId, shape: Shape): NodeId {
    this.checkShape('reshape', shape);
    if (sameShape(this.shapeOf(x), shape)) return x;
    return this.make('reshape', [x], { shape: [...shape] });
  }

  transpose(x: NodeId, perm: readonly number[]): NodeId {
    if (perm.every((p, i) => p === i) && perm.length === this.shapeOf(x).length) return x;
    return this.make('transpose', [x], { perm: [...perm] });
  }

  /** Every window of an NHWC tensor (ir/ops/window.ts), `fill` in the padding. */
  patches(x: NodeId, geometry: WindowGeometry, fill: number): NodeId {
    return this.make('patches', [x], { ...geometryAttrs(geometry), fill });
  }

  /** The adjoint of `patches`: window elements added back into a tensor of `shape`. */
  unpatches(p: NodeId, geometry: WindowGeometry, shape: Shape): NodeId {
    return this.make('unpatches', [p], { ...geometryAttrs(geometry), shape: [...shape] });
  }

  matmul(a: NodeId, b: NodeId, transA = false, transB = false): NodeId {
    return this.make('matmul', [a, b], { transA, transB });
  }
}
