/**
 * A vitest reporter for the default config (`npm test`): after the summary, one line saying
 * that the GPU tests were not run. They live in test-gpu/, outside the default `include`,
 * and run with `npm run test:gpu` (vitest.gpu.config.ts) on a machine with an NVIDIA GPU.
 */
import type { Reporter } from 'vitest/reporters';

export const GPU_NOTE =
  'GPU tests not run: test-gpu/ (CUDA kernels on a GPU, MNIST on CUDA) needs an NVIDIA GPU; ' +
  'run them there with `npm run test:gpu`.';

export class GpuNoteReporter implements Reporter {
  onTestRunEnd(): void {
    process.stdout.write(`\n${GPU_NOTE}\n`);
  }
}
