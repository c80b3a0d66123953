/**
 * The one rewrite engine behind every pass: a graph is replayed, node by node, through a
 * builder that applies the pass's rules before interning. Replaying only what the outputs
 * need is dead-code elimination; interning is common-subexpression elimination.
 */
import type { Graph, NodeId } from '../../ir/types.ts';
import type { RewriteRule } from '../../ir/builder.ts';
import { GraphBuilder } from '../../ir/builder.ts';

export interface PassResult {
  readonly graph: Graph;
  readonly ruleHits: Readonly<Record<string, number>>;
}

/** Ids reachable from the outputs. */
export function liveNodes(graph: Graph): Set<NodeId> {
  const live = new Set<NodeId>(Object.values(graph.outputs));
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    if (live.has(id)) for (const s of graph.nodes[id].src) live.add(s);
  }
  return live;
}

export function rewrite(graph: Graph, rules: readonly RewriteRule[]): PassResult {
  const b = new GraphBuilder(rules);
  const live = liveNodes(graph);
  const newId = new Map<NodeId, NodeId>();
  graph.nodes.forEach((node, id) => {
    if (!live.has(id)) return;
    const src = node.src.map((s) => newId.get(s)!);
    newId.set(id, b.withLoc(graph.locs[id], () => b.make(node.kind, src, node.attrs)));
  });
  const outputs = Object.create(null) as Record<string, NodeId>;
  for (const [name, id] of Object.entries(graph.outputs)) outputs[name] = newId.get(id)!;
  // A second replay drops the nodes that rewrites made unreachable.
  return { graph: compact(b.finish(outputs)), ruleHits: b.ruleHits };
}

/** Dead-code elimination alone: keeps the live nodes, renumbered in order. */
export function compact(graph: Graph): Graph {
  const live = liveNodes(graph);
  const newId = new Map<NodeId, NodeId>();
  const nodes = graph.nodes.filter((_, id) => live.has(id));
  const locs: Record<number, (typeof graph.locs)[number]> = {};
  let next = 0;
  graph.nodes.forEach((_, id) => {
    if (!live.has(id)) return;
    newId.set(id, next);
    if (graph.locs[id]) locs[next] = graph.locs[id];
    next++;
  });
  const renumbered = nodes.map((n) => ({ ...n, src: n.src.map((s) => newId.get(s)!) }));
  const outputs = Object.create(null) as Record<string, NodeId>;
  for (const [name, id] of Object.entries(graph.outputs)) outputs[name] = newId.get(id)!;
  return { nodes: renumbered, locs, outputs };
}
