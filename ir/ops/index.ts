/** The op registry: one record per primitive, checked complete by the type system. */
import type { PrimKind } from '../types.ts';
import type { ElementwiseOpDef, Float32Accuracy, OpDef } from './op.ts';
import { isElementwise } from './op.ts';
import { fill, input, iota } from './source.ts';
import * as ew from './elementwise.ts';
import { reduce_max, sum } from './reduce.ts';
import { broadcast, reshape, transpose } from './movement.ts';
import { matmul } from './matmul.ts';
import { patches, unpatches } from './window.ts';
import { random_uniform } from './random.ts';

export const OPS = {
  input,
  fill,
  iota,
  random_uniform,
  neg: ew.neg,
  exp: ew.exp,
  log: ew.log,
  sqrt: ew.sqrt,
  tanh: ew.tanh,
  stop_gradient: ew.stop_gradient,
  add: ew.add,
  sub: ew.sub,
  mul: ew.mul,
  div: ew.div,
  pow: ew.pow,
  maximum: ew.maximum,
  less: ew.less,
  equal: ew.equal,
  where: ew.where,
  sum,
  reduce_max,
  broadcast,
  reshape,
  transpose,
  patches,
  unpatches,
  matmul,
} as const satisfies Record<PrimKind, OpDef>;

/** The records of OPS by kind, with the literal facts each states. */
type OpRecord<K extends PrimKind> = (typeof OPS)[K];

/** The elementwise primitives: those whose record is an ElementwiseOpDef. */
export type ElementwiseKind = {
  [K in PrimKind]: OpRecord<K> extends ElementwiseOpDef ? K : never;
}[PrimKind];

/** The elementwise primitives of `arity` operands (1: the DSL's unary functions). */
export type ElementwiseKindOfArity<A extends ElementwiseOpDef['arity']> = {
  [K in ElementwiseKind]: OpRecord<K>['arity'] extends A ? K : never;
}[ElementwiseKind];

export type UnaryKind = ElementwiseKindOfArity<1>;
export type BinaryKind = ElementwiseKindOfArity<2>;

/** The elementwise primitives whose value is their operand's (see ElementwiseOpDef.passThrough). */
export type PassThroughKind = {
  [K in ElementwiseKind]: OpRecord<K> extends { readonly passThrough: true } ? K : never;
}[ElementwiseKind];

/** The elementwise primitives a kernel computes: each renderer has an emitter for every one. */
export type ComputedKind = Exclude<ElementwiseKind, PassThroughKind>;

/** The elementwise primitives of one float32 accuracy class. */
export type KindOfAccuracy<A extends Float32Accuracy> = {
  [K in ElementwiseKind]: OpRecord<K>['accuracy'] extends A ? K : never;
}[ElementwiseKind];

/** The record of an elementwise primitive; throws for any other kind. */
export function elementwiseOp(kind: PrimKind): ElementwiseOpDef {
  const op = OPS[kind];
  if (!isElementwise(op)) throw new Error(`${kind} is not an elementwise primitive`);
  return op;
}

export * from './op.ts';
export { matmulDims } from './matmul.ts';
export type { WindowGeometry } from './window.ts';
