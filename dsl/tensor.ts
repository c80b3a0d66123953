/** Symbolic tensors: a node of the model's graph plus its static shape type. */
import type { NodeId } from '../ir/types.ts';
import type { GraphBuilder } from '../ir/builder.ts';
import type { Shape } from './shape.ts';
import { callerLoc } from './loc.ts';
import { GradcError } from '../ir/errors.ts';
import { describeValue } from '../ir/limits.ts';

/** A symbolic tensor: a node of the model's graph with its shape as a literal tuple type. */
export class Tensor<S extends Shape = Shape> {
  constructor(
    /** The builder of the model this tensor belongs to. */
    readonly graph: GraphBuilder,
    readonly id: NodeId,
    readonly shape: S,
  ) {}
}

/** A tensor or a plain number (a scalar constant). */
export type Operand = Tensor<Shape> | number;
export type ShapeOf<T> = T extends Tensor<infer S> ? S : [];

/**
 * Runs a builder action with the caller's source location attached to the new nodes. Inside
 * another traced call (a layer built of primitives, an optimizer's update) the outer location
 * stays, so every node points at the line the user wrote.
 */
export function traced<T>(graph: GraphBuilder, label: string, build: () => T): T {
  if (graph.activeLoc) return build();
  return graph.withLoc(callerLoc(label), build);
}

export function wrap<S extends Shape>(graph: GraphBuilder, id: NodeId): Tensor<S> {
  return new Tensor<S>(graph, id, graph.shapeOf(id) as unknown as S);
}

/** `x` when it is a tensor; a one-line error at the user's line otherwise (for untyped callers). */
export function tensorArg<S extends Shape>(x: Tensor<S>, what: string): Tensor<S> {
  if (x instanceof Tensor) return x;
  throw new GradcError(`${what} needs a tensor, got ${describeValue(x)}`, callerLoc(what));
}

/** The builder shared by a set of operands (numbers have none). */
export function graphOf(...operands: Operand[]): GraphBuilder {
  for (const x of operands) {
    if (!(x instanceof Tensor) && typeof x !== 'number') {
      throw new GradcError(`an operand must be a tensor or a number, got ${describeValue(x)}`, callerLoc('operands'));
    }
  }
  for (const x of operands) if (x instanceof Tensor) return x.graph;
  throw new GradcError('at least one operand must be a tensor, got only numbers', callerLoc('operands'));
}

export function nodeOf(graph: GraphBuilder, x: Operand): NodeId {
  if (typeof x === 'number') return graph.fill(x, []);
  if (!(x instanceof Tensor)) {
    throw new GradcError(`an operand must be a tensor or a number, got ${describeValue(x)}`, callerLoc('operands'));
  }
  if (x.graph !== graph) {
    throw new GradcError('tensors from different models cannot be combined', callerLoc('operands'));
  }
  return x.id;
}
