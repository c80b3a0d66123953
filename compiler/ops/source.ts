/** Leaves of the graph: named inputs (data, parameters, optimizer state) and constant fills. */
import type { Attrs, Shape } from '../ir/types.ts';
import { sizeOf } from '../ir/types.ts';
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
