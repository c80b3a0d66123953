/**
 * Untyped forms of the binary primitives, for the DSL's own compositions (nn, optim, layers),
 * where shapes are generic and the type-level broadcast check cannot be resolved.
 */
import type { BinaryKind } from '../ir/ops/index.ts';
import type { Shape } from './shape.ts';
import type { Operand, Tensor } from './tensor.ts';
import { graphOf, nodeOf, traced, wrap } from './tensor.ts';

export type AnyTensor = Tensor<Shape>;
export type BinaryFn = (a: Operand, b: Operand) => AnyTensor;

function binary(kind: BinaryKind): BinaryFn {
  return (a, b) => {
    const g = graphOf(a, b);
    return traced(g, kind, () => wrap(g, g.binary(kind, nodeOf(g, a), nodeOf(g, b))));
  };
}

export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const pow = binary('pow');
export const maximum = binary('maximum');
export const less = binary('less');
export const equal = binary('equal');
