/** The float64 reference interpreter: the meaning every backend is tested against. */
import type { Graph, NodeId } from './types.ts';
import { formatShape, sizeOf } from './types.ts';
import { OPS } from './ops/index.ts';

export type Feeds = Readonly<Record<string, ArrayLike<number>>>;

/** Evaluates the nodes needed for `roots` (default: all outputs) in float64. */
export function evaluate(
  graph: Graph,
  feeds: Feeds,
  roots: readonly NodeId[] = Object.values(graph.outputs),
): Map<NodeId, Float64Array> {
  const needed = new Set<NodeId>(roots);
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    if (needed.has(id)) for (const s of graph.nodes[id].src) needed.add(s);
  }
  const values = new Map<NodeId, Float64Array>();
  graph.nodes.forEach((node, id) => {
    if (!needed.has(id)) return;
    if (node.kind === 'input') {
      values.set(id, feedOf(feeds, node.attrs.name as string, sizeOf(node.shape), node.shape));
      return;
    }
    const inputs = node.src.map((s) => values.get(s)!);
    const srcShapes = node.src.map((s) => graph.nodes[s].shape);
    values.set(id, OPS[node.kind].evalRef({ inputs, srcShapes, shape: node.shape, attrs: node.attrs }));
  });
  return values;
}

function feedOf(feeds: Feeds, name: string, size: number, shape: readonly number[]): Float64Array {
  const value = feeds[name];
  if (value === undefined) throw new Error(`no value fed for input "${name}"`);
  if (value.length !== size) {
    throw new Error(`input "${name}" ${formatShape(shape)} needs ${size} values, got ${value.length}`);
  }
  return Float64Array.from(value);
}

/** Evaluates the named outputs. */
export function evaluateOutputs(graph: Graph, feeds: Feeds): Record<string, Float64Array> {
  const values = evaluate(graph, feeds);
  const out: Record<string, Float64Array> = {};
  for (const [name, id] of Object.entries(graph.outputs)) out[name] = values.get(id)!;
  return out;
}
