/**
 * Launch plans of the GPU renderers, decided before any text is written: each kernel's form and
 * grid on CUDA (`planCudaKernel`: threads per block, blocks, how a reduction spreads over
 * threads, which product kernel) and on WebGPU (`planWgslKernel`: workgroups, how a reduction
 * spreads over invocations; products are test/wgsl-matmul-plan.test.ts's). A change of
 * threshold shows here as a changed row; the renderers launch exactly what the plans say. No
 * device is needed.
 */
import { describe, expect, it } from 'vitest';
import { reductionLayout } from '../ir/layout.ts';
import type { Kernel, MapKernel, MatmulKernel, ReduceKernel } from '../compiler/codegen/kernel-ir.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { schedule } from '../compiler/schedule.ts';
import type { CudaPlan } from '../compiler/codegen/render/cuda.ts';
import { planCudaKernel, renderCudaKernel } from '../compiler/codegen/render/cuda.ts';
import type { WgslKernelOptions, WgslPlan } from '../compiler/codegen/render/wgsl.ts';
import { planWgslKernel, renderWgslKernel } from '../compiler/codegen/render/wgsl.ts';
import { corpusCases } from './backend-corpus.ts';
import { cudaMatmulCases, cudaReductionCases } from './cuda-harness.ts';

const base = { name: 'k', inputs: [0], output: 1, sources: [] } as const;

function map(size: number): MapKernel {
  return { ...base, kind: 'map', size, expr: { op: 'load', input: 0 } };
}

/** A row kernel over rows of `perRow`: x minus its row's max. */
function rowKernel(size: number, perRow: number): MapKernel {
  return {
    ...map(size),
    expr: { op: 'apply', kind: 'sub', args: [{ op: 'load', input: 0 }, { op: 'scalar', index: 0 }] },
    rows: { width: perRow, perRow, scalars: [{ op: 'max', expr: { op: 'load', input: 0 } }] },
  };
}

/** `op` over `axes` of a buffer of `inShape`, as the schedule lowers it. */
function reduce(inShape: number[], axes: number[], op: ReduceKernel['op'] = 'sum'): ReduceKernel {
  const { outView, redView, reduceSize } = reductionLayout(inShape, axes);
  const outSize = inShape.reduce((a, b) => a * b, 1) / reduceSize;
  return { ...base, kind: 'reduce', op, outSize, reduceSize, outView, redView };
}

function product(m: number, n: number, k: number, kSlices = 1, transA = false): MatmulKernel {
  return { ...base, kind: 'matmul', inputs: [0, 1], output: 2, m, n, k, transA, transB: false, kSlices };
}

const CUDA: readonly (readonly [string, Kernel, CudaPlan])[] = [
  ['a map of 150,000', map(150000), { kind: 'map', form: 'elements', grid: [586, 1, 1], block: [256, 1, 1] }],
  ['a fill of two: one warp', map(2), { kind: 'map', form: 'elements', grid: [1, 1, 1], block: [32, 1, 1] }],
  [
    'a row kernel, 600 rows of 10',
    rowKernel(6000, 10),
    { kind: 'map', form: 'rows', rows: 600, grid: [3, 1, 1], block: [256, 1, 1] },
  ],
  [
    'sum over rows of 10',
    reduce([600, 10], [1]),
    { kind: 'reduce', form: 'serial', grid: [3, 1, 1], block: [256, 1, 1] },
  ],
  [
    'max over short rows of 250',
    reduce([600, 250], [1], 'max'),
    { kind: 'reduce', form: 'serial', grid: [3, 1, 1], block: [256, 1, 1] },
  ],
  [
    'sum over rows of 1000: 4 warps per output',
    reduce([600, 1000], [1]),
    {
      kind: 'reduce',
      form: 'warps',
      perOutput: 128,
      warpsPerOutput: 4,
      outputsPerBlock: 2,
      grid: [300, 1, 1],
      block: [256, 1, 1],
    },
  ],
  [
    'sum over rows of 5000: 8 warps per output',
    reduce([10, 5000], [1]),
    {
      kind: 'reduce',
      form: 'warps',
      perOutput: 256,
      warpsPerOutput: 8,
      outputsPerBlock: 1,
      grid: [10, 1, 1],
      block: [256, 1, 1],
    },
  ],
  [
    'column sums of [600,250]',
    reduce([600, 250], [0]),
    { kind: 'reduce', form: 'columns', columns: 32, rows: 8, grid: [8, 1, 1], block: [32, 8, 1] },
  ],
  [
    'column sums of [5000,3]',
    reduce([5000, 3], [0]),
    { kind: 'reduce', form: 'columns', columns: 4, rows: 64, grid: [1, 1, 1], block: [4, 64, 1] },
  ],
  [
    'the MLP: x·W1',
    product(600, 250, 784),
    { kind: 'matmul', form: 'blocked', blockM: 4, blockN: 4, tileM: 64, tileN: 64, grid: [4, 10, 1], block: [16, 16, 1] },
  ],
  [
    'the MLP: the output layer',
    product(600, 10, 250),
    { kind: 'matmul', form: 'tiled', blockM: 2, blockN: 1, tileM: 32, tileN: 16, grid: [1, 19, 1], block: [16, 16, 1] },
  ],
  [
    'past 1,024 rows, 40 columns',
    product(1100, 40, 20),
    { kind: 'matmul', form: 'tiled', blockM: 4, blockN: 2, tileM: 64, tileN: 32, grid: [2, 18, 1], block: [16, 16, 1] },
  ],
  [
    'the MLP at batch 6000: dW1 in 6 slices',
    product(784, 250, 6000, 6, true),
    { kind: 'matmul', form: 'blocked', blockM: 4, blockN: 4, tileM: 64, tileN: 64, grid: [4, 13, 6], block: [16, 16, 1] },
  ],
];

