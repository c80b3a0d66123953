/**
 * The reference experiment on an NVIDIA GPU (`npm run test:gpu`): the MLP of
 * examples/mnist-mlp.ts built with `--target cuda` (nvcc at build time) and trained on the
 * CUDA backend. One epoch on the first 10,000 images at batch 16, as test/e2e-mnist.test.ts
 * runs the other backends; and the full experiment, 30 epochs on all 60,000 training images
 * at batch 600 and learning rate 0.1, where the C backend reaches 97.52% test accuracy.
 */
import type { ModelInstance } from '../runtime/model.ts';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAndOpen } from '../cli/build-and-open.ts';
import { FATBIN_FILE } from '../artifact/cuda-compile.ts';
import { loadMnist, mnistDataset } from '../runtime/data/mnist.ts';
import type { EpochRecord } from '../runtime/fit.ts';
import { fit } from '../runtime/fit.ts';

/** Builds the MLP for CUDA at `batch` and opens it on the GPU. */
async function openOnCuda(batch: number): Promise<ModelInstance> {
  const outDir = join('.cache', 'gpu', `mnist-mlp-cuda-b${batch}`);
  const { files, model } = await buildAndOpen('examples/mnist-mlp.ts', { backend: 'cuda', batch, outDir });
  expect(files.some((f) => f.path.endsWith(FATBIN_FILE))).toBe(true);
  return model;
}

function describeEpoch(e: EpochRecord): string {
  return (
    `epoch ${e.epoch}: test accuracy ${(e.validation!.accuracy! * 100).toFixed(2)}%, ` +
    `test loss ${e.validation!.loss!.toFixed(4)}, train loss ${e.loss.toFixed(4)}, ` +
    `${Math.round(e.samplesPerSecond)} samples/s`
  );
}

describe('MNIST MLP on the CUDA backend', () => {
  it('reaches 90% test accuracy after one epoch on 10,000 images at batch 16', async () => {
    const model = await openOnCuda(16);
    const data = loadMnist({ trainLimit: 10_000 });
    try {
      const { history } = await fit(model, mnistDataset(data.train), {
        epochs: 1,
        validation: mnistDataset(data.test),
        lossEvery: 10,
      });
      const [epoch] = history;
      console.log(`cuda, batch 16: ${describeEpoch(epoch)}`);
      expect(data.test.count).toBe(10_000);
      expect(epoch.validation!.accuracy).toBeGreaterThanOrEqual(0.9);
      expect(epoch.loss).toBeLessThan(1);
    } finally {
      model.dispose();
    }
  });

  it('reaches 97.0% after 30 epochs on 60,000 images, batch 600, lr 0.1 (C: 97.52%)', async () => {
    const model = await openOnCuda(600);
    const data = loadMnist();
    try {
      const { history } = await fit(model, mnistDataset(data.train), {
        epochs: 30,
        validation: mnistDataset(data.test),
        learningRate: 0.1,
        lossEvery: 10,
        callbacks: { onEpochEnd: (e) => console.log(`cuda, batch 600: ${describeEpoch(e)}`) },
      });
      const last = history[history.length - 1];
      expect(data.train.count).toBe(60_000);
      expect(data.test.count).toBe(10_000);
      expect(history.length).toBe(30);
      expect(last.validation!.accuracy).toBeGreaterThanOrEqual(0.97);
    } finally {
      model.dispose();
    }
  });
});
