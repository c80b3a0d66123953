/**
 * The graph IR: plain, immutable, serialisable data.
 *
 * A graph is an arena of nodes in topological order (every `src` id is smaller than the id of
 * the node that reads it). Identical nodes are interned to one id by the builder, which gives
 * common-subexpression elimination for free. Source locations live in a side table keyed by
 * node id so that they never take part in interning.
 */

/** The closed set of primitives. Everything else (relu, softmax, losses, layers, optimizers) is a
 * composition of these, written in dsl/. Each kind has one record in ir/ops/. */
export const PRIM_KINDS = [
  'input', 'fill',
  'iota', 'random_uniform',
  'neg', 'exp', 'log', 'sqrt', 'tanh', 'stop_gradient',
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'less', 'equal',
  'where',
  'sum', 'reduce_max',
  'broadcast', 'reshape', 'transpose',
  'patches', 'unpatches',
  'matmul',
] as const;
export type PrimKind = (typeof PRIM_KINDS)[number];

export type DType = 'f32';
export type Shape = readonly number[];
export type NodeId = number;

export type AttrValue = number | boolean | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface Node {
  readonly kind: PrimKind;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly src: readonly NodeId[];
  readonly attrs: Attrs;
}

/** Where in the user's code a node was declared. */
export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** What the user called, e.g. `dense("fc2")` or `matmul`. */
  readonly label?: string;
}

export interface Graph {
  readonly nodes: readonly Node[];
  /** Side table: node id -> where it was declared (absent for nodes the compiler made up). */
  readonly locs: Readonly<Record<number, SourceLoc>>;
  /** Named roots of the graph (loss, predictions, updated parameters, ...). */
  readonly outputs: Readonly<Record<string, NodeId>>;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function formatLoc(loc: SourceLoc | undefined): string {
  if (!loc) return '<compiler>';
  const where = `${loc.file}:${loc.line}:${loc.column}`;
  return loc.label ? `${where} ${loc.label}` : where;
}
