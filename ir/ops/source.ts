/**
 * Leaves of the graph: named inputs (data, parameters, optimizer state), constant fills and
 * index ramps (iota).
 */
import type { Attrs, Shape } from '../types.ts';
import { formatShape, sizeOf } from '../types.ts';
import { axisView, viewIndex } from '../layout.ts';
import { ShapeError } from '../errors.ts';
import type { OpDef } from './op.ts';

function shapeAttr(attrs: Attrs): Shape {
  return attrs.shape as readonly number[];
}

/** attrs: { name, shape }. Its value is supplied at run time. */
export const input: OpDef = {
  kind: 'input',
  category: 'source',
  arity: 0,
  inferShape: (_, attrs) => shapeAttr(attrs),
  vjp: () => [],
  evalRef() {
    throw new Error('input nodes are bound by the evaluator, not evaluated');
  },
};

/** attrs: { value, shape }. Every element equals `value`; a scalar constant has shape []. */
export const fill: OpDef = {
  kind: 'fill',
  category: 'source',
  arity: 0,
  inferShape: (_, attrs) => shapeAttr(attrs),
  vjp: () => [],
  evalRef: ({ shape, attrs }) => new Float64Array(sizeOf(shape)).fill(attrs.value as number),
};

/**
 * attrs: { shape, axis }. Every element is its index along `axis`, as a float: iota([2, 3], 1)
 * is [[0, 1, 2], [0, 1, 2]]. Compared with class indices it makes one-hot rows. A source: no
 * gradient flows from it.
 */
export const iota: OpDef = {
  kind: 'iota',
  category: 'source',
  arity: 0,
  inferShape(_, attrs) {
    const shape = shapeAttr(attrs);
    const axis = attrs.axis;
    if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
      throw new ShapeError(`iota: axis ${String(axis)} is not an axis of ${formatShape(shape)}`);
    }
    return shape;
  },
  vjp: () => [],
  evalRef({ shape, attrs }) {
    const view = axisView(shape, attrs.axis as number);
    return Float64Array.from({ length: sizeOf(shape) }, (_, i) => viewIndex(view, i));
  },
};
