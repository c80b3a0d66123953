/**
 * The CUDA target on an NVIDIA GPU (`npm run test:gpu`): every graph of test/backend-corpus.ts
 * and the CUDA-specific ones of test/cuda-harness.ts (each register block of the tiled
 * product, each reduction plan) plus a map past 65535 blocks are rendered by
 * compiler/codegen/render/cuda.ts, compiled by nvcc for sm_80 and sm_90 (with PTX for newer
 * GPUs), run by runtime/backends/cuda.ts and compared with the float64 reference within the
 * float32 bound of CUDA's documented accuracy (CUDA_ERROR_MODEL in test/float32-bound.ts).
 *
 * GRADC_CUDA_EMULATE=1 runs this file on the CPU emulator of CUDA's thread model instead
 * (test/cuda-emulator/, with libm's bound and without the large map), which checks the file
 * itself where there is no GPU, and nothing about a GPU.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../ir/evaluate.ts';
import { printGraph } from '../ir/print.ts';
import { MAX_GRID_YZ, renderCuda } from '../compiler/codegen/render/cuda.ts';
import type { CudaKernel } from '../artifact/kernels.ts';
import { CudaError, createCudaBackend } from '../runtime/backends/cuda.ts';
import type { CudaDeviceInfo } from '../runtime/backends/cuda.ts';
import {
  DEFAULT_CUDA_ARCHS,
  compileFatbin,
  requireNvcc,
} from '../artifact/cuda-compile.ts';
import type { Case } from '../test/backend-corpus.ts';
import { corpusCases, makeCase, mismatches } from '../test/backend-corpus.ts';
import type { CudaTarget } from '../test/cuda-harness.ts';
import {
  cudaMatmulCases,
  cudaReductionCases,
  mergedSchedule,
  nanSemanticsGraph,
  openCudaTarget,
  runCudaProgram,
} from '../test/cuda-harness.ts';
import { buildEmulatedDriver } from '../test/cuda-emulator/build.ts';
import { CUDA_ERROR_MODEL, LIBM_ERROR_MODEL } from '../test/float32-bound.ts';

const EMULATE = process.env.GRADC_CUDA_EMULATE === '1';
const ERROR_MODEL = EMULATE ? LIBM_ERROR_MODEL : CUDA_ERROR_MODEL;

/** 4100 x 4100 elements: 65,665 blocks of 256 threads, past what grid.y or a 16-bit x allows. */
function largeMapCase(): Case {
  return makeCase('large map past 65535 blocks: x + bias [4100,4100]', ({ b, input }) => ({
    y: b.add(input('x', [4100, 4100]), input('bias', [4100])),
  }));
}

const cases: Case[] = [
  ...corpusCases(),
  ...cudaMatmulCases(),
  ...cudaReductionCases(),
  ...(EMULATE ? [] : [largeMapCase()]),
];
const merged = mergedSchedule(cases);
const meta = {
  modelName: 'cuda-equivalence',
  buildId: 'test',
  archs: DEFAULT_CUDA_ARCHS,
};
const rendered = renderCuda(merged, meta);
const dir = mkdtempSync(join(tmpdir(), 'gradc-cuda-gpu-'));
let image: Uint8Array;
let driverLibraries: readonly string[] | undefined;
let target: CudaTarget;
let device: CudaDeviceInfo;

/** A CUDA backend on this test's module (the GPU, or the emulator built for its source). */
function backendFor(kernels: Readonly<Record<string, CudaKernel>>, graphs = true) {
  return createCudaBackend({ image, kernels, archs: DEFAULT_CUDA_ARCHS, driverLibraries, graphs });
}

beforeAll(async () => {
  const cuFile = join(dir, 'kernels.cu');
  writeFileSync(cuFile, rendered.source);
  const output = join(dir, 'kernels.fatbin');
  compileFatbin({ cuFile, output, archs: DEFAULT_CUDA_ARCHS, nvcc: requireNvcc() });
  image = readFileSync(output);
  driverLibraries = EMULATE ? [buildEmulatedDriver(rendered.source)] : undefined;
  const backend = backendFor(rendered.kernels);
  device = backend.device;
  console.log(`CUDA device ${device.index}: ${device.name} (${device.arch})`);
  target = await openCudaTarget(backend, merged);
}, 300_000);

