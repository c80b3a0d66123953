/** Reductions over a set of axes. attrs: { axes (sorted, unique), keepDims }. */
import type { Attrs, NodeId, PrimKind, Shape } from '../types.ts';
import { formatShape, sizeOf } from '../types.ts';
import { ShapeError } from '../errors.ts';
import { keptShape, reducedShape, reductionLayout, viewIndex } from '../layout.ts';
import type { EvalArgs, OpDef, VjpContext } from './op.ts';

function axesOf(attrs: Attrs): number[] {
  return [...(attrs.axes as readonly number[])];
}

function reduceShape(kind: PrimKind) {
  return (srcShapes: readonly Shape[], attrs: Attrs): Shape => {
    const [x] = srcShapes;
    const axes = axesOf(attrs);
    for (let i = 0; i < axes.length; i++) {
      const a = axes[i];
      if (!Number.isInteger(a) || a < 0 || a >= x.length || (i > 0 && a <= axes[i - 1])) {
        throw new ShapeError(`${kind}: axes [${axes}] are not sorted, unique axes of ${formatShape(x)}`);
      }
    }
    return reducedShape(x, axes, attrs.keepDims as boolean);
  };
}

function reduceEval(init: number, step: (acc: number, x: number) => number) {
  return ({ inputs, srcShapes, attrs }: EvalArgs): Float64Array => {
    const layout = reductionLayout(srcShapes[0], axesOf(attrs));
    const outSize = sizeOf(layout.outView.outShape);
    const out = new Float64Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const base = viewIndex(layout.outView, o);
      let acc = init;
      for (let r = 0; r < layout.reduceSize; r++) {
        acc = step(acc, inputs[0][base + viewIndex(layout.redView, r)]);
      }
      out[o] = acc;
    }
    return out;
  };
}

/** Broadcast a reduced value (or cotangent) back over the reduced axes of the input. */
function spreadBack(ctx: VjpContext, value: NodeId): NodeId {
  const { b, node } = ctx;
  const xShape = b.shapeOf(node.src[0]);
  return b.broadcastTo(b.reshape(value, keptShape(xShape, axesOf(node.attrs))), xShape);
}

export const sum: OpDef = {
  kind: 'sum',
  category: 'reduce',
  arity: 1,
  inferShape: reduceShape('sum'),
  vjp: (ctx) => [spreadBack(ctx, ctx.g)],
  evalRef: reduceEval(0, (acc, x) => acc + x),
};

/** The gradient is shared equally among the elements that attain the maximum. */
export const reduce_max: OpDef = {
  kind: 'reduce_max',
  category: 'reduce',
  arity: 1,
  inferShape: reduceShape('reduce_max'),
  vjp: (ctx) => {
    const { b, node, id, g } = ctx;
    const x = node.src[0];
    const isMax = b.equal(x, spreadBack(ctx, id));
    const count = b.sum(isMax, axesOf(node.attrs), node.attrs.keepDims as boolean);
    return [b.mul(isMax, spreadBack(ctx, b.div(g, count)))];
  },
  evalRef: reduceEval(-Infinity, Math.max),
};
