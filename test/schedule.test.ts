/** Scheduling decisions that keep kernels correct and small. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../compiler/ir/builder.ts';
import type { Expr } from '../compiler/codegen/kernel-ir.ts';
import { MAX_KERNEL_INPUTS } from '../compiler/codegen/kernel-ir.ts';
import { renderWgsl } from '../compiler/codegen/render/wgsl.ts';
import { schedule } from '../compiler/schedule.ts';

function count(expr: Expr, kind: string): number {
  if (expr.op !== 'apply') return 0;
  return (expr.kind === kind ? 1 : 0) + expr.args.reduce((n, a) => n + count(a, kind), 0);
}

describe('schedule', () => {
  it('gives an expression read twice by one node its own buffer instead of computing it twice', () => {
    const b = new GraphBuilder();
    let h = b.input('x', [8]);
    for (let i = 0; i < 6; i++) h = b.mul(b.tanh(h), b.tanh(h));
    const { programs } = schedule([{ name: 'p', graph: b.finish({ out: h }) }], {});
    const tanhs = programs[0].kernels.reduce((n, k) => n + (k.kind === 'map' ? count(k.expr, 'tanh') : 0), 0);
    expect(tanhs).toBe(6);
  });

  it('copies swapped states through temporaries, so no copy reads an already replaced value', () => {
    const b = new GraphBuilder();
    const a = b.input('a', [4]);
    const c = b.input('c', [4]);
    const graph = b.finish({ 'update:a': c, 'update:c': a });
    const sched = schedule([{ name: 'train', graph }], { a: 'state', c: 'state' });
    const assigns = sched.programs[0].kernels.filter((k) => k.name.startsWith('train_assign_'));
    expect(assigns).toHaveLength(2);
    for (const k of assigns) expect(sched.buffers[k.inputs[0]].role).toBe('temp');
    expect(new Set(assigns.map((k) => k.name)).size).toBe(2);
  });

  it('names assignments uniquely even when parameter names sanitise alike', () => {
    const b = new GraphBuilder();
    const p = b.input('a.b', [2]);
    const q = b.input('a_b', [2]);
    const graph = b.finish({ 'update:a.b': b.neg(p), 'update:a_b': b.neg(q) });
    const sched = schedule([{ name: 'train', graph }], { 'a.b': 'param', a_b: 'param' });
    const names = sched.programs[0].kernels.map((k) => k.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('schedule input limit', () => {
  it('stops fusing before a kernel would read more buffers than WebGPU binds by default', () => {
    const b = new GraphBuilder();
    const inputs = Array.from({ length: 12 }, (_, i) => b.input(`x${i}`, [16]));
    const total = inputs.slice(1).reduce((acc, x) => b.add(acc, b.exp(x)), inputs[0]);
    const sched = schedule([{ name: 'p', graph: b.finish({ out: total }) }], {});
    const kernels = sched.programs[0].kernels;
    expect(kernels.length).toBeGreaterThan(1);
    for (const k of kernels) expect(k.inputs.length, k.name).toBeLessThanOrEqual(MAX_KERNEL_INPUTS);
    expect(() => renderWgsl(sched, { modelName: 'wide', runtimeImport: '.' })).not.toThrow();
  });
});
