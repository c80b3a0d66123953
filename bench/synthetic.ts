/** One synthetic MNIST-shaped batch for the benchmarks: uniform pixels, one-hot labels. */
import { createRng } from '../runtime/init.ts';

/** `batch` images of 784 values in [0, 1) and one-hot labels of 10 classes, drawn from `seed`. */
export function syntheticMnistBatch(batch: number, seed: number): { x: Float32Array; y: Float32Array } {
  const rng = createRng(seed);
  const x = new Float32Array(batch * 784).map(() => rng());
  const y = new Float32Array(batch * 10);
  for (let r = 0; r < batch; r++) y[r * 10 + Math.floor(rng() * 10)] = 1;
  return { x, y };
}
