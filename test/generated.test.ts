/**
 * The artifacts checked in under generated/ are exactly what `gradc build` makes now, and
 * building twice gives byte-identical text. `npm test` also type-checks the glue modules.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDefinition, renderArtifacts, runtimeImportFrom } from '../compiler/build.ts';
import { compileModel } from '../compiler/compile.ts';
import type { Target } from '../compiler/codegen/targets.ts';
import { EXAMPLES } from './examples.ts';

/** The kernel files each target writes next to the glue module. */
const KERNEL_FILES: Readonly<Record<Target, readonly string[]>> = {
  js: ['kernels.ts'],
  c: ['kernels.c'],
  wgsl: ['kernels-wgsl.ts'],
  cuda: ['kernels.cu', 'kernels-cuda.ts'],
};

async function render(file: string, targets: (typeof EXAMPLES)[number]['targets'], outDir: string) {
  const definition = await loadModelDefinition(file);
  return renderArtifacts(compileModel(definition.declare()), targets, runtimeImportFrom(outDir), file);
}

describe.each(EXAMPLES)('generated/$name', (example) => {
  const outDir = join('generated', example.name);

  it('is up to date (run `npm run build:examples` after changing the compiler)', async () => {
    const files = await render(example.file, example.targets, outDir);
    for (const [name, text] of Object.entries(files)) {
      const onDisk = readFileSync(join(outDir, name), 'utf8');
      expect(onDisk, `${outDir}/${name} differs from a fresh build`).toBe(text);
    }
  });

  it('is deterministic: two builds give the same bytes', async () => {
    const first = await render(example.file, example.targets, outDir);
    const second = await render(example.file, example.targets, outDir);
    expect(second).toEqual(first);
  });

  it('names the DSL lines each kernel computes', async () => {
    const files = await render(example.file, example.targets, outDir);
    const kernelFiles = Object.entries(files).filter(([name]) => /^kernels[.-]/.test(name));
    const expected = example.targets.flatMap((t) => KERNEL_FILES[t]);
    expect(kernelFiles.map(([name]) => name).sort()).toEqual([...expected].sort());
    for (const [, text] of kernelFiles) {
      expect(text).toMatch(new RegExp(`${example.file}:\\d+:\\d+ dense`));
    }
  });
});
