/**
 * Where a training step's time goes: every kernel of a model's `train` program timed on its
 * own, on any backend, with its throughput (GFLOP/s for matrix products, GB/s of buffers read
 * and written for the rest) and its share of the sum. The kernels run on the model's real
 * launch shapes over buffers of small random values; each is launched `repeats` times in one
 * prepared program (one CUDA graph, one WebGPU command buffer) and the device is synchronised by
 * reading back a one-element buffer.
 *
 *   node --import tsx bench/profile-kernels.ts --backend c [--batch 600] [--repeats 20]
 *     [--model examples/mnist-mlp.ts] [--json]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildAndOpen } from '../cli/build-and-open.ts';
import type { Kernel } from '../compiler/codegen/kernel-ir.ts';
import type { BackendKind } from '../artifact/kernels.ts';
import { BACKEND_KINDS } from '../artifact/kernels.ts';
import type { Backend, DeviceBuffer } from '../runtime/backend.ts';
import { createRng } from '../runtime/init.ts';
import { allocateStorages } from '../runtime/model.ts';

interface KernelTiming {
  readonly kernel: string;
  readonly kind: Kernel['kind'];
  readonly what: string;
  readonly ms: number;
  /** GFLOP/s for a matrix product, GB/s of buffers read and written otherwise. */
  readonly rate: number;
  readonly unit: 'GFLOP/s' | 'GB/s';
}

/** Milliseconds per run of `run`, synchronised by reading back `sync` after the last one. */
async function timeRuns(backend: Backend, run: () => void, sync: DeviceBuffer, runs: number): Promise<number> {
  run();
  await backend.download(sync);
  const started = performance.now();
  for (let i = 0; i < runs; i++) run();
  await backend.download(sync);
  return (performance.now() - started) / runs;
}

function describe(kernel: Kernel): { what: string; work: number; unit: KernelTiming['unit'] } {
  switch (kernel.kind) {
    case 'matmul': {
      const { m, n, k, kSlices } = kernel;
      const slices = kSlices > 1 ? ` in ${kSlices} slices` : '';
      return { what: `${m}x${n}x${k}${slices}`, work: 2 * m * n * k, unit: 'GFLOP/s' };
    }
    case 'reduce':
      return { what: `${kernel.op} ${kernel.outSize} x ${kernel.reduceSize}`, work: 0, unit: 'GB/s' };
    case 'map':
      return { what: `map ${kernel.size}`, work: 0, unit: 'GB/s' };
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'c' },
      batch: { type: 'string' },
      repeats: { type: 'string', default: '20' },
      model: { type: 'string', default: 'examples/mnist-mlp.ts' },
      json: { type: 'boolean', default: false },
    },
  });
  const kind = values.backend as BackendKind;
  if (!BACKEND_KINDS.includes(kind)) throw new Error(`--backend: one of ${BACKEND_KINDS.join(', ')}`);
  const batch = values.batch === undefined ? undefined : Number(values.batch);
  const repeats = Number(values.repeats);
  const outDir = join('.cache', 'bench-profile', `${kind}-b${batch ?? 'default'}`);
  const { model, compiled } = await buildAndOpen(values.model!, { backend: kind, batch, outDir });
  const { backend, artifact } = model;
  const buffers = allocateStorages(artifact.buffers, (size) => backend.allocate(size));
  const rng = createRng(7);
  for (const [i, b] of artifact.buffers.entries()) {
    if (b.role !== 'temp') backend.upload(buffers[i], new Float32Array(b.size).map(() => 0.1 * (rng() - 0.5)));
  }
  const sync = buffers[artifact.buffers.findIndex((b) => b.size === 1)] ?? buffers[0];
  const train = artifact.programs.find((p) => p.name === 'train')!;
  const kernels = compiled.schedule.programs.find((p) => p.name === 'train')!.kernels;
  const timings: KernelTiming[] = [];
  for (const [i, launch] of train.launches.entries()) {
    const args = launch.args.map((a) => buffers[a]);
    const program = await backend.prepare(Array.from({ length: repeats }, () => ({ kernel: launch.kernel, args })));
    const ms = (await timeRuns(backend, () => program.run(), sync, 3)) / repeats;
    const { what, work, unit } = describe(kernels[i]);
    const bytes = 4 * launch.args.reduce((n, a) => n + artifact.buffers[a].size, 0);
    const rate = (unit === 'GFLOP/s' ? work : bytes) / (ms * 1e6);
    timings.push({ kernel: launch.kernel, kind: kernels[i].kind, what, ms, rate, unit });
  }
  const step = await backend.prepare(train.launches.map((l) => ({ kernel: l.kernel, args: l.args.map((a) => buffers[a]) })));
  const stepMs = await timeRuns(backend, () => step.run(), sync, repeats);
  const sum = timings.reduce((n, t) => n + t.ms, 0);
  const device = (backend as { device?: { name: string } }).device?.name ?? backend.name;
  if (values.json) {
    for (const t of timings) console.log(JSON.stringify({ backend: kind, batch: artifact.batch, device, ...t }));
    console.log(JSON.stringify({ backend: kind, batch: artifact.batch, device, stepMs, kernelSumMs: sum }));
  } else {
    console.log(`${artifact.name}, batch ${artifact.batch}, ${kind} backend (${device}), ${repeats} launches per kernel\n`);
    console.log('| kernel | work | ms | share | throughput |');
    console.log('|---|---|---:|---:|---:|');
    for (const t of [...timings].sort((a, b) => b.ms - a.ms)) {
      const share = `${((100 * t.ms) / sum).toFixed(1)}%`;
      console.log(`| ${t.kernel} | ${t.what} | ${t.ms.toFixed(4)} | ${share} | ${t.rate.toFixed(1)} ${t.unit} |`);
    }
    console.log(`\nsum of kernels ${sum.toFixed(3)} ms; the whole step, launched as the runtime does: ${stepMs.toFixed(3)} ms`);
  }
  model.dispose();
}

await main();