const WGSL: readonly (readonly [string, Kernel, WgslPlan, Partial<WgslKernelOptions>])[] = [
  ['a map of 150,000', map(150000), { kind: 'map', form: 'elements', workgroups: [586, 1, 1] }, {}],
  [
    'a map of 150,000, 100 workgroups a dimension',
    map(150000),
    { kind: 'map', form: 'elements', workgroups: [98, 6, 1] },
    { maxWorkgroupsPerDimension: 100 },
  ],
  [
    'a row kernel, 600 rows of 10',
    rowKernel(6000, 10),
    { kind: 'map', form: 'rows', rows: 600, workgroups: [3, 1, 1] },
    {},
  ],
  ['sum over rows of 10', reduce([600, 10], [1]), { kind: 'reduce', form: 'serial', workgroups: [3, 1, 1] }, {}],
  [
    'max over short rows of 250',
    reduce([600, 250], [1], 'max'),
    { kind: 'reduce', form: 'serial', workgroups: [3, 1, 1] },
    {},
  ],
  [
    'column sums of [600,250]',
    reduce([600, 250], [0]),
    { kind: 'reduce', form: 'tree', threads: 16, outputsPerGroup: 16, adjacent: true, workgroups: [16, 1, 1] },
    {},
  ],
  [
    'sum over rows of 1000',
    reduce([600, 1000], [1]),
    { kind: 'reduce', form: 'tree', threads: 128, outputsPerGroup: 2, adjacent: false, workgroups: [300, 1, 1] },
    {},
  ],
  [
    'sum over rows of 5000',
    reduce([10, 5000], [1]),
    { kind: 'reduce', form: 'tree', threads: 256, outputsPerGroup: 1, adjacent: false, workgroups: [10, 1, 1] },
    {},
  ],
];

describe('CUDA launch plans', () => {
  it.each(CUDA)('%s', (_, kernel, plan) => {
    expect(planCudaKernel(kernel)).toEqual(plan);
    const rendered = renderCudaKernel({ buffers: [], programs: [] }, kernel);
    expect([rendered.grid, rendered.block]).toEqual([plan.grid, plan.block]);
    expect(rendered.code).toContain(`__launch_bounds__(${plan.block[0] * plan.block[1] * plan.block[2]})`);
  });
});

describe('WGSL launch plans', () => {
  it.each(WGSL)('%s', (_, kernel, plan, options) => {
    expect(planWgslKernel(kernel, options)).toEqual(plan);
    expect(renderWgslKernel({ buffers: [], programs: [] }, kernel, options).workgroups).toEqual(plan.workgroups);
  });
});

describe('the renderers launch what the plans say', () => {
  it('over the backend corpus and the CUDA harness, on CUDA and WebGPU', () => {
    const forms = new Set<string>();
    for (const c of [...corpusCases(), ...cudaMatmulCases(), ...cudaReductionCases()]) {
      const s = schedule([{ name: 'p', graph: c.graph }], {});
      for (const kernel of allKernels(s)) {
        const cuda = planCudaKernel(kernel);
        const rendered = renderCudaKernel(s, kernel);
        expect([rendered.grid, rendered.block], `${c.name}: ${kernel.name}`).toEqual([cuda.grid, cuda.block]);
        const wgsl = planWgslKernel(kernel);
        expect(renderWgslKernel(s, kernel).workgroups, `${c.name}: ${kernel.name}`).toEqual(wgsl.workgroups);
        forms.add(`cuda ${cuda.kind} ${cuda.form}`).add(`wgsl ${wgsl.kind} ${wgsl.form}`);
      }
    }
    expect([...forms].sort()).toEqual([
      'cuda map elements',
      'cuda map rows',
      'cuda matmul blocked',
      'cuda matmul tiled',
      'cuda reduce columns',
      'cuda reduce serial',
      'cuda reduce warps',
      'wgsl map elements',
      'wgsl map rows',
      'wgsl matmul blocked',
      'wgsl matmul direct',
      'wgsl matmul tiled',
      'wgsl reduce serial',
      'wgsl reduce tree',
    ]);
  });
});
