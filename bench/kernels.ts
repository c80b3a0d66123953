/**
 * Kernel throughput of the native (C + OpenMP) and JS targets: the MLP's matrix products in
 * every transposition, then the whole training step of examples/mnist-mlp.ts (all kernels of
 * the `train` program, launched through the backends as the runtime does).
 *
 *   node --import tsx bench/kernels.ts            (OMP_NUM_THREADS to pick threads)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import model from '../examples/mnist-mlp.ts';
import { compileModel } from '../compiler/compile.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { schedule } from '../compiler/schedule.ts';
import type { Program, Schedule } from '../compiler/codegen/kernel-ir.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { renderC } from '../compiler/codegen/render/c.ts';
import { renderJs } from '../compiler/codegen/render/js.ts';
import type { HostBackend } from '../runtime/backend.ts';
import type { JsKernel } from '../artifact/kernels.ts';
import { createJsBackend } from '../runtime/backends/js.ts';
import { createNativeBackend } from '../runtime/backends/native.ts';

/** [name, m, n, k, transA, transB]: the products of one MLP step at batch 600. */
const PRODUCTS: readonly [string, number, number, number, boolean, boolean][] = [
  ['x·W1        [600,784]·[784,250]', 600, 250, 784, false, false],
  ['h·W2        [600,250]·[250,250]', 600, 250, 250, false, false],
  ['dh·W2ᵀ      [600,250]·[250,250]ᵀ', 600, 250, 250, false, true],
  ['xᵀ·dh (dW1) [600,784]ᵀ·[600,250]', 784, 250, 600, true, false],
  ['hᵀ·dh (dW2) [600,250]ᵀ·[600,250]', 250, 250, 600, true, false],
  ['Aᵀ·Bᵀ       [784,600]ᵀ·[250,784]ᵀ', 600, 250, 784, true, true],
];

function productSchedule(): Schedule {
  const programs = PRODUCTS.map(([, m, n, k, transA, transB], i) => {
    const b = new GraphBuilder();
    const a = b.input(`a${i}`, transA ? [k, m] : [m, k]);
    const w = b.input(`b${i}`, transB ? [n, k] : [k, n]);
    return { name: `mm${i}`, graph: b.finish({ y: b.matmul(a, w, transA, transB) }) };
  });
  return schedule(programs, {});
}

const temporaryDirs: string[] = [];

interface Runner {
  readonly name: string;
  readonly backend: HostBackend;
}

async function runners(sched: Schedule, label: string): Promise<Runner[]> {
  const kernels = allKernels(sched).map((k) => ({ name: k.name, arity: k.inputs.length + 1 }));
  const native = createNativeBackend({ cSource: renderC(sched, { modelName: label, buildId: 'bench' }), kernels });
  const dir = mkdtempSync(join(tmpdir(), 'gradc-bench-'));
  temporaryDirs.push(dir);
  const file = join(dir, 'kernels.ts');
  writeFileSync(file, renderJs(sched, { modelName: label, buildId: 'bench' }));
  const module = (await import(pathToFileURL(file).href)) as { kernels: Record<string, JsKernel> };
  return [
    { name: 'native', backend: native },
    { name: 'js', backend: createJsBackend(module.kernels) },
  ];
}

/** Binds every kernel of `program` over freshly allocated buffers of small random values. */
function bindProgram(backend: HostBackend, sched: Schedule, program: Program): () => void {
  const buffers = sched.buffers.map((d) => {
    const buffer = backend.allocate(d.size);
    backend.upload(buffer, Float32Array.from({ length: d.size }, () => Math.random() * 0.1));
    return buffer;
  });
  const launches = program.kernels.map((k) =>
    backend.bind(k.name, [...k.inputs, k.output].map((id) => buffers[id])),
  );
  return () => launches.forEach((launch) => launch());
}

/** Median milliseconds per call over about `budgetMs` of repetitions, after warming up. */
function timeIt(run: () => void, budgetMs: number): number {
  for (let i = 0; i < 3; i++) run();
  const samples: number[] = [];
  const start = performance.now();
  while (performance.now() - start < budgetMs || samples.length < 5) {
    const t0 = performance.now();
    run();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

async function benchProducts(): Promise<void> {
  const sched = productSchedule();
  for (const { name, backend } of await runners(sched, 'matmul-bench')) {
    console.log(`\n${name} backend: matrix products`);
    sched.programs.forEach((program, i) => {
      const [label, m, n, k] = PRODUCTS[i];
      const ms = timeIt(bindProgram(backend, sched, program), name === 'js' ? 1500 : 500);
      const gflops = (2 * m * n * k) / (ms * 1e6);
      const timing = `${ms.toFixed(3).padStart(8)} ms  ${gflops.toFixed(1).padStart(6)} GFLOP/s`;
      console.log(`  ${label}  ${timing}`);
    });
    backend.dispose();
  }
}

async function benchTrainStep(): Promise<void> {
  const sched = compileModel(model.declare()).schedule;
  const train = sched.programs.find((p) => p.name === 'train')!;
  for (const { name, backend } of await runners(sched, 'mnist-mlp')) {
    const ms = timeIt(bindProgram(backend, sched, train), name === 'js' ? 3000 : 1000);
    const what = `mnist-mlp train step (${train.kernels.length} kernels)`;
    console.log(`${name} backend: ${what} ${ms.toFixed(2)} ms`);
    backend.dispose();
  }
}

console.log(`OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? '(all cores)'}`);
await benchProducts();
console.log('');
await benchTrainStep();
for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
