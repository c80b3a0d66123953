/**
 * The artifacts checked in under generated/ are exactly what `gradc build` makes now, and
 * building twice gives byte-identical text. `npm test` also type-checks the glue modules.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileDefinition, loadModelDefinition, renderArtifacts } from '../compiler/build.ts';
import type { Target } from '../compiler/codegen/targets.ts';
import { MANIFEST_FILE } from '../compiler/build-cache.ts';
import type { Example } from './examples.ts';
import { EXAMPLES } from './examples.ts';
import { strictDiagnostics } from './typecheck.ts';

/** The kernel files each target writes next to the glue module. */
const KERNEL_FILES: Readonly<Record<Target, readonly string[]>> = {
  js: ['kernels.js', 'kernels.d.ts'],
  c: ['kernels.c'],
  wgsl: ['kernels-wgsl.js', 'kernels-wgsl.d.ts'],
  cuda: ['kernels.cu', 'kernels-cuda.js', 'kernels-cuda.d.ts'],
};

/** An example compiled as scripts/build-examples.ts builds it (`gradc build --batch N`). */
async function compile(example: Example) {
  return compileDefinition(await loadModelDefinition(example.file), { batch: example.batch });
}

async function render(example: Example) {
  return renderArtifacts(await compile(example), example.targets, example.file);
}

describe.each(EXAMPLES)('generated/$name', (example) => {
  const outDir = join('generated', example.name);

  it('is up to date (run `npm run build:examples` after changing the compiler)', async () => {
    const files = await render(example);
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
    const first = await render(example);
    const second = await render(example);
    expect(second).toEqual(first);
  });

  it('names the DSL lines each kernel computes', async () => {
    const files = await render(example);
    const kernelFiles = Object.entries(files).filter(([name]) => /^kernels[.-]/.test(name));
    const expected = example.targets.flatMap((t) => KERNEL_FILES[t]);
    expect(kernelFiles.map(([name]) => name).sort()).toEqual([...expected].sort());
    for (const [, text] of kernelFiles.filter(([name]) => !name.endsWith('.d.ts'))) {
      expect(text).toMatch(new RegExp(`${example.file}:\\d+:\\d+ dense`));
    }
  });
});

describe('generated/mnist-mlp-b6000', () => {
  const example = EXAMPLES.find((e) => e.name === 'mnist-mlp-b6000');

  it('is the MLP at batch 6000, its weight and bias gradients split into slices', async () => {
    expect(example).toBeDefined();
    if (example === undefined) return;
    const { schedule } = await compile(example);
    const kernels = schedule.programs.find((p) => p.name === 'train')?.kernels ?? [];
    // docs/DESIGN.md: its three weight gradients are cut into 6, 16 and 20 slices, and its
    // bias gradients and the loss's sum over the batch into 20 (a reduce into
    // [slices, outputs], then a short reduce over the slices).
    const products = kernels.flatMap((k) => (k.kind === 'matmul' && k.kSlices > 1 ? [k.kSlices] : []));
    expect(products.sort((a, b) => a - b)).toEqual([6, 16, 20]);
    const partials = kernels.flatMap((k) => {
      const out = schedule.buffers[k.output];
      return k.kind === 'reduce' && out.name.endsWith('.slices') ? [out.shape] : [];
    });
    expect(partials).toEqual([[20, 1], [20, 10], [20, 250], [20, 250]]);
    // The checked-in C runs the slices of each split product side by side (the function is
    // defined in every kernels.c; a split product calls it).
    const c = readFileSync(join('generated', example.name, 'kernels.c'), 'utf8');
    expect(c.match(/^ +gradc_matmul_slices\(/gm)).toHaveLength(3);
  });
});
