/** Layers: parameters plus a composition of primitives. */
import type { Tensor } from './tensor.ts';
import type { InitKind } from './spec.ts';
import type { ModelContext } from './model.ts';
import { matmul } from './ops.ts';
import { add } from './prim.ts';
import { tensorArg } from './tensor.ts';
import { GradcError } from '../compiler/errors.ts';
import { formatShape } from '../compiler/ir/types.ts';
import { callerLoc } from './loc.ts';

/** Options of `dense`: the weight initialiser and whether it has a bias. */
export interface DenseOptions {
  /** Weight initialiser (default He normal, suited to ReLU). */
  readonly init?: InitKind;
  readonly bias?: boolean;
}

/** y = x W + b with W: [in, units] and b: [units]. Parameters are `<name>.w` and `<name>.b`. */
export function dense<Bt extends number, I extends number, const U extends number>(
  m: ModelContext,
  name: string,
  x: Tensor<readonly [Bt, I]>,
  units: U,
  options: DenseOptions = {},
): Tensor<[Bt, U]> {
  if (tensorArg(x, 'dense').shape.length !== 2) {
    throw new GradcError(`the input must be 2-D [batch, features], got ${formatShape(x.shape)}`, callerLoc('dense'));
  }
  const w = m.param(`${name}.w`, [x.shape[1], units] as [I, U], options.init ?? 'he_normal');
  const y = matmul(x, w);
  if (options.bias === false) return y;
  const b = m.param(`${name}.b`, [units] as [U], 'zeros');
  return add(y, b) as unknown as Tensor<[Bt, U]>;
}
