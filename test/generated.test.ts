/**
 * The artifacts checked in under generated/ are exactly what `gradc build` makes now, and
 * building twice gives byte-identical text. `npm test` also type-checks the glue modules.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDefinition, programDeclarations, renderArtifacts } from '../compiler/build.ts';
import { compileModel } from '../compiler/compile.ts';
import type { Target } from '../compiler/codegen/targets.ts';
import { MANIFEST_FILE } from '../compiler/build-cache.ts';
import { EXAMPLES } from './examples.ts';
import { strictDiagnostics } from './typecheck.ts';

/** The kernel files each target writes next to the glue module. */
const KERNEL_FILES: Readonly<Record<Target, readonly string[]>> = {
  js: ['kernels.js', 'kernels.d.ts'],
  c: ['kernels.c'],
  wgsl: ['kernels-wgsl.js', 'kernels-wgsl.d.ts'],
  cuda: ['kernels.cu', 'kernels-cuda.js', 'kernels-cuda.d.ts'],
};

async function render(file: string, targets: (typeof EXAMPLES)[number]['targets']) {
  const definition = await loadModelDefinition(file);
  const spec = definition.declare();
  return renderArtifacts(compileModel(spec, programDeclarations(definition, spec)), targets, file);
}

describe.each(EXAMPLES)('generated/$name', (example) => {
  const outDir = join('generated', example.name);

  it('is up to date (run `npm run build:examples` after changing the compiler)', async () => {
    const files = await render(example.file, example.targets);
    for (const [name, text] of Object.entries(files)) {
      const onDisk = readFileSync(join(outDir, name), 'utf8');
      expect(onDisk, `${outDir}/${name} differs from a fresh build`).toBe(text);
    }
    // No file of an older build is left beside them (nvcc's fatbin is not checked in).
    // The build record is written by gradc build beside them.
    const onDisk = readdirSync(outDir).filter((name) => !/\.fatbin(\.json)?$/.test(name) && name !== MANIFEST_FILE);
    expect(onDisk.sort()).toEqual(Object.keys(files).sort());
  });

  it('declares its modules so that they type-check under a user\'s strictest settings', () => {
    const declarations = readdirSync(outDir).filter((n) => n.endsWith('.d.ts')).map((n) => join(outDir, n));
    expect(declarations.length).toBeGreaterThan(0);
    const strictest = { noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true };
    expect(strictDiagnostics(declarations, strictest)).toEqual([]);
  }, 60_000);

  it('is deterministic: two builds give the same bytes', async () => {
    const first = await render(example.file, example.targets);
    const second = await render(example.file, example.targets);
    expect(second).toEqual(first);
  });

  it('names the DSL lines each kernel computes', async () => {
    const files = await render(example.file, example.targets);
    const kernelFiles = Object.entries(files).filter(([name]) => /^kernels[.-]/.test(name));
    const expected = example.targets.flatMap((t) => KERNEL_FILES[t]);
    expect(kernelFiles.map(([name]) => name).sort()).toEqual([...expected].sort());
    for (const [, text] of kernelFiles.filter(([name]) => !name.endsWith('.d.ts'))) {
      expect(text).toMatch(new RegExp(`${example.file}:\\d+:\\d+ dense`));
    }
  });
});