afterAll(() => {
  target?.backend.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const named = (list: readonly Case[]) => list.map((c, i) => ({ c, i, name: c.name.slice(0, 90) }));

describe('CUDA kernels on the GPU match the float64 reference', () => {
  it.each(named(cases))('$name', async ({ c, i }) => {
    const got = await runCudaProgram(target, merged.programs[i], i, c.feeds);
    expect(mismatches(c, got, ERROR_MODEL), `${c.name}\n${printGraph(c.graph)}`).toEqual([]);
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

  it.skipIf(EMULATE)('launches a map of more than 65535 blocks along x', () => {
    const i = cases.findIndex((c) => c.name.startsWith('large map'));
    const [kernel] = merged.programs[i].kernels;
    expect(rendered.kernels[kernel.name].grid[0]).toBeGreaterThan(MAX_GRID_YZ);
  });

  it('gives the same bits with and without CUDA graphs', async () => {
    const backend = backendFor(rendered.kernels, false);
    try {
      const plain = await openCudaTarget(backend, merged);
      for (const [i, c] of cases.entries()) {
        if (!/matmul|sum|max/.test(c.name) || c.name.startsWith('large')) continue;
        const withGraphs = await runCudaProgram(target, merged.programs[i], i, c.feeds);
        const without = await runCudaProgram(plain, merged.programs[i], i, c.feeds);
        expect(without, c.name).toEqual(withGraphs);
      }
    } finally {
      backend.dispose();
    }
  });
});

describe('CUDA semantics on the GPU', () => {
  it('maximum and reduce_max propagate NaN like Math.max; less, equal false on NaN', async () => {
    const graph = nanSemanticsGraph();
    const values = (nanEvery: number, f: (i: number) => number) =>
      Float32Array.from({ length: 80 }, (_, i) => (i % nanEvery === 1 ? NaN : f(i)));
    const feeds = { x: values(7, Math.sin), y: values(5, Math.cos) };
    const one = mergedSchedule([{ name: 'nan', graph, feeds }]);
    const source = renderCuda(one, meta);
    const cuFile = join(dir, 'nan.cu');
    writeFileSync(cuFile, source.source);
    const output = join(dir, 'nan.fatbin');
    compileFatbin({ cuFile, output, archs: DEFAULT_CUDA_ARCHS, nvcc: requireNvcc() });
    const backend = createCudaBackend({
      image: readFileSync(output),
      kernels: source.kernels,
      driverLibraries: EMULATE ? [buildEmulatedDriver(source.source)] : undefined,
    });
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
  }, 120_000);
});

describe('CUDA backend errors on the GPU', () => {
  it('names the kernel and its DSL lines when a launch is refused', async () => {
    const [name, record] = Object.entries(rendered.kernels)[0];
    const backend = backendFor({ [name]: { ...record, block: [2048, 1, 1] } }, false);
    try {
      const out = backend.allocate(4);
      const arity = merged.programs[0].kernels[0].inputs.length + 1;
      const args = Array.from({ length: arity }, () => out);
      const prepared = await backend.prepare([{ kernel: name, args }]);
      expect(() => prepared.run()).toThrow(CudaError);
      const refused = new RegExp(`cuLaunchKernel failed: .* for kernel ${name} \\(`);
      expect(() => prepared.run()).toThrow(refused);
    } finally {
      backend.dispose();
    }
  });

  it.skipIf(EMULATE)('says which architectures a refused module was built for', () => {
    const image = Uint8Array.of(1, 2, 3, 4, 0);
    const open = () => createCudaBackend({ image, kernels: {}, archs: ['sm_80', 'sm_90'] });
    expect(open).toThrow(
      /cuModuleLoadData failed: .*the module was compiled for sm_80, sm_90; this GPU is sm_\d+/,
    );
  });
});
