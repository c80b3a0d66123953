import { defineConfig } from 'vitest/config';
import { GpuNoteReporter } from './test/gpu-note-reporter.ts';

export default defineConfig({
  // `gradc`, `gradc/runtime`, ... (as generated modules and examples import them) resolve to
  // the TypeScript sources of this repository, not to a built dist/.
  resolve: { conditions: ['gradc-source'] },
  ssr: { resolve: { conditions: ['gradc-source'] } },
  test: {
    // The GPU tests (test-gpu/) run with `npm run test:gpu` only; the last reporter says so.
    include: ['test/**/*.test.ts'],
    reporters: ['default', new GpuNoteReporter()],
    // End-to-end training and compiling C take tens of seconds on a 2-core machine.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
