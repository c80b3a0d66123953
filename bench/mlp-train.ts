/**
 * Training throughput of the reference MLP (784-250-250-10, batch 600, SGD) side by side in one
 * process: gradc's C and plain-TypeScript backends against TensorFlow.js (wasm and cpu
 * backends). Every contender trains on the same synthetic batch; the figure is samples/s over
 * the timed steps, after untimed warm-up steps, median of the rounds. Ratios are against
 * tfjs-wasm.
 *
 *   npm run bench                  # all contenders, 3 rounds
 *   npm run bench -- --rounds 1 --only c,tfjs-wasm
 */
import type { ModelInstance } from '../runtime/model.ts';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { buildAndOpen } from '../compiler/build.ts';
import type { BackendKind } from '../runtime/open.ts';
import { syntheticMnistBatch } from './synthetic.ts';
import { benchTfjsMlp } from './peers/tfjs-mlp.ts';

const BATCH = 600;

interface Measurement {
  readonly name: string;
  readonly samplesPerSecond: number;
}

interface Contender {
  readonly name: string;
  readonly steps: number;
  run(): Promise<Measurement>;
}

async function gradcModel(backend: BackendKind): Promise<ModelInstance> {
  const outDir = join('.cache', 'bench', `mnist-mlp-${backend}`);
  return (await buildAndOpen('examples/mnist-mlp.ts', { backend, batch: BATCH, outDir })).model;
}

function gradcContender(backend: BackendKind, model: ModelInstance, steps: number, warmup: number): Contender {
  const batch = syntheticMnistBatch(BATCH, 1);
  return {
    name: `gradc-${backend}`,
    steps,
    async run() {
      // The batch is uploaded once and stays in the model's input buffers, as the tfjs
      // contenders keep their batch tensors.
      await model.trainStep(batch);
      for (let i = 1; i < warmup; i++) await model.trainStep();
      const started = performance.now();
      for (let i = 0; i < steps; i++) await model.trainStep();
      const seconds = (performance.now() - started) / 1000;
      return { name: `gradc-${backend}`, samplesPerSecond: (steps * BATCH) / seconds };
    },
  };
}

function tfjsContender(backend: 'wasm' | 'cpu', steps: number, warmup: number): Contender {
  return {
    name: `tfjs-${backend}`,
    steps,
    run: () => benchTfjsMlp({ backend, batch: BATCH, warmupSteps: warmup, steps }),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, only: { type: 'string' }, json: { type: 'string' } },
  });
  const rounds = Number(values.rounds ?? 3);
  const only = values.only?.split(',');
  const wanted = (name: string) => !only || only.includes(name) || only.includes(name.replace('gradc-', ''));
  const contenders: Contender[] = [];
  if (wanted('gradc-c')) contenders.push(gradcContender('c', await gradcModel('c'), 30, 3));
  if (wanted('gradc-js')) contenders.push(gradcContender('js', await gradcModel('js'), 5, 1));
  if (wanted('tfjs-wasm')) contenders.push(tfjsContender('wasm', 15, 3));
  if (wanted('tfjs-cpu')) contenders.push(tfjsContender('cpu', 5, 2));

  const results = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const c of contenders) {
      const m = await c.run();
      results.set(c.name, [...(results.get(c.name) ?? []), m.samplesPerSecond]);
      console.log(`round ${round}: ${c.name.padEnd(10)} ${Math.round(m.samplesPerSecond)} samples/s`);
    }
  }
  const reference = results.has('tfjs-wasm') ? median(results.get('tfjs-wasm')!) : undefined;
  console.log(`\nMLP 784-250-250-10, batch ${BATCH}, SGD; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})`);
  console.log(`${'contender'.padEnd(12)} ${'samples/s'.padStart(10)} ${'vs tfjs-wasm'.padStart(13)}`);
  const table = [...results].map(([name, runs]) => ({ name, samplesPerSecond: median(runs), runs }));
  for (const row of table) {
    const ratio = reference ? `${(row.samplesPerSecond / reference).toFixed(2)}x` : '-';
    console.log(`${row.name.padEnd(12)} ${Math.round(row.samplesPerSecond).toString().padStart(10)} ${ratio.padStart(13)}`);
  }
  if (values.json) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(values.json, `${JSON.stringify({ batch: BATCH, rounds, table }, null, 2)}\n`);
  }
}

await main();
process.exit(0);
