/**
 * From a ModelSpec to the graphs the backends run: `train` (loss and every updated parameter
 * and state), `predict` (the predictions) and `evaluate` (the loss, without gradients). The `grad:<param>` placeholders of the spec are
 * replaced by the reverse-mode derivative of the loss, the `hvp:<k>:<param>` placeholders by
 * Hessian-vector products: the derivative of that derivative (see `hessianVectorProduct`).
 */
import type { Graph, NodeId } from '../ir/types.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { gradients, hessianVectorProduct } from './autodiff/grad.ts';
import { compact } from './passes/rewrite.ts';
import type { ModelSpec } from '../dsl/spec.ts';
import { LOSS_OUTPUT, isGradientPlaceholder, tensorName, tensorRole } from '../dsl/spec.ts';

/**
 * The train graph of a declaration. Predict and evaluate come from `buildPredictGraph` and
 * `buildEvaluateGraph`, over declarations of their own where the model reads `m.training`.
 */
export interface ModelGraphs {
  readonly train: Graph;
  /** Parameters no gradient reaches: the loss does not depend on them through differentiable ops. */
  readonly untrained: readonly string[];
}

/** Whether `id` is a gradient or Hessian-vector product placeholder. */
function isPlaceholder(graph: Graph, id: NodeId): boolean {
  const node = graph.nodes[id];
  if (node.kind !== 'input') return false;
  return isGradientPlaceholder(node.attrs.name as string);
}

/** Ids that depend on a gradient or Hessian-vector product placeholder. */
function dependsOnPlaceholder(graph: Graph): Set<NodeId> {
  const marked = new Set<NodeId>();
  graph.nodes.forEach((node, id) => {
    if (isPlaceholder(graph, id) || node.src.some((s) => marked.has(s))) marked.add(id);
  });
  return marked;
}

function replay(graph: Graph, b: GraphBuilder, ids: Iterable<NodeId>, map: Map<NodeId, NodeId>): void {
  for (const id of ids) {
    if (map.has(id)) continue;
    const node = graph.nodes[id];
    const src = node.src.map((s) => map.get(s)!);
    map.set(id, b.withLoc(graph.locs[id], () => b.make(node.kind, src, node.attrs)));
  }
}

export function buildTrainGraph(spec: ModelSpec): Graph {
  return lowerTrain(spec).graph;
}

/**
 * Maps the placeholders of each Hessian-vector product of the spec, the first time the replay
 * meets one, to H v built from the vector's replayed nodes: the vector is built before the
 * placeholders that read it (its ids are smaller), so it is replayed by then.
 */
function productResolver(
  spec: ModelSpec,
  b: GraphBuilder,
  grads: readonly NodeId[],
  params: readonly NodeId[],
  map: Map<NodeId, NodeId>,
): (id: NodeId) => boolean {
  const productOf = new Map<NodeId, number>();
  spec.hessianProducts.forEach((p, k) => p.product.forEach((id) => productOf.set(id, k)));
  return (id) => {
    const k = productOf.get(id);
    if (k === undefined) return false;
    const { vector, product } = spec.hessianProducts[k];
    const v = vector.map((node) => {
      const replayed = map.get(node);
      if (replayed === undefined) throw new Error(`Hessian-vector product ${k} reads node ${node}, not built before it`);
      return replayed;
    });
    const hv = b.withLoc(spec.graph.locs[id], () => hessianVectorProduct(b, grads, params, v));
    product.forEach((placeholder, i) => map.set(placeholder, hv[i]));
    return true;
  };
}

function lowerTrain(spec: ModelSpec): { graph: Graph; untrained: string[] } {
  const { graph } = spec;
  const b = new GraphBuilder();
  const map = new Map<NodeId, NodeId>();
  const late = dependsOnPlaceholder(graph);
  replay(graph, b, graph.nodes.map((_, id) => id).filter((id) => !late.has(id)), map);

  const loss = map.get(graph.outputs[LOSS_OUTPUT])!;
  const params = spec.params.map((p) => b.input(p.name, p.shape));
  const { grads, reached } = gradients(b, loss, params);
  spec.params.forEach((p, i) => {
    const name = tensorName({ kind: 'grad', param: p.name });
    const placeholder = graph.nodes.findIndex((n) => n.kind === 'input' && n.attrs.name === name);
    if (placeholder >= 0) map.set(placeholder, grads[i]);
  });
  const resolveProduct = productResolver(spec, b, grads, params, map);
  for (const id of [...late].sort((x, y) => x - y)) {
    if (!map.has(id) && !resolveProduct(id)) replay(graph, b, [id], map);
  }

  const outputs = Object.create(null) as Record<string, NodeId>;
  outputs[LOSS_OUTPUT] = loss;
  for (const [name, id] of Object.entries(graph.outputs)) {
    if (tensorRole(name)?.kind === 'update') outputs[name] = map.get(id)!;
  }
  const untrained = spec.params.filter((_, i) => !reached[i]).map((p) => p.name);
  return { graph: compact(b.finish(outputs)), untrained };
}

export function buildPredictGraph(spec: ModelSpec): Graph {
  const outputs = Object.create(null) as Record<string, NodeId>;
  for (const [name, id] of Object.entries(spec.graph.outputs)) {
    if (tensorRole(name)?.kind === 'predict') outputs[name] = id;
  }
  return compact({ ...spec.graph, outputs });
}

/** The loss alone, forward only: what evaluating a model on held-out data runs. */
export function buildEvaluateGraph(spec: ModelSpec): Graph {
  const outputs = Object.create(null) as Record<string, NodeId>;
  outputs[LOSS_OUTPUT] = spec.graph.outputs[LOSS_OUTPUT];
  return compact({ ...spec.graph, outputs });
}

export function lowerModel(spec: ModelSpec): ModelGraphs {
  const { graph, untrained } = lowerTrain(spec);
  return { train: graph, untrained };
}
