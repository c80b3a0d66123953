/** The op registry: one record per primitive, checked complete by the type system. */
import type { PrimKind } from '../ir/types.ts';
import type { OpDef } from './op.ts';
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

export * from './op.ts';
export { matmulDims } from './matmul.ts';
export type { WindowGeometry } from './window.ts';
