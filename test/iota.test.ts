/**
 * The `iota` primitive: each element's index along one axis, as a float. Its values from the
 * float64 reference against nested loops, the DSL function and its errors, its gradient (none
 * flows from a source) and its lowering: an expression leaf that reads the output index, so a
 * one-hot row needs no buffer of indices. Its rendering on js, c, wgsl and cuda is checked by
 * the backend-equivalence corpus (test/backend-corpus.ts, `iotaCases`).
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import { evaluate } from '../ir/evaluate.ts';
import { grad } from '../compiler/autodiff/grad.ts';
import { schedule } from '../compiler/schedule.ts';
import type { Expr, MapKernel } from '../compiler/codegen/kernel-ir.ts';
import { exprNodes } from '../compiler/codegen/kernel-ir.ts';
import { GradcError } from '../ir/errors.ts';
import { ModelContext, equal, iota } from '../dsl/index.ts';

/** iota by its definition: the coordinate along `axis` of each row-major element of `shape`. */
function coordinates(shape: readonly number[], axis: number): number[] {
  const out: number[] = [];
  const walk = (prefix: number[]) => {
    if (prefix.length === shape.length) {
      out.push(prefix[axis]);
      return;
    }
    for (let k = 0; k < shape[prefix.length]; k++) walk([...prefix, k]);
  };
  walk([]);
  return out;
}

function values(b: GraphBuilder, id: number, feeds: Record<string, number[]> = {}): number[] {
  return Array.from(evaluate(b.finish({ y: id }), feeds).get(id)!);
}

describe('iota', () => {
  it('gives each element its index along the axis', () => {
    const b = new GraphBuilder();
    expect(values(b, b.iota([2, 3], 1))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(values(b, b.iota([2, 3], 0))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(values(b, b.iota([5], 0))).toEqual([0, 1, 2, 3, 4]);
    for (const [shape, axis] of [[[3, 4, 5], 0], [[3, 4, 5], 1], [[3, 4, 5], 2], [[1, 7, 1], 1]] as const) {
      expect(values(b, b.iota(shape, axis)), `${shape} axis ${axis}`).toEqual(coordinates(shape, axis));
    }
  });

  it('is a DSL function on a tensor or the model context; negative axes count from the end', () => {
    const m = new ModelContext();
    const labels = m.input('labels', [4, 1]);
    const ramp = iota(m, [4, 3], -1);
    expect(ramp.shape).toEqual([4, 3]);
    const oneHot = equal(iota(labels, [4, 3], 1), labels);
    const graph = m.graph.finish({ ramp: ramp.id, oneHot: oneHot.id });
    const got = evaluate(graph, { labels: [2, 0, 1, 2] });
    expect(Array.from(got.get(ramp.id)!)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(Array.from(got.get(oneHot.id)!)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('refuses an axis the shape lacks at the line of the call', () => {
    const m = new ModelContext();
    const call = () => iota(m, [2, 3], 2);
    expect(call).toThrow(GradcError);
    expect(call).toThrow(/iota\.test\.ts:\d+:\d+ iota: iota: axis 2 is not an axis of \[2,3\]/);
    expect(() => iota(m, [2, 3], 0.5)).toThrow(/axis 0\.5 is not an axis/);
    expect(() => iota(m, [2, 0], 0)).toThrow(GradcError);
    expect(() => iota(undefined as unknown as ModelContext, [2], 0)).toThrow(/iota needs a tensor or the model context/);
  });

  it('passes no gradient: d/dx sum(iota * x) is iota, and x gets nothing through iota', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    const ramp = b.iota([2, 3], 1);
    const [gx] = grad(b, b.sum(b.mul(ramp, x), [0, 1]), [x]);
    const graph = b.finish({ gx });
    expect(Array.from(evaluate(graph, { x: [9, 9, 9, 9, 9, 9] }).get(gx)!)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('lowers to an index leaf fused into its consumer: a one-hot row reads the labels alone', () => {
    const b = new GraphBuilder();
    const labels = b.input('labels', [6, 1]);
    const oneHot = b.equal(b.iota([6, 4], 1), b.broadcastTo(labels, [6, 4]));
    const { programs, buffers } = schedule([{ name: 'p', graph: b.finish({ y: oneHot }) }], {});
    const kernels = programs[0].kernels;
    expect(kernels).toHaveLength(1);
    const kernel = kernels[0] as MapKernel;
    expect(kernel.inputs.map((id) => buffers[id].name)).toEqual(['labels']);
    const leaves = exprNodes(kernel.expr).filter((e): e is Expr & { op: 'index' } => e.op === 'index');
    expect(leaves).toEqual([{ op: 'index', view: { outShape: [6, 4], inStrides: [0, 1] } }]);
    expect(kernel.sources.some((s) => / iota /.test(s))).toBe(true);
  });
});
