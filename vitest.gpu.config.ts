/**
 * `npm run test:gpu`: the tests that need an NVIDIA GPU with its driver (and nvcc), one file at
 * a time so that timings are not disturbed. The default config (`npm test`) leaves them out.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test-gpu/**/*.test.ts'],
    // 30 epochs of MNIST take a minute or two on one GPU; nvcc takes seconds per module.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
