/** The shape of one primitive's record: its meaning in one place. */
import type { Attrs, Node, NodeId, PrimKind, Shape } from '../types.ts';
import type { GraphBuilder } from '../builder.ts';

/**
 * How the scheduler lowers a primitive into a kernel. `random` is fused like elementwise work,
 * but its value also depends on the element's index (ir/ops/random.ts).
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

/**
 * A primitive the scheduler fuses into map kernels' expressions (elementwise and random work)
 * states what one element of it costs, in simple arithmetic operations (an add is 1, a call of a
 * transcendental function about 8). The C renderer weighs a map kernel's work by it to decide
 * whether waking the thread team pays.
 */
export interface FusedOpDef extends OpDef {
  readonly category: 'elementwise' | 'random';
  readonly cost: number;
}

/**
 * How far an elementwise primitive's float32 result may be from the exact value at its float32
 * operands, the class the float32 error bounds of the tests start from (test/float32-bound.ts):
 * - `exact`: no rounding at all (a sign flip, a maximum, a comparison, a selection, the identity);
 * - `rounded`: an IEEE operation, correctly rounded (`+ - * /`, sqrt) where the target follows
 *   IEEE (C, TypeScript, CUDA as gradc compiles it; WGSL states its own bounds);
 * - `libm`: a math library function, within a few ulps that each target states.
 */
export type Float32Accuracy = 'exact' | 'rounded' | 'libm';

/** Elementwise primitives take one to three operands of one shape. */
export type ElementwiseArity = 1 | 2 | 3;

/** Elementwise primitives also carry their scalar meaning and their float32 accuracy. */
export interface ElementwiseOpDef extends FusedOpDef {
  readonly category: 'elementwise';
  readonly arity: ElementwiseArity;
  readonly accuracy: Float32Accuracy;
  /**
   * Its value is its first operand's (`stop_gradient`, whose meaning is all in its VJP): the
   * scheduler passes the operand through, with no kernel, so no renderer emits it.
   */
  readonly passThrough?: true;
  scalar(...xs: number[]): number;
}

export function isElementwise(op: OpDef): op is ElementwiseOpDef {
  return op.category === 'elementwise';
}

/** Whether `op`'s value is its first operand's, so that it needs no code of its own. */
export function isPassThrough(op: OpDef): boolean {
  return isElementwise(op) && op.passThrough === true;
}
