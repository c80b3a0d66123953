/**
 * Dispatches per step, before and after fusion: the reference MLP (examples/mnist-mlp.ts) at
 * batches 60 and 600 and the CNN (examples/mnist-cnn.ts) at its batch, each compiled fused (as
 * `gradc build` compiles it) and unfused (`schedule(..., { fuse: false })`: every product's and
 * reduction's elementwise work in map kernels of its own), opened as a model on WebGPU (Dawn
 * from the `webgpu` package) and on CUDA (the CUDA backend over the CPU emulator of
 * test/cuda-emulator/). Each runs one train step and one predict, then a few more of each for
 * their times, and the kernels actually issued are counted at the backend
 * (test/launch-count.ts): on WebGPU the dispatches in the command buffers submitted to the
 * queue, on the emulator the grids its driver ran (the CUDA backend replays a program's graph
 * after its first run, so these are the graph's launches). Every step is counted, and the
 * script says where a count differs from step to step or from the program's kernel count.
 *
 * Times are the median wall time of a step (from the first upload to the loss or predictions
 * read back) over the steps after the first. Without a GPU, Dawn runs on Mesa's lavapipe, a
 * Vulkan driver on the CPU, and the emulator runs every CUDA thread as a fiber on the CPU:
 * their times compare nothing a GPU would do. The counts are the point.
 *
 *   npm run bench:dispatches
 *   node --conditions=gradc-source --import tsx bench/dispatches.ts [--steps 3] [--only webgpu]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CompiledModel } from '../compiler/compile.ts';
import type { ModelDefinition } from '../dsl/model.ts';
import type { GpuDeviceLike } from '../runtime/backend.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';
import type { CountedModel, CountedTarget } from '../test/launch-count.ts';
import { compileFusedAndUnfused, kernelCount, openCountedModel } from '../test/launch-count.ts';
import { median } from './harness.ts';
import { syntheticMnistBatch } from './synthetic.ts';

const TARGETS = ['webgpu', 'cuda-emulator'] as const;
type TargetName = (typeof TARGETS)[number];
const PROGRAMS = ['train', 'predict'] as const;
type ProgramName = (typeof PROGRAMS)[number];
const VARIANTS = ['unfused', 'fused'] as const;
type Variant = (typeof VARIANTS)[number];

interface Config {
  readonly label: string;
  readonly example: string;
  /** Undefined: the model's own batch. */
  readonly batch?: number;
}

const CONFIGS: readonly Config[] = [
  { label: 'MLP 784-250-250-10', example: 'mnist-mlp', batch: 60 },
  { label: 'MLP 784-250-250-10', example: 'mnist-mlp', batch: 600 },
  { label: 'CNN (examples/mnist-cnn.ts)', example: 'mnist-cnn' },
];

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const timedSteps = Number(values.steps);
if (!Number.isSafeInteger(timedSteps) || timedSteps < 1) throw new Error('--steps takes a positive integer');
const targets = values.only ? (values.only.split(',') as TargetName[]) : [...TARGETS];
for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`--only: unknown target ${t} (${TARGETS.join(', ')})`);

/** What one program did on one target: the launches counted at each step, and each step's ms. */
interface Measured {
  readonly counts: readonly number[];
  readonly ms: readonly number[];
}

interface Row {
  readonly model: string;
  readonly batch: number;
  readonly program: ProgramName;
  readonly target: TargetName;
  /** The program's kernels in the schedule, per variant. */
  readonly kernels: Record<Variant, number>;
  readonly measured: Record<Variant, Measured>;
}

const dir = mkdtempSync(join(os.tmpdir(), 'gradc-dispatches-'));

/** The first step and `timedSteps` more of `program`, each counted and timed. */
async function measure(opened: CountedModel, program: ProgramName, batch: number): Promise<Measured> {
  const { x, y } = syntheticMnistBatch(batch, 7);
  const counts: number[] = [];
  const ms: number[] = [];
  for (let step = 0; step <= timedSteps; step++) {
    const before = opened.launched();
    const start = performance.now();
    if (program === 'train') await opened.model.trainStep({ x, y });
    else await opened.model.predict({ x });
    ms.push(performance.now() - start);
    counts.push(opened.launched() - before);
  }
  return { counts, ms };
}

const formatMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
/** A count, or `a / b / ...` when the steps issued different counts. */
const formatCounts = (counts: readonly number[]) => ([...new Set(counts)].length === 1 ? String(counts[0]) : counts.join(' / '));

/** The adapter Dawn chose, as it describes itself (`llvmpipe: Mesa ...` for lavapipe). */
function adapterOf(device: GpuDeviceLike): string {
  const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info ? [info.vendor, info.architecture, info.description].filter((s) => s).join(', ') : 'unknown adapter';
}

async function main(): Promise<void> {
  const device = targets.includes('webgpu') ? await requestNodeGpuDevice() : undefined;
  const rows: Row[] = [];
  try {
    for (const config of CONFIGS) {
      const { default: definition } = (await import(`../examples/${config.example}.ts`)) as { default: ModelDefinition };
      const compiled: Record<Variant, CompiledModel> = compileFusedAndUnfused(
        definition,
        config.batch !== undefined ? { batch: config.batch } : {},
      );
      const batch = compiled.fused.spec.batch;
      for (const target of targets) {
        const where: CountedTarget = target === 'webgpu' ? { kind: 'webgpu', device: device! } : { kind: 'cuda-emulator' };
        const measured = { train: {}, predict: {} } as Record<ProgramName, Record<Variant, Measured>>;
        for (const variant of VARIANTS) {
          console.log(`${config.example} batch ${batch}, ${variant}, on ${target} ...`);
          const opened = await openCountedModel(compiled[variant], where, dir);
          try {
            for (const program of PROGRAMS) measured[program][variant] = await measure(opened, program, batch);
          } finally {
            opened.backend.dispose();
          }
        }
        for (const program of PROGRAMS) {
          const kernels = { unfused: kernelCount(compiled.unfused, program), fused: kernelCount(compiled.fused, program) };
          rows.push({ model: config.label, batch, program, target, kernels, measured: measured[program] });
        }
      }
    }
  } finally {
    (device as GPUDevice | undefined)?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  report(rows, device && adapterOf(device));
}

function report(rows: readonly Row[], adapter: string | undefined): void {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log('');
  console.log(`Dispatches (WebGPU) and launches (CUDA) per step, counted at the backend; ${os.cpus().length} cores, ${cpu}.`);
  if (adapter) console.log(`WebGPU adapter: ${adapter}.`);
  console.log(`Times: median ms of ${timedSteps} step(s) after the first, from the upload to the results read back.`);
  console.log('Where WebGPU runs on lavapipe (Mesa\'s Vulkan driver on the CPU) and CUDA on the CPU emulator, the');
  console.log('times say nothing about a GPU; the counts are the point.');
  console.log('');
  console.log('| model | batch | program | target | dispatches unfused | fused | ms per step unfused | fused |');
  console.log('|---|---:|---|---|---:|---:|---:|---:|');
  let previous = '';
  for (const row of rows) {
    const head = `${row.model}|${row.batch}`;
    const [model, batch] = head === previous ? ['', ''] : [row.model, String(row.batch)];
    previous = head;
    const { unfused, fused } = row.measured;
    const cells = [
      model, batch, row.program, row.target,
      formatCounts(unfused.counts), formatCounts(fused.counts),
      formatMs(median(unfused.ms.slice(1))), formatMs(median(fused.ms.slice(1))),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  const differing = rows.flatMap((row) =>
    VARIANTS.filter((v) => row.measured[v].counts.some((c) => c !== row.kernels[v])).map(
      (v) => `${row.model} batch ${row.batch} ${row.program} ${v} on ${row.target}: ` +
        `${row.kernels[v]} kernels, counted ${row.measured[v].counts.join(', ')}`,
    ),
  );
  console.log('');
  if (differing.length === 0) console.log('Every step issued exactly its program\'s kernels, one launch each.');
  else for (const line of differing) console.log(`count differs from the kernel count: ${line}`);
}

await main();
