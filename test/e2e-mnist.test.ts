/**
 * End to end on real MNIST: the reference MLP (examples/mnist-mlp.ts) is built for each
 * backend (WebGPU runs on Mesa's lavapipe where there is no GPU), trained for one epoch on the
 * first 10,000 training images and scored on all 10,000 test images.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAndOpen } from '../cli/build-and-open.ts';
import type { BackendKind } from '../artifact/kernels.ts';
import { loadMnist, mnistDataset } from '../runtime/data/mnist.ts';
import { fit } from '../runtime/fit.ts';

/** Smaller batches than the reference's 600 give one short epoch enough steps to learn. */
const BATCH = 16;
const MIN_ACCURACY = 0.9;

describe.each(['c', 'js', 'webgpu'] as const)('MNIST MLP on the %s backend', (backend: BackendKind) => {
  it(`reaches ${MIN_ACCURACY * 100}% test accuracy after one epoch on 10,000 images`, async () => {
    const outDir = join('.cache', 'e2e', `mnist-mlp-${backend}`);
    const { model } = await buildAndOpen('examples/mnist-mlp.ts', { backend, batch: BATCH, outDir });
    const data = loadMnist({ trainLimit: 10_000 });
    try {
      const { history } = await fit(model, mnistDataset(data.train), {
        epochs: 1,
        validation: mnistDataset(data.test),
        // A GPU runs ahead between loss reads; the host backends read every step for free.
        lossEvery: backend === 'webgpu' ? 10 : 1,
      });
      const [epoch] = history;
      const accuracy = epoch.validation!.accuracy!;
      console.log(
        `${backend}: test accuracy ${(accuracy * 100).toFixed(2)}%, test loss ` +
          `${epoch.validation!.loss!.toFixed(4)}, train loss ${epoch.loss.toFixed(4)}, ` +
          `${Math.round(epoch.samplesPerSecond)} samples/s`,
      );
      expect(data.test.count).toBe(10_000);
      expect(accuracy).toBeGreaterThanOrEqual(MIN_ACCURACY);
      // Chance level is ln 10 = 2.30; the epoch mean includes the first, untrained steps.
      expect(epoch.loss).toBeLessThan(1);
      expect(epoch.validation!.loss).toBeLessThan(0.5);
    } finally {
      model.dispose();
    }
  });
});
