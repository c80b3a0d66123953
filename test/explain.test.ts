/** `gradc build --explain`: the bytes each kernel moves and the totals per program. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import { schedule } from '../compiler/schedule.ts';
import type { Schedule } from '../compiler/codegen/kernel-ir.ts';
import { explainSchedule, formatBytes, kernelTraffic, programSummary } from '../compiler/explain.ts';

describe('explain', () => {
  it('counts each buffer a kernel reads once and sums the kernels of a program', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [4, 3]);
    const w = b.input('w', [3, 2]);
    const bias = b.input('b', [2]);
    const product = b.matmul(x, w);
    // relu(product + bias) + product: the product is read twice by one fused kernel.
    const y = b.add(b.maximum(b.add(product, b.broadcastTo(bias, [4, 2])), b.fill(0, [4, 2])), product);
    const graph = b.finish({ y });
    const sched = schedule([{ name: 'p', graph }], {}, [], { fuse: false });
    const [matmul, map] = sched.programs[0].kernels;
    expect(kernelTraffic(sched.buffers, matmul)).toEqual({ read: 4 * (12 + 6), written: 4 * 8 });
    expect(kernelTraffic(sched.buffers, map)).toEqual({ read: 4 * (8 + 2), written: 4 * 8 });
    expect(programSummary(sched.buffers, sched.programs[0])).toEqual({
      name: 'p', kernels: 2, products: 1, reductions: 0, rowKernels: 0, maps: 1, traffic: { read: 4 * 28, written: 4 * 16 },
    });
    const lines = explainSchedule(sched);
    expect(lines[0]).toBe('p: 2 kernels (1 product, 0 reductions, 0 row kernels, 1 map); per run reads 112 B, writes 64 B');
    expect(lines.filter((l) => /^ {2}p_\d{3}_/.test(l))).toHaveLength(2);
    // Fused, the product's epilogue adds the bias and applies ReLU where the product is stored:
    // the product never goes to memory between two kernels.
    const fused = schedule([{ name: 'p', graph }], {});
    expect(fused.programs[0].kernels).toHaveLength(1);
    expect(programSummary(fused.buffers, fused.programs[0]).traffic).toEqual({ read: 4 * (12 + 6 + 2), written: 4 * 8 });
  });

  it('counts an in-place update as reading its output', () => {
    const sched: Schedule = {
      buffers: [
        { id: 0, name: 'w', shape: [4], size: 4, role: 'param', storage: 0 },
        { id: 1, name: 'g', shape: [4], size: 4, role: 'temp', storage: 1 },
      ],
      programs: [{
        name: 'train',
        feeds: [],
        outputs: [],
        kernels: [{
          kind: 'map', name: 'train_000_map', inputs: [1], output: 0, size: 4, sources: [],
          expr: { op: 'apply', kind: 'sub', args: [{ op: 'load', input: 1 }, { op: 'load', input: 0 }] },
        }],
      }],
    };
    expect(kernelTraffic(sched.buffers, sched.programs[0].kernels[0])).toEqual({ read: 32, written: 16 });
  });

  it('writes bytes with three significant digits in decimal units', () => {
    expect([40, 2400, 24000, 600000, 2_670_000, 144_000_000].map(formatBytes)).toEqual([
      '40 B', '2.40 kB', '24.0 kB', '600 kB', '2.67 MB', '144 MB',
    ]);
  });
});
