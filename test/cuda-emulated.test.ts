/**
 * The CUDA kernels' logic without a GPU: the backend-equivalence corpus and the CUDA-specific
 * graphs of test/cuda-harness.ts, rendered by compiler/codegen/render/cuda.ts, run through the
 * real CUDA backend (runtime/backends/cuda.ts) on a CPU emulator of CUDA's thread model
 * (test/cuda-emulator/: blocks of fiber threads, __syncthreads, warp shuffles, a guard page
 * after every buffer) and match the float64 reference. The emulator runs the host's libm, so
 * the bound is libm's; CUDA's own rounding is checked by test-gpu/cuda-equivalence.test.ts.
 * A few training steps of the MNIST MLP on the emulator follow the C backend.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../ir/evaluate.ts';
import { printGraph } from '../ir/print.ts';
import { buildModel } from '../compiler/build.ts';
import type { MapKernel } from '../compiler/codegen/kernel-ir.ts';
import { renderCuda } from '../compiler/codegen/render/cuda.ts';
import type { CudaKernel } from '../artifact/kernels.ts';
import { CudaError, createCudaBackend } from '../runtime/backends/cuda.ts';
import type { ModelInstance } from '../runtime/model.ts';
import type { OpenOptions } from '../runtime/open.ts';
import { createRng } from '../runtime/init.ts';
import type { Case } from './backend-corpus.ts';
import { corpusCases, mismatches } from './backend-corpus.ts';
import type { CudaTarget } from './cuda-harness.ts';
import {
  cudaMatmulCases,
  cudaReductionCases,
  mergedSchedule,
  nanSemanticsGraph,
  openCudaTarget,
  reducePlans,
  runCudaProgram,
} from './cuda-harness.ts';
import { buildEmulatedDriver } from './cuda-emulator/build.ts';
import { fusedUnfusedDifferences, fusionCases, reductionFusionCases, rowFusionCases } from './fusion-cases.ts';
import type { Schedule } from '../compiler/codegen/kernel-ir.ts';

/** The emulator links the kernels in; the image only has to be there. */
const NO_IMAGE = new Uint8Array(16);
const meta = { modelName: 'cuda-emulated', buildId: 'test', archs: ['sm_90'] };

const cases: Case[] = [...corpusCases(), ...cudaMatmulCases(), ...cudaReductionCases()];
const merged = mergedSchedule(cases);
const rendered = renderCuda(merged, meta);
let target: CudaTarget;

beforeAll(async () => {
  const driver = buildEmulatedDriver(rendered.source);
  const kernels = rendered.kernels;
  const backend = createCudaBackend({ image: NO_IMAGE, kernels, driverLibraries: [driver] });
  target = await openCudaTarget(backend, merged);
}, 120_000);

afterAll(() => target?.backend.dispose());

const named = (list: readonly Case[]) => list.map((c, i) => ({ c, i, name: c.name.slice(0, 90) }));

