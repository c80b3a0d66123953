import { benchTfjsMlp } from './tfjs-mlp.ts';
for (const backend of ['wasm', 'cpu', 'wasm', 'cpu'] as const) {
  const r = await benchTfjsMlp({ backend, batch: 64, warmupSteps: 1, steps: 3, seed: 7, wasmThreads: 2 });
  console.log(r);
}
console.log('listeners', process.listeners('unhandledRejection').length, process.listeners('uncaughtException').length);
setTimeout(() => { throw new Error('boom'); }, 0);
