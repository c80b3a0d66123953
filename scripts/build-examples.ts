/** Regenerates the checked-in artifacts of the examples under generated/. */
import { EXAMPLES } from '../test/examples.ts';
import { buildModel } from '../compiler/build.ts';

for (const example of EXAMPLES) {
  const result = await buildModel(example.file, { targets: example.targets });
  for (const f of result.files) console.log(`${f.changed ? 'wrote' : 'up to date'} ${f.path}`);
}
