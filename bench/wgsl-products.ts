/**
 * Time of the reference MLP's largest matrix products (batch 600) on the WGSL target, run by
 * the WebGPU backend on whatever adapter Dawn finds: the 600x250x784 forward product of the
 * first layer and its backward forms (the weight gradient xᵀ·dh, the input gradient dh·W1ᵀ),
 * the second layer's three products, and two at batch 6000 (the weight gradient split into
 * slices of k). Each product is rendered twice, as the renderer chooses (`chosen`: the blocked
 * kernel for these) and with the blocked kernel turned off (`tiled`, what the renderer emitted
 * before it had one), and the two run one after the other for each product in every round, in
 * alternating order, so that a shared machine's load falls on both alike. Figures: the median
 * and the fastest milliseconds of a run (a dispatch awaited by a download of its output), and
 * the first run's, which includes compiling the pipeline where the driver compiles lazily.
 *
 * Without a GPU, Dawn runs on Mesa's lavapipe, a Vulkan driver on the CPU: its figures compare
 * kernel designs with each other on that machine and say nothing about a GPU's speed.
 *
 *   node --conditions=gradc-source --import tsx bench/wgsl-products.ts [--rounds 5] [--only 0,3]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GraphBuilder } from '../ir/builder.ts';
import { schedule } from '../compiler/schedule.ts';
import type { MatmulKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import type { WgslKernelOptions } from '../compiler/codegen/render/wgsl.ts';
import { planWgslMatmul, renderWgsl } from '../compiler/codegen/render/wgsl.ts';
import type { Backend, DeviceBuffer } from '../runtime/backend.ts';
import type { WgslKernel } from '../artifact/kernels.ts';
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

const VARIANTS: readonly { readonly name: string; readonly options: Partial<WgslKernelOptions> }[] = [
  { name: 'tiled', options: { blockedMatmulMin: Infinity } },
  { name: 'chosen', options: {} },
];

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    only: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const products = values.only ? values.only.split(',').map((i) => PRODUCTS[Number(i)]) : PRODUCTS;

function productSchedule(list: readonly Product[]): Schedule {
  const programs = list.map(([, m, n, k, transA, transB], i) => {
    const b = new GraphBuilder();
    const a = b.input(`a${i}`, transA ? [k, m] : [m, k]);
    const w = b.input(`b${i}`, transB ? [n, k] : [k, n]);
    return { name: `mm${i}`, graph: b.finish({ y: b.matmul(a, w, transA, transB) }) };
  });
  return schedule(programs, {});
}

interface Prepared {
  readonly run: () => void;
  readonly output: DeviceBuffer;
  readonly backend: Backend;
}

const sched = productSchedule(products);
const dir = mkdtempSync(join(tmpdir(), 'gradc-wgsl-bench-'));
const device = (await requestNodeGpuDevice()) as GPUDevice;
console.log(`adapter: ${device.adapterInfo?.description || 'unknown'}`);

/** Every program of `sched` rendered with `options`, prepared over its own buffers. */
async function prepareVariant(name: string, options: Partial<WgslKernelOptions>) {
  const file = join(dir, `kernels-wgsl-${name}.ts`);
  writeFileSync(file, renderWgsl(sched, { modelName: 'wgsl-products', buildId: 'bench', ...options }));
  const module = (await import(pathToFileURL(file).href)) as {
    wgslKernels: Readonly<Record<string, WgslKernel>>;
  };
  const backend = createWebGpuBackend(device, module.wgslKernels);
  const buffers = sched.buffers.map((d) => {
    const buffer = backend.allocate(d.size);
    backend.upload(buffer, Float32Array.from({ length: d.size }, () => Math.random() * 0.1));
    return buffer;
  });
  const prepared: Prepared[] = [];
  const firstMs: number[] = [];
  for (const program of sched.programs) {
    const launches = program.kernels.map((kernel) => ({
      kernel: kernel.name,
      args: [...kernel.inputs, kernel.output].map((id) => buffers[id]),
    }));
    const output = buffers[program.kernels[program.kernels.length - 1].output];
    const start = performance.now();
    const { run } = await backend.prepare(launches);
    run();
    await backend.download(output);
    firstMs.push(performance.now() - start);
    prepared.push({ run, output, backend });
  }
  return { backend, prepared, firstMs };
}

const variants = [];
for (const { name, options } of VARIANTS) {
  variants.push({ name, options, ...(await prepareVariant(name, options)) });
}
const samples = variants.map(() => products.map((): number[] => []));
for (let round = 0; round < rounds; round++) {
  for (const i of products.keys()) {
    const order = round % 2 === 0 ? [...variants.keys()] : [...variants.keys()].reverse();
    for (const v of order) {
      const { run, output, backend } = variants[v].prepared[i];
      const start = performance.now();
      run();
      await backend.download(output);
      samples[v][i].push(performance.now() - start);
    }
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `ms per run: median of ${rounds} (fastest / first run in parentheses); ratio = tiled / chosen, ` +
    'of the medians (of the fastest)',
);
for (const [i, [label, m, n, k]] of products.entries()) {
  const matmul = sched.programs[i].kernels.find((kernel) => kernel.kind === 'matmul') as MatmulKernel;
  const columns = variants.map((v, j) => {
    const form = planWgslMatmul(matmul, v.options).form;
    const ms = median(samples[j][i]);
    const gflops = (2 * m * n * k) / (ms * 1e6);
    const fastest = Math.min(...samples[j][i]);
    const first = v.firstMs[i];
    return `${v.name} ${form.padEnd(7)} ${ms.toFixed(1).padStart(7)} ` +
      `(${fastest.toFixed(1).padStart(7)} / ${first.toFixed(0).padStart(5)}) ` +
      `${gflops.toFixed(2).padStart(5)} GFLOP/s`;
  });
  const ratio = median(samples[0][i]) / median(samples[1][i]);
  const fastestRatio = Math.min(...samples[0][i]) / Math.min(...samples[1][i]);
  console.log(`${label}  ${columns.join('  ')}  ratio ${ratio.toFixed(2)} (${fastestRatio.toFixed(2)})`);
}
for (const v of variants) v.backend.dispose();
device.destroy();
rmSync(dir, { recursive: true, force: true });
