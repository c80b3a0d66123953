/**
 * Time of the reference MLP's largest matrix products (batch 600) on the WGSL target, run by
 * the WebGPU backend on whatever adapter Dawn finds: the 600x250x784 forward product of the
 * first layer and its backward forms (the weight gradient xᵀ·dh, the input gradient dh·W1ᵀ),
 * the second layer's three products, and the same products at batch 6000, whose weight
 * gradients are split into slices of k. Each product is its own program over buffers of small
 * random values; the figure is the median milliseconds per run over repeated batches of runs
 * (each batch awaited by a download of one value), with the pipeline's compile time beside it.
 *
 * Without a GPU, Dawn runs on Mesa's lavapipe, a Vulkan driver on the CPU: its figures compare
 * kernel designs with each other on that machine and say nothing about a GPU's speed.
 *
 *   node --conditions=gradc-source --import tsx bench/wgsl-products.ts [--runs 5] [--only 0,3]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GraphBuilder } from '../compiler/ir/builder.ts';
import { schedule } from '../compiler/schedule.ts';
import type { Schedule } from '../compiler/codegen/kernel-ir.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { renderWgsl } from '../compiler/codegen/render/wgsl.ts';
import type { WgslKernel } from '../runtime/backend.ts';
import { createWebGpuBackend } from '../runtime/backends/webgpu.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';

/** [name, m, n, k, transA, transB]. */
type Product = readonly [string, number, number, number, boolean, boolean];

const PRODUCTS: readonly Product[] = [
  ['x·W1        [600,784]·[784,250]', 600, 250, 784, false, false],
  ['xᵀ·dh (dW1) [600,784]ᵀ·[600,250]', 784, 250, 600, true, false],
  ['dh·W1ᵀ (dx) [600,250]·[784,250]ᵀ', 600, 784, 250, false, true],
  ['h·W2        [600,250]·[250,250]', 600, 250, 250, false, false],
  ['dh·W2ᵀ      [600,250]·[250,250]ᵀ', 600, 250, 250, false, true],
  ['hᵀ·dh (dW2) [600,250]ᵀ·[600,250]', 250, 250, 600, true, false],
  ['x·W1  b6000 [6000,784]·[784,250]', 6000, 250, 784, false, false],
  ['dW1   b6000 [6000,784]ᵀ·[6000,250]', 784, 250, 6000, true, false],
];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
  },
});
const runs = Number(values.runs);
const chosen = values.only ? values.only.split(',').map(Number) : PRODUCTS.map((_, i) => i);

function productSchedule(products: readonly Product[]): Schedule {
  const programs = products.map(([, m, n, k, transA, transB], i) => {
    const b = new GraphBuilder();
    const a = b.input(`a${i}`, transA ? [k, m] : [m, k]);
    const w = b.input(`b${i}`, transB ? [n, k] : [k, n]);
    return { name: `mm${i}`, graph: b.finish({ y: b.matmul(a, w, transA, transB) }) };
  });
  return schedule(programs, {});
}

const products = chosen.map((i) => PRODUCTS[i]);
const sched = productSchedule(products);
const dir = mkdtempSync(join(tmpdir(), 'gradc-wgsl-bench-'));
const file = join(dir, 'kernels-wgsl.ts');
writeFileSync(file, renderWgsl(sched, { modelName: 'wgsl-products', buildId: 'bench' }));
const { wgslKernels } = (await import(pathToFileURL(file).href)) as {
  wgslKernels: Readonly<Record<string, WgslKernel>>;
};

const device = (await requestNodeGpuDevice()) as GPUDevice;
console.log(`adapter: ${device.adapterInfo?.description || device.adapterInfo?.device || 'unknown'}`);
const backend = createWebGpuBackend(device, wgslKernels);
const buffers = sched.buffers.map((d) => {
  const buffer = backend.allocate(d.size);
  backend.upload(buffer, Float32Array.from({ length: d.size }, () => Math.random() * 0.1));
  return buffer;
});

for (const [index, program] of sched.programs.entries()) {
  const [label, m, n, k] = products[index];
  const launches = program.kernels.map((kernel) => ({
    kernel: kernel.name,
    args: [...kernel.inputs, kernel.output].map((id) => buffers[id]),
  }));
  const output = buffers[program.kernels[program.kernels.length - 1].output];
  const t0 = performance.now();
  const prepared = await backend.prepare(launches);
  const compileMs = performance.now() - t0;
  prepared.run();
  await backend.download(output);
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    prepared.run();
    await backend.download(output);
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const ms = samples[samples.length >> 1];
  const gflops = (2 * m * n * k) / (ms * 1e6);
  const kernels = program.kernels.map((kernel) => {
    const w = wgslKernels[kernel.name].workgroups;
    return `${kernel.kind}[${w.join(',')}]`;
  });
  console.log(
    `${label}  ${ms.toFixed(1).padStart(8)} ms  ${gflops.toFixed(2).padStart(6)} GFLOP/s` +
      `  compile ${compileMs.toFixed(0).padStart(5)} ms  ${kernels.join(' + ')}`,
  );
}
console.log(`kernels: ${allKernels(sched).length}`);
backend.dispose();
device.destroy();
rmSync(dir, { recursive: true, force: true });
