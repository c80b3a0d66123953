/** The shape of one primitive's record: its meaning in one place. */
import type { Attrs, Node, NodeId, PrimKind, Shape } from '../ir/types.ts';
import type { GraphBuilder } from '../ir/builder.ts';

/**
 * How the scheduler lowers a primitive into a kernel. `random` is fused like elementwise work,
 * but its value also depends on the element's index (compiler/ops/random.ts).
 */
export type OpCategory = 'source' | 'elementwise' | 'random' | 'reduce' | 'movement' | 'window' | 'matmul';

/** Explicit marker: no gradient flows into this input (a mask, a comparison). */
export const NONDIFF = Symbol('nondifferentiable');
export type InputGrad = NodeId | typeof NONDIFF;

export interface VjpContext {
  readonly b: GraphBuilder;
  /** The node being differentiated and its id (its value can be reused, e.g. d exp = exp). */
  readonly node: Node;
  readonly id: NodeId;
  /** The cotangent flowing into the node, same shape as the node. */
  readonly g: NodeId;
}

/** One cotangent per input, in the order of `node.src`. */
export type VjpRule = (ctx: VjpContext) => readonly InputGrad[];

export interface EvalArgs {
  readonly inputs: readonly Float64Array[];
  readonly srcShapes: readonly Shape[];
  readonly shape: Shape;
  readonly attrs: Attrs;
}

export interface OpDef {
  readonly kind: PrimKind;
  readonly category: OpCategory;
  /** Number of inputs. */
  readonly arity: number;
  /** Throws ShapeError with a message about the user's shapes. */
  inferShape(srcShapes: readonly Shape[], attrs: Attrs): Shape;
  /** Vector-Jacobian product, written with other primitives; 'notImplemented' fails loudly. */
  readonly vjp: VjpRule | 'notImplemented';
  /** Float64 reference semantics, used by tests and constant folding. */
  evalRef(args: EvalArgs): Float64Array;
}

/** Elementwise primitives also carry their scalar meaning. */
export interface ElementwiseOpDef extends OpDef {
  readonly category: 'elementwise';
  scalar(...xs: number[]): number;
}

export function isElementwise(op: OpDef): op is ElementwiseOpDef {
  return op.category === 'elementwise';
}