describe('CUDA kernels on the CPU emulator match the float64 reference', () => {
  it('cover every reduction plan', () => {
    const plans = [...reducePlans(merged)];
    const each = ['serial', 'warps 32', 'warps 64', 'warps 128', 'warps 256', 'columns 32x8'];
    expect(plans).toEqual(expect.arrayContaining(each));
    expect(plans.filter((p) => p.startsWith('columns')).length).toBeGreaterThan(2);
  });

  it.each(named(cases))('$name', async ({ c, i }) => {
    const got = await runCudaProgram(target, merged.programs[i], i, c.feeds);
    expect(mismatches(c, got), `${c.name}\n${printGraph(c.graph)}`).toEqual([]);
  });

  it('renders literals exactly (bit for bit)', async () => {
    let checked = 0;
    for (const [i, c] of cases.entries()) {
      if (!c.name.startsWith('literal ')) continue;
      const value = c.graph.nodes[c.graph.outputs.y].attrs.value as number;
      const got = (await runCudaProgram(target, merged.programs[i], i, c.feeds)).y;
      expect(Object.is(got[0], Math.fround(value)), `${value} came back as ${got[0]}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });
});

describe('fusion on the CUDA emulator', () => {
  /** `sched` rendered as CUDA and opened on an emulator built for it. */
  const openEmulated = async (sched: Schedule) => {
    const source = renderCuda(sched, meta);
    const driver = buildEmulatedDriver(source.source);
    return openCudaTarget(createCudaBackend({ image: NO_IMAGE, kernels: source.kernels, driverLibraries: [driver] }), sched);
  };

  it('gives bit-identical results fused and unfused (random products with elementwise chains)', async () => {
    expect(await fusedUnfusedDifferences(fusionCases(24), openEmulated)).toEqual([]);
  }, 300_000);

  it('gives bit-identical results fused and unfused (random reductions with elementwise chains)', async () => {
    expect(await fusedUnfusedDifferences(reductionFusionCases(24), openEmulated)).toEqual([]);
  }, 300_000);

  it('gives bit-identical results fused and unfused (random work on short rows: row kernels, prologues)', async () => {
    expect(await fusedUnfusedDifferences(rowFusionCases(24), openEmulated)).toEqual([]);
  }, 300_000);
});

describe('CUDA semantics on the emulator', () => {
  it('maximum and reduce_max propagate NaN like Math.max; less, equal false on NaN', async () => {
    const graph = nanSemanticsGraph();
    const rand = createRng(5);
    const feeds = {
      x: Float32Array.from({ length: 80 }, (_, i) => (i % 7 === 3 ? NaN : Math.fround(rand()))),
      y: Float32Array.from({ length: 80 }, (_, i) => (i % 5 === 1 ? NaN : Math.fround(rand()))),
    };
    const one = mergedSchedule([{ name: 'nan', graph, feeds }]);
    const source = renderCuda(one, meta);
    const driver = buildEmulatedDriver(source.source);
    const kernels = source.kernels;
    const backend = createCudaBackend({ image: NO_IMAGE, kernels, driverLibraries: [driver] });
    try {
      const opened = await openCudaTarget(backend, one);
      const got = await runCudaProgram(opened, one.programs[0], 0, feeds);
      const want = evaluate(graph, feeds);
      for (const [name, id] of Object.entries(graph.outputs)) {
        expect(Array.from(got[name]), name).toEqual(Array.from(want.get(id)!));
      }
    } finally {
      backend.dispose();
    }
  });

  it('reports a refused launch with the kernel name and its DSL line', async () => {
    const kernel: MapKernel = {
      kind: 'map',
      name: 'fill_seven',
      inputs: [],
      output: 0,
      size: 4,
      sources: ['%1 fill  examples/model.ts:3:1 seven'],
      expr: { op: 'const', value: 7 },
    };
    const buffers = [{ id: 0, name: 'out', shape: [4], size: 4, role: 'temp' as const, storage: 0 }];
    const program = { name: 'p', kernels: [kernel], feeds: [], outputs: [] };
    const source = renderCuda({ buffers, programs: [program] }, meta);
    const driver = buildEmulatedDriver(source.source);
    const wide: CudaKernel = { ...source.kernels.fill_seven, block: [64, 1, 1] };
    const backend = createCudaBackend({
      image: NO_IMAGE,
      kernels: { fill_seven: wide },
      driverLibraries: [driver],
      graphs: false,
    });
    try {
      const out = backend.allocate(4);
      const prepared = await backend.prepare([{ kernel: 'fill_seven', args: [out] }]);
      expect(() => prepared.run()).toThrow(CudaError);
      expect(() => prepared.run()).toThrow(
        'cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1) for kernel fill_seven ' +
          '(%1 fill  examples/model.ts:3:1 seven)',
      );
      await expect(backend.prepare([{ kernel: 'nope', args: [out] }])).rejects.toThrow(
        'unknown CUDA kernel "nope"',
      );
    } finally {
      backend.dispose();
    }
  });
});

// ---- training steps ----

interface MnistGlue {
  createMnistMlp(backend: 'c' | 'cuda', options?: OpenOptions): Promise<ModelInstance>;
}

/** A fixed batch of images and one-hot labels of MNIST's shapes. */
function syntheticBatch(seed: number, batch: number): { x: Float32Array; y: Float32Array } {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: batch * 784 }, () => Math.fround(rng()));
  const y = new Float32Array(batch * 10);
  for (let r = 0; r < batch; r++) y[r * 10 + Math.floor(rng() * 10)] = 1;
  return { x, y };
}

describe('the MNIST MLP on the emulated CUDA backend', () => {
  // Batch 2048 adds split weight and bias gradients (compiler/split.ts) to the memory plan.
  it.each([
    { batch: 16, steps: 3 },
    { batch: 2048, steps: 1 },
  ])('follows the C backend at batch $batch for $steps training step(s) (forward, backward, update)', async ({ batch, steps }) => {
    const outDir = resolve('.cache', 'cuda-emulated', `mnist-mlp-b${batch}`);
    const { compiled } = await buildModel('examples/mnist-mlp.ts', { targets: ['c', 'cuda'], batch, outDir });
    const split = compiled.schedule.programs[0].kernels.filter((k) => k.kind === 'matmul' && k.kSlices > 1);
    expect(split.length > 0).toBe(batch >= 2048);
    const driver = buildEmulatedDriver(readFileSync(join(outDir, 'kernels.cu'), 'utf8'));
    const glue = (await import(pathToFileURL(join(outDir, 'model.js')).href)) as MnistGlue;
    const cuda = await glue.createMnistMlp('cuda', { cuda: { driverLibraries: [driver] } });
    const c = await glue.createMnistMlp('c');
    try {
      for (let step = 0; step < steps; step++) {
        const feeds = syntheticBatch(step, batch);
        const [lossCuda, lossC] = [await cuda.trainStep(feeds), await c.trainStep(feeds)];
        const difference = Math.abs(lossCuda - lossC);
        expect(difference, `step ${step}: ${lossCuda} vs ${lossC}`).toBeLessThan(1e-4);
      }
      const [paramsCuda, paramsC] = [await cuda.snapshot(), await c.snapshot()];
      for (const [name, { data }] of Object.entries(paramsC)) {
        const worst = data.reduce((m, v, i) => Math.max(m, Math.abs(v - paramsCuda[name].data[i])), 0);
        expect(worst, name).toBeLessThan(1e-5);
      }
    } finally {
      cuda.dispose();
      c.dispose();
    }
  }, 120_000);
});
