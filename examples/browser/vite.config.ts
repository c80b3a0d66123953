// Vite config of the example page: `npx vite examples/browser` serves it,
// `npx vite build examples/browser` builds it into .cache/browser (with the MNIST files).
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';
import { mnistFiles } from './mnist-files.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  plugins: [mnistFiles()],
  // `gradc/runtime` (as the page and the generated model import it) is this repository's source.
  resolve: { conditions: ['gradc-source', ...defaultClientConditions] },
  // The page imports the runtime and the generated model from the repository, outside this root.
  server: { fs: { allow: [repoRoot] } },
  // The page has no npm dependencies to pre-bundle; discovering some mid-run would reload it.
  optimizeDeps: { noDiscovery: true, include: [] },
  build: {
    outDir: fileURLToPath(new URL('../../.cache/browser', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
});
