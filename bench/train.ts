/**
 * Training throughput side by side in one process: gradc's C and plain-TypeScript backends
 * against TensorFlow.js (wasm and cpu backends), on the reference MLP (784-250-250-10, batch
 * 600, SGD). Every contender trains on the same synthetic batch; the figure is samples/s over
 * the timed steps, after untimed warm-up steps. Single runs vary by ±20% on a shared machine,
 * so the contenders run in alternating rounds and the table reports medians and ranges.
 *
 *   npm run bench                  # all contenders, 3 rounds
 *   npm run bench -- --rounds 1 --only c,tfjs-wasm
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { Contender, RatioColumn, StepCounts, Summary } from './harness.ts';
import { formatTable, gradcContender, openGradcModel, runRounds } from './harness.ts';
import { benchTfjsMlp } from './peers/tfjs-mlp.ts';

const MLP_BATCH = 600;

function tfjsMlpContender(backend: 'wasm' | 'cpu', counts: StepCounts): Contender {
  return {
    name: `tfjs-${backend}`,
    run: () => benchTfjsMlp({ backend, batch: MLP_BATCH, warmupSteps: counts.warmup, steps: counts.steps }),
  };
}

async function mlpContenders(wanted: (name: string) => boolean): Promise<Contender[]> {
  const model = (backend: 'c' | 'js') => openGradcModel('examples/mnist-mlp.ts', backend, MLP_BATCH);
  const contenders: Contender[] = [];
  if (wanted('gradc-c')) contenders.push(gradcContender('c', await model('c'), MLP_BATCH, { warmup: 3, steps: 30 }));
  if (wanted('gradc-js')) contenders.push(gradcContender('js', await model('js'), MLP_BATCH, { warmup: 1, steps: 5 }));
  if (wanted('tfjs-wasm')) contenders.push(tfjsMlpContender('wasm', { warmup: 3, steps: 15 }));
  if (wanted('tfjs-cpu')) contenders.push(tfjsMlpContender('cpu', { warmup: 2, steps: 5 }));
  return contenders;
}

function machine(): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { rounds: { type: 'string' }, only: { type: 'string' }, json: { type: 'string' } },
  });
  const rounds = Number(values.rounds ?? 3);
  const only = values.only?.split(',');
  const wanted = (name: string) => !only || only.includes(name) || only.includes(name.replace('gradc-', ''));
  const table: Summary[] = await runRounds(await mlpContenders(wanted), rounds);
  const ratios: RatioColumn = { reference: 'tfjs-wasm', referenceOverRow: false };
  console.log(`\nMLP 784-250-250-10, batch ${MLP_BATCH}, SGD; ${machine()}`);
  for (const line of formatTable(table, ratios)) console.log(line);
  if (values.json) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(values.json, `${JSON.stringify({ batch: MLP_BATCH, rounds, table }, null, 2)}\n`);
  }
}

await main();
process.exit(0);
