/**
 * Regenerates the checked-in artifacts of the examples under generated/<name>, each at its
 * example's batch (as `gradc build --batch N --out generated/<name>`). nvcc is not run: the
 * fatbin is not checked in, and regenerating the text files needs no CUDA toolkit (the runtime
 * compiles kernels.cu on first use where nvcc is).
 */
import { join } from 'node:path';
import { EXAMPLES } from '../test/examples.ts';
import { buildModel } from '../compiler/build.ts';

for (const example of EXAMPLES) {
  const result = await buildModel(example.file, {
    targets: example.targets,
    outDir: join('generated', example.name),
    batch: example.batch,
    compileCuda: false,
  });
  for (const f of result.files) console.log(`${f.removed ? 'removed' : f.changed ? 'wrote' : 'up to date'} ${f.path}`);
}
