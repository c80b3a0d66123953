/**
 * gradc's side of the GPU benchmark: the reference MLP's training step on the CUDA backend for
 * each batch size, timed over `steps` steps enqueued back to back (the loss is read once at the
 * end, as the PyTorch peer does), twice: with the batch resident on the device (uploaded
 * once, as the PyTorch peer keeps its batch tensors), and with the batch uploaded from host
 * memory every step. Prints one JSON line per batch size and data mode, in the format of
 * torch_mlp.py. Needs an NVIDIA GPU; `bench/gpu/run.sh` runs both sides in one go.
 *
 *   node --import tsx bench/gpu/gradc-cuda.ts --batches 60,600,6000 --steps 200
 */
import type { ModelInstance } from '../../runtime/model.ts';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildAndOpen } from '../../cli/build-and-open.ts';
import { syntheticMnistBatch } from '../synthetic.ts';

async function openModel(batch: number): Promise<ModelInstance> {
  const outDir = join('.cache', 'bench-gpu', `mnist-mlp-b${batch}`);
  return (await buildAndOpen('examples/mnist-mlp.ts', { backend: 'cuda', batch, outDir })).model;
}

type DataMode = 'resident' | 'uploaded';

async function timeSteps(model: ModelInstance, batch: number, warmup: number, steps: number, data: DataMode) {
  const feeds = syntheticMnistBatch(batch, batch);
  const step = data === 'resident' ? () => model.enqueueTrainStep() : () => model.enqueueTrainStep(feeds);
  model.enqueueTrainStep(feeds);
  for (let i = 1; i < warmup; i++) step();
  await model.lastLoss();
  const started = performance.now();
  for (let i = 0; i < steps; i++) step();
  const finalLoss = await model.lastLoss();
  const msPerStep = (performance.now() - started) / steps;
  return { msPerStep, finalLoss };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { batches: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' } },
  });
  const batches = (values.batches ?? '60,600,6000').split(',').map(Number);
  const steps = Number(values.steps ?? 200);
  const warmup = Number(values.warmup ?? 20);
  for (const batch of batches) {
    for (const data of ['resident', 'uploaded'] as const) {
      const model = await openModel(batch);
      const { msPerStep, finalLoss } = await timeSteps(model, batch, warmup, steps, data);
      const device = (model.backend as { device?: { name: string } }).device?.name ?? 'unknown';
      console.log(JSON.stringify({
        contender: 'gradc-cuda',
        data,
        batch,
        msPerStep,
        samplesPerSecond: (batch / msPerStep) * 1000,
        finalLoss,
        device,
      }));
      model.dispose();
    }
  }
}

await main();
