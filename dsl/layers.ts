/** Layers: parameters plus a composition of primitives. */
import type { Tensor } from './tensor.ts';
import type { InitKind } from './spec.ts';
import type { ModelContext } from './model.ts';
import { matmul } from './ops.ts';
import type { Conv2dOptions } from './conv.ts';
import { conv2d } from './conv.ts';
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

/** Options of `conv`: the window, its strides, padding and dilation, the initialiser and the bias. */
export interface ConvOptions extends Conv2dOptions {
  readonly kernel: readonly [number, number];
  /** Filter initialiser (default He normal, suited to ReLU). */
  readonly init?: InitKind;
  readonly bias?: boolean;
}

/**
 * A convolution layer: x [N,H,W,C] with `filters` filters `<name>.w` [KH,KW,C,filters] plus a
 * bias `<name>.b` [filters]: [N,OH,OW,filters].
 */
export function conv<N extends number, C extends number, const F extends number>(
  m: ModelContext,
  name: string,
  x: Tensor<readonly [N, number, number, C]>,
  filters: F,
  options: ConvOptions,
): Tensor<[N, number, number, F]> {
  if (tensorArg(x, 'conv').shape.length !== 4) {
    throw new GradcError(`the input must be NHWC [N,H,W,C], got ${formatShape(x.shape)}`, callerLoc('conv'));
  }
  const kernel = options?.kernel;
  if (!Array.isArray(kernel) || kernel.length !== 2) {
    throw new GradcError(`kernel must be [rows, columns], got ${JSON.stringify(kernel)}`, callerLoc('conv'));
  }
  const w = m.param(`${name}.w`, [kernel[0], kernel[1], x.shape[3], filters] as [number, number, C, F], options.init ?? 'he_normal');
  const y = conv2d(x, w, options) as Tensor<[N, number, number, F]>;
  if (options.bias === false) return y;
  const b = m.param(`${name}.b`, [filters] as [F], 'zeros');
  return add(y, b) as unknown as Tensor<[N, number, number, F]>;
}
