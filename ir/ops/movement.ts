/** Movement primitives: they change how elements are indexed, never their values. */
import { formatShape, sizeOf } from '../types.ts';
import { ShapeError } from '../errors.ts';
import type { StridedView } from '../layout.ts';
import { broadcastStrides, inversePerm, transposeStrides, viewIndex } from '../layout.ts';
import type { EvalArgs, OpDef } from './op.ts';

function gather(input: Float64Array, view: StridedView): Float64Array {
  const out = new Float64Array(sizeOf(view.outShape));
  for (let i = 0; i < out.length; i++) out[i] = input[viewIndex(view, i)];
  return out;
}

/** attrs: { shape }. numpy rules: aligned on the right, size-1 axes stretch. */
export const broadcast: OpDef = {
  kind: 'broadcast',
  category: 'movement',
  arity: 1,
  inferShape([x], attrs) {
    const target = attrs.shape as readonly number[];
    const offset = target.length - x.length;
    const fits = offset >= 0 && x.every((d, i) => d === 1 || d === target[i + offset]);
    if (!fits) {
      throw new ShapeError(`cannot broadcast ${formatShape(x)} to ${formatShape(target)}`);
    }
    return target;
  },
  vjp: ({ b, g, node }) => [b.sumTo(g, b.shapeOf(node.src[0]))],
  evalRef: ({ inputs, srcShapes, shape }: EvalArgs) =>
    gather(inputs[0], { outShape: shape, inStrides: broadcastStrides(srcShapes[0], shape) }),
};

/** attrs: { shape } with the same number of elements. */
export const reshape: OpDef = {
  kind: 'reshape',
  category: 'movement',
  arity: 1,
  inferShape([x], attrs) {
    const target = attrs.shape as readonly number[];
    if (sizeOf(x) !== sizeOf(target) || target.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShapeError(`cannot reshape ${formatShape(x)} to ${formatShape(target)}`);
    }
    return target;
  },
  vjp: ({ b, g, node }) => [b.reshape(g, b.shapeOf(node.src[0]))],
  evalRef: ({ inputs }) => Float64Array.from(inputs[0]),
};

/** attrs: { perm }: output axis i is input axis perm[i]. */
export const transpose: OpDef = {
  kind: 'transpose',
  category: 'movement',
  arity: 1,
  inferShape([x], attrs) {
    const perm = attrs.perm as readonly number[];
    const valid = perm.length === x.length && [...perm].sort((p, q) => p - q).every((p, i) => p === i);
    if (!valid) throw new ShapeError(`transpose: [${perm}] is not a permutation of the axes of ${formatShape(x)}`);
    return perm.map((p) => x[p]);
  },
  vjp: ({ b, g, node }) => [b.transpose(g, inversePerm(node.attrs.perm as readonly number[]))],
  evalRef: ({ inputs, srcShapes, shape, attrs }: EvalArgs) =>
    gather(inputs[0], {
      outShape: shape,
      inStrides: transposeStrides(srcShapes[0], attrs.perm as readonly number[]),
    }),
};
