// Runs the tfjs peer on both backends and prints a table.
// Usage: node --import tsx bench/peers/run-tfjs.ts
import * as tf from '@tensorflow/tfjs';
import { benchTfjsMlp, type TfjsBackend, type TfjsMlpResult } from './tfjs-mlp.ts';

const BATCH = 600;
const WARMUP_STEPS = 3;
const STEPS = 10;
const BACKENDS: TfjsBackend[] = ['wasm', 'cpu'];

function formatRow(r: TfjsMlpResult): string {
  const cells = [
    r.name.padEnd(10),
    r.samplesPerSecond.toFixed(0).padStart(10),
    r.msPerStep.toFixed(1).padStart(9),
    r.finalLoss.toFixed(4).padStart(10),
  ];
  return cells.join('  ');
}

async function main(): Promise<void> {
  const start = performance.now();
  console.log(`tfjs ${tf.version.tfjs}, batch ${BATCH}, ${WARMUP_STEPS} warmup + ${STEPS} steps`);
  console.log(['peer'.padEnd(10), 'samples/s'.padStart(10), 'ms/step'.padStart(9),
    'final loss'.padStart(10)].join('  '));
  for (const backend of BACKENDS) {
    const opts = { backend, batch: BATCH, warmupSteps: WARMUP_STEPS, steps: STEPS };
    console.log(formatRow(await benchTfjsMlp(opts)));
    // Nothing else holds tensors here, so any left over leaked from the peer.
    const leaked = tf.memory().numTensors;
    if (leaked !== 0) console.warn(`  warning: ${leaked} tfjs tensors leaked on ${backend}`);
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  console.log(`wasm simd: ${simd}; total ${((performance.now() - start) / 1000).toFixed(1)} s`);
}

await main();
