/**
 * Reverse-mode differentiation as a graph-to-graph transform driven by the VJP table.
 * The gradient nodes are added to the same builder, so the result is ordinary IR that can be
 * simplified, compiled, and differentiated again (grad of grad gives Hessian-vector products).
 */
import type { NodeId } from '../../ir/types.ts';
import { formatShape, sameShape } from '../../ir/types.ts';
import type { GraphBuilder } from '../../ir/builder.ts';
import { GradcError } from '../../ir/errors.ts';
import { NONDIFF, OPS } from '../../ir/ops/index.ts';

/** Nodes that depend on any of `sources` (including the sources). */
function dependents(b: GraphBuilder, sources: readonly NodeId[], upTo: NodeId): Set<NodeId> {
  const reached = new Set(sources);
  for (let id = 0; id <= upTo; id++) {
    if (b.node(id).src.some((s) => reached.has(s))) reached.add(id);
  }
  return reached;
}

/** Nodes that `root` depends on (including the root). */
function ancestors(b: GraphBuilder, root: NodeId): Set<NodeId> {
  const seen = new Set<NodeId>([root]);
  for (let id = root; id >= 0; id--) {
    if (seen.has(id)) for (const s of b.node(id).src) seen.add(s);
  }
  return seen;
}

/**
 * d root / d wrt[i] for each i. `root` must be a scalar unless a cotangent `seed` of its shape
 * is given (then the result is the vector-Jacobian product seedᵀ J).
 */
export function grad(
  b: GraphBuilder,
  root: NodeId,
  wrt: readonly NodeId[],
  seed?: NodeId,
): NodeId[] {
  return gradients(b, root, wrt, seed).grads;
}

/**
 * `grad`, and for each of `wrt` whether any gradient reaches it: false where no path of
 * differentiable edges leads from it to `root` (it is unused, or only reaches `root` through
 * `stopGradient`, comparisons or a `where` mask), so its gradient is the zero fill.
 */
export function gradients(
  b: GraphBuilder,
  root: NodeId,
  wrt: readonly NodeId[],
  seed?: NodeId,
): { grads: NodeId[]; reached: boolean[] } {
  const rootShape = b.shapeOf(root);
  if (seed === undefined && rootShape.length !== 0) {
    throw new GradcError(`grad needs a scalar, got shape ${formatShape(rootShape)}`, b.locOf(root));
  }
  if (seed !== undefined && !sameShape(b.shapeOf(seed), rootShape)) {
    throw new Error(`grad seed shape ${formatShape(b.shapeOf(seed))} != ${formatShape(rootShape)}`);
  }
  const onPath = dependents(b, wrt, root);
  const needed = ancestors(b, root);
  const cotangent = new Map<NodeId, NodeId>([[root, seed ?? b.fill(1, rootShape)]]);

  for (let id = root; id >= 0; id--) {
    const g = cotangent.get(id);
    if (g === undefined || !onPath.has(id) || !needed.has(id)) continue;
    const node = b.node(id);
    const op = OPS[node.kind];
    if (op.category === 'source') continue;
    const loc = b.locOf(id);
    if (op.vjp === 'notImplemented') {
      throw new GradcError(`the gradient of ${node.kind} is not implemented`, loc);
    }
    const rule = op.vjp;
    const inputGrads = b.withLoc(loc, () => rule({ b, node, id, g }));
    node.src.forEach((src, i) => {
      const gi = inputGrads[i];
      if (gi === NONDIFF || !onPath.has(src)) return;
      const previous = cotangent.get(src);
      cotangent.set(src, previous === undefined ? gi : b.withLoc(loc, () => b.add(previous, gi)));
    });
  }
  return {
    grads: wrt.map((w) => cotangent.get(w) ?? b.fill(0, b.shapeOf(w))),
    reached: wrt.map((w) => cotangent.has(w)),
  };
}

/**
 * H v, the Hessian of the scalar whose gradient `grads` is (d f / d wrt[i], built by `grad`)
 * times the vector v (one block per `wrt`, of its shape), by reverse over reverse: the
 * gradient of g · stop_gradient(v) with respect to `wrt`. The stop keeps v constant where it
 * depends on the parameters itself (a v built from the gradient, as conjugate gradients' is).
 */
export function hessianVectorProduct(
  b: GraphBuilder,
  grads: readonly NodeId[],
  wrt: readonly NodeId[],
  vector: readonly NodeId[],
): NodeId[] {
  const terms = grads.map((g, i) => {
    const product = b.mul(g, b.stopGradient(vector[i]));
    return b.sum(product, b.shapeOf(product).map((_, axis) => axis));
  });
  const inner = terms.reduce((total, term) => b.add(total, term));
  return grad(b, inner, wrt);
}
