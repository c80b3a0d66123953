/** Scheduling decisions that keep kernels correct and small. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import { compileModel, inputRoles } from '../compiler/compile.ts';
import type { Expr, Kernel, MatmulKernel, ReduceKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import { viewIndex } from '../ir/layout.ts';
import { OPS } from '../ir/ops/index.ts';
import { philoxUniform } from '../ir/ops/random.ts';
import type { ElementwiseOpDef } from '../ir/ops/op.ts';
import { MAX_KERNEL_INPUTS, assignedBy, kernelName } from '../compiler/codegen/kernel-ir.ts';
import { renderWgsl } from '../compiler/codegen/render/wgsl.ts';
import { schedule } from '../compiler/schedule.ts';
import {
  MATMUL_SPLIT_TARGET,
  REDUCE_SPLIT_TARGET,
  SPLIT_MAX_SLICES,
  SPLIT_MIN_LENGTH,
  SPLIT_MIN_SLICE,
  sliceCount,
} from '../compiler/split.ts';
import { splitCases } from './backend-corpus.ts';

/**
 * Runs the map kernels of a one-program schedule in order over float64 buffers, element by
 * element (strided loads through their views; a load of input `inputs.length` reads the output
 * itself), and returns the named buffers afterwards.
 */
function runMaps(sched: Schedule, named: Record<string, number[]>): Record<string, number[]> {
  const buffers = sched.buffers.map((d) => Float64Array.from(named[d.name] ?? new Array<number>(d.size).fill(0)));
  for (const k of sched.programs[0].kernels) {
    if (k.kind !== 'map') throw new Error(`${k.name}: only map kernels here`);
    const out = buffers[k.output];
    const at = (e: Expr, i: number): number => {
      if (e.op === 'const') return e.value;
      if (e.op === 'index') return viewIndex(e.view, i);
      if (e.op === 'random') return philoxUniform(e.seed, e.stream, i, at(e.args[0], i));
      if (e.op === 'apply') return OPS[e.kind].category === 'elementwise' ? (OPS[e.kind] as ElementwiseOpDef).scalar(...e.args.map((a) => at(a, i))) : NaN;
      if (e.op !== 'load') throw new Error(`${k.name}: no row kernels here`);
      const source = e.input === k.inputs.length ? out : buffers[k.inputs[e.input]];
      return source[e.view ? viewIndex(e.view, i) : i];
    };
    // Element by element, as the kernels run: an in-place kernel sees what it already wrote.
    for (let i = 0; i < k.size; i++) out[i] = at(k.expr, i);
  }
  return Object.fromEntries(sched.buffers.filter((d) => d.role !== 'temp').map((d) => [d.name, [...buffers[d.id]]]));
}

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

  it('swaps states through temporaries, so no kernel reads an already replaced value', () => {
    const b = new GraphBuilder();
    const a = b.input('a', [4]);
    const c = b.input('c', [4]);
    const graph = b.finish({ 'update:a': c, 'update:c': a });
    const sched = schedule([{ name: 'train', graph }], { a: 'state', c: 'state' });
    const assigns = sched.programs[0].kernels.filter((k) => assignedBy(k) !== undefined);
    // c's new value, a copy of a, is written into c in place once a is copied away.
    expect(assigns.map(assignedBy)).toEqual(['a']);
    for (const k of assigns) expect(sched.buffers[k.inputs[0]].role).toBe('temp');
    const values = runMaps(sched, { a: [1, 2, 3, 4], c: [5, 6, 7, 8] });
    expect(values.a).toEqual([5, 6, 7, 8]);
    expect(values.c).toEqual([1, 2, 3, 4]);
  });

  it('keeps a copy when two updates share one new value', () => {
    const b = new GraphBuilder();
    const w = b.input('w', [4]);
    const wNew = b.sub(w, b.input('g', [4]));
    const graph = b.finish({ 'update:w': wNew, 'update:s': wNew });
    const sched = schedule([{ name: 'train', graph }], { w: 'param', s: 'state', g: 'data' });
    const values = runMaps(sched, { w: [10, 20, 30, 40], g: [1, 2, 3, 4], s: [0, 0, 0, 0] });
    expect(values.w).toEqual([9, 18, 27, 36]);
    expect(values.s).toEqual([9, 18, 27, 36]);
    const assigns = sched.programs[0].kernels.filter((k) => assignedBy(k) !== undefined);
    expect(assigns.map((k) => k.name)).toEqual([`train_assign_s_b${sched.buffers.findIndex((d) => d.name === 's')}`]);
  });

  it('updates in place when the new value reads the old one only at its own element', () => {
    const b = new GraphBuilder();
    const w = b.input('w', [3, 3]);
    const v = b.input('v', [3, 3]);
    const g = b.input('g', [3, 3]);
    // v' = 0.5 v + g and w' = w - v' (momentum) update in place; u' = u + uᵀ reads u
    // transposed and keeps its temporary and copy.
    const vNew = b.add(b.mul(v, b.fill(0.5, [3, 3])), g);
    const u = b.input('u', [3, 3]);
    const graph = b.finish({
      'update:v': vNew,
      'update:w': b.sub(w, vNew),
      'update:u': b.add(u, b.transpose(u, [1, 0])),
    });
    const sched = schedule([{ name: 'train', graph }], { w: 'param', v: 'state', u: 'param', g: 'data' });
    const assigns = sched.programs[0].kernels.filter((k) => assignedBy(k) !== undefined);
    expect(assigns.map((k) => sched.buffers[k.output].name)).toEqual(['u']);
    const values = runMaps(sched, {
      w: [1, 2, 3, 4, 5, 6, 7, 8, 9],
      v: [1, 1, 1, 1, 1, 1, 1, 1, 1],
      g: [0, 1, 2, 3, 4, 5, 6, 7, 8],
      u: [0, 1, 2, 3, 4, 5, 6, 7, 8],
    });
    expect(values.v).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]);
    expect(values.w).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(values.u).toEqual([0, 4, 8, 4, 8, 12, 8, 12, 16]);
  });

  it("writes the reference MLP's weights from their gradient products' epilogues, with no copies", async () => {
    const { default: mlp } = await import('../examples/mnist-mlp.ts');
    const sched = compileModel(mlp.declare({ batch: 600 })).schedule;
    const train = sched.programs.find((p) => p.name === 'train')!;
    expect(train.kernels.filter((k) => assignedBy(k)?.endsWith('.w'))).toEqual([]);
    for (const name of ['fc1.w', 'fc2.w', 'fc3.w']) {
      const w = sched.buffers.find((d) => d.name === name)!;
      expect(w.role, name).toBe('param');
      const writers = train.kernels.filter((k) => k.output === w.id);
      expect(writers.map((k) => k.kind), name).toEqual(['matmul']);
      const [product] = writers as MatmulKernel[];
      expect(product.inPlace, name).toBe(true);
      expect(product.epilogue, name).toBeDefined();
      expect(product.inputs, name).not.toContain(w.id);
    }
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

describe('kernel names', () => {
  /** Each kernel's name is the one its identity makes; a computing kernel's position is its index. */
  function expectNamesFromIdentities(kernels: readonly Kernel[]): void {
    kernels.forEach((k, i) => {
      expect(k.identity, k.name).toBeDefined();
      expect(k.name).toBe(kernelName(k.identity!, k.output));
      if (k.identity!.role === 'compute') expect(k.identity!.position, k.name).toBe(i);
    });
  }

  it('records on a copy kernel the parameter or state it assigns, and names it after its buffer', () => {
    const b = new GraphBuilder();
    const p = b.input('a.b', [2, 2]);
    const q = b.input('a_b', [2, 2]);
    const w = b.input('w', [2, 2]);
    const wNew = b.sub(w, b.input('g', [2, 2]));
    // Reading the old value transposed keeps a copy; w updates in place, and s, which shares
    // w's new value, keeps its copy. s gets its buffer after the temporaries, one of which
    // (w's) goes, so s's buffer id changes after scheduling.
    const graph = b.finish({
      'update:a.b': b.add(p, b.transpose(p, [1, 0])),
      'update:a_b': b.add(q, b.transpose(q, [1, 0])),
      'update:w': wNew,
      'update:s': wNew,
    });
    const sched = schedule([{ name: 'train', graph }], { 'a.b': 'param', a_b: 'param', w: 'param', s: 'state', g: 'data' });
    const { kernels } = sched.programs[0];
    const id = (name: string) => sched.buffers.findIndex((d) => d.name === name);
    const assigns = kernels.filter((k) => assignedBy(k) !== undefined);
    expect(assigns.map((k) => k.identity)).toEqual([
      { role: 'assign', program: 'train', assigns: 'a.b' },
      { role: 'assign', program: 'train', assigns: 'a_b' },
      { role: 'assign', program: 'train', assigns: 's' },
    ]);
    expect(assigns.map((k) => sched.buffers[k.output].name)).toEqual(['a.b', 'a_b', 's']);
    expect(assigns.map((k) => k.name)).toEqual([`train_assign_a_b_b${id('a.b')}`, `train_assign_a_b_b${id('a_b')}`, `train_assign_s_b${id('s')}`]);
    expect(id('s')).toBe(sched.buffers.length - 1);
    expectNamesFromIdentities(kernels);
  });

  it("renumbers the reference MLP's kernels after fusion as <program>_<position>_<kind>", async () => {
    const { default: mlp } = await import('../examples/mnist-mlp.ts');
    const compiled = compileModel(mlp.declare({ batch: 600 }));
    const fused = compiled.schedule;
    const names = (sched: Schedule, program: string) => sched.programs.find((p) => p.name === program)!.kernels.map((k) => k.name);
    expect(names(fused, 'train')).toEqual([
      'train_000_matmul', 'train_001_matmul', 'train_002_matmul', 'train_003_sum', 'train_004_rows', 'train_005_sum',
      'train_006_matmul', 'train_007_matmul', 'train_008_sum', 'train_009_matmul', 'train_010_matmul', 'train_011_sum',
      'train_012_matmul',
    ]);
    expect(names(fused, 'predict')).toEqual(['predict_000_matmul', 'predict_001_matmul', 'predict_002_matmul', 'predict_003_rows']);
    expect(names(fused, 'evaluate')).toEqual(['evaluate_000_matmul', 'evaluate_001_matmul', 'evaluate_002_matmul', 'evaluate_003_sum']);
    for (const p of fused.programs) expectNamesFromIdentities(p.kernels);
    const graphs = compiled.graphs.map((g) => ({ name: g.name, graph: g.graph }));
    const unfused = schedule(graphs, inputRoles(compiled.spec), [], { fuse: false });
    expect(names(unfused, 'train')).toHaveLength(37);
    for (const p of unfused.programs) expectNamesFromIdentities(p.kernels);
  });
});

describe('implicit GEMM', () => {
  it("reads a convolution's patches through the window in both products, with no copy", () => {
    const b = new GraphBuilder();
    const x = b.input('x', [8, 32, 32, 2]);
    const geometry = { kernel: [3, 3], strides: [1, 1], dilation: [1, 1], padding: [1, 1, 1, 1] } as const;
    const rows = b.reshape(b.patches(x, geometry, 0), [8192, 18]);
    const y = b.matmul(rows, b.input('w', [18, 4]));
    const dw = b.matmul(rows, b.input('dy', [8192, 4]), true);
    const sched = schedule([{ name: 'train', graph: b.finish({ y, dw }) }], {});
    const kernels = sched.programs[0].kernels;
    const products = kernels.filter((k): k is MatmulKernel => k.kind === 'matmul');
    expect(products).toHaveLength(2);
    for (const product of products) {
      expect(product.aWindow?.outShape).toEqual([8, 32, 32, 3, 3, 2]);
      expect(sched.buffers[product.inputs[0]].name).toBe('x');
    }
    // The filter gradient's k (8192) is split; its slices read the window too.
    expect(products[1].kSlices).toBeGreaterThan(1);
    expect(kernels.filter((k) => k.kind === 'map')).toHaveLength(0);
    expect(sched.buffers.some((buf) => buf.size === 8192 * 18)).toBe(false);
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
    expect(() => renderWgsl(sched, { modelName: 'wide', buildId: 'test' })).not.toThrow();
  });
});

describe('split reductions', () => {
  it('cuts a long reduction into the most slices that divide it, within every limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 16 }),
        fc.constantFrom(MATMUL_SPLIT_TARGET, REDUCE_SPLIT_TARGET),
        (outputs, length, rest, target) => {
          const slices = sliceCount(outputs, length, rest, target);
          const bound = Math.min(
            SPLIT_MAX_SLICES,
            Math.ceil(target / outputs),
            Math.floor((length * rest) / SPLIT_MIN_SLICE),
          );
          const fits = (s: number) => length % s === 0 && s <= bound;
          if (length * rest < SPLIT_MIN_LENGTH) expect(slices).toBe(1);
          if (slices > 1) expect(fits(slices)).toBe(true);
          // No larger slice count would have fitted.
          for (let s = Math.max(2, slices + 1); s <= Math.min(bound, length); s++) {
            if (length * rest >= SPLIT_MIN_LENGTH) expect(fits(s), `${s} slices`).toBe(false);
          }
        },
      ),
    );
  });

  it('schedules every split case of the corpus as partial results and a short total', () => {
    for (const c of splitCases()) {
      const sched = schedule([{ name: 'p', graph: c.graph }], {});
      const [first, total] = sched.programs[0].kernels;
      expect(sched.programs[0].kernels, c.name).toHaveLength(2);
      expect(total.kind === 'reduce' && total.op, c.name).toBe(first.kind === 'reduce' ? first.op : 'sum');
      const slices = first.kind === 'matmul' ? first.kSlices : (first as ReduceKernel).outSize / (total as ReduceKernel).outSize;
      expect(slices, c.name).toBeGreaterThan(1);
      expect((total as ReduceKernel).reduceSize, c.name).toBe(slices);
      expect(total.inputs, c.name).toEqual([first.output]);
    }
  });

  it('splits the weight and bias gradients of the reference MLP at batch 6000, not at 600', async () => {
    const { default: mlp } = await import('../examples/mnist-mlp.ts');
    const matmulSlices = (batch: number) =>
      compileModel(mlp.declare({ batch }))
        .schedule.programs.find((p) => p.name === 'train')!
        .kernels.filter((k): k is MatmulKernel => k.kind === 'matmul')
        .map((k) => k.kSlices)
        .filter((s) => s > 1)
        .sort((a, b) => a - b);
    expect(matmulSlices(600)).toEqual([]);
    expect(matmulSlices(6000)).toEqual([6, 16, 20]);
  });
});
