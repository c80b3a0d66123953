/**
 * Deploying inference: a model trained in a full build, its weights saved as safetensors, then
 * loaded into a predict-only build compiled at batch 1 (`gradc build --predict-only
 * --predict-batch 1`, and `buildModel`). Its predictions for each row equal the full model's
 * for the same rows bit for bit on the same backend: every output row of the predict program
 * (matrix products, bias, ReLU, row-wise softmax) is computed from that row alone, in the same
 * order whatever the number of rows (the JS products sum each element in one order for any
 * row blocking; the C micro-kernel pads a row tile to its full height and runs the same
 * arithmetic per row; the softmax reduces along a row). The predict-only build holds no train
 * program, optimizer state or backward kernels, its declarations only predict feeds and
 * predictions, and its bundled JS kernels are a fraction of the full ones'.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build as esbuild } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../compiler/build.ts';
import { openBuiltModel } from '../runtime/open-built-model.ts';
import type { BackendKind } from '../artifact/kernels.ts';
import type { Artifact } from '../artifact/format.ts';
import type { ModelInstance } from '../runtime/model.ts';
import type { Tensors } from '../runtime/safetensors.ts';
import { createRng } from '../runtime/init.ts';
import { loadCheckpoint, saveCheckpoint } from '../runtime/checkpoint-file.ts';
import { evaluate } from '../runtime/fit.ts';
import { scratchFolders } from './scratch.ts';
import { strictDiagnostics } from './typecheck.ts';

const scratchDir = scratchFolders('predict-only-');

/** The fixtures: batch 4, 6 features, 3 classes; tiny-adam has optimizer state and a step count. */
const FIXTURES = [
  { file: 'test/fixtures/tiny-mlp.ts', name: 'tiny-mlp', type: 'TinyMlp', states: 0 },
  { file: 'test/fixtures/tiny-adam.ts', name: 'tiny-adam', type: 'TinyAdam', states: 9 },
] as const;
const BATCH = 4;
const FEATURES = 6;
const CLASSES = 3;
/** Two training batches' worth of rows. */
const ROWS = 8;

function gradc(...args: string[]) {
  const result = spawnSync(process.execPath, ['bin/gradc.mjs', ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function bits(values: Float32Array): number[] {
  return [...new Uint32Array(values.slice().buffer)];
}

/** Seeded features in [-1, 1) and one-hot labels, ROWS rows. */
function dataset(seed: number): { x: Float32Array; y: Float32Array } {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: ROWS * FEATURES }, () => 2 * rng() - 1);
  const y = new Float32Array(ROWS * CLASSES);
  for (let r = 0; r < ROWS; r++) y[r * CLASSES + Math.floor(rng() * CLASSES)] = 1;
  return { x, y };
}

const rowsOf = (a: Float32Array, width: number, start: number, count: number) =>
  a.slice(start * width, (start + count) * width);

/** Every file of a build folder, by name. */
function filesOf(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** Kernel names of a build: the JS table, the C exports and the WGSL table. */
async function kernelNames(dir: string): Promise<{ js: string[]; c: string[]; wgsl: string[] }> {
  const js = (await import(pathToFileURL(resolve(dir, 'kernels.js')).href)) as { kernels: object };
  const wgsl = (await import(pathToFileURL(resolve(dir, 'kernels-wgsl.js')).href)) as { wgslKernels: object };
  const c = [...readFileSync(join(dir, 'kernels.c'), 'utf8').matchAll(/^GRADC_EXPORT void (\w+)\(/gm)]
    .map((m) => m[1])
    .filter((n) => !n.startsWith('gradc_'));
  return { js: Object.keys(js.kernels).sort(), c: c.sort(), wgsl: Object.keys(wgsl.wgslKernels).sort() };
}

function kernelsOf(artifact: Artifact, program: string): string[] {
  return [...new Set(artifact.programs.find((p) => p.name === program)!.launches.map((l) => l.kernel))].sort();
}

/** Predictions of `model` for rows [0, ROWS) of `x`, `batch` rows per call. */
async function predictRows(model: Pick<ModelInstance, 'predict'>, x: Float32Array, batch: number): Promise<Float32Array> {
  const out = new Float32Array(ROWS * CLASSES);
  for (let r = 0; r < ROWS; r += batch) {
    const { probs } = await model.predict({ x: rowsOf(x, FEATURES, r, batch) });
    out.set(probs, r * CLASSES);
  }
  return out;
}

describe.each(FIXTURES)('$name deployed predict-only at batch 1', (fixture) => {
  let dir: string;
  let full: string;
  let cli: string;
  let api: string;
  beforeAll(async () => {
    dir = scratchDir();
    full = join(dir, 'full');
    cli = join(dir, 'cli');
    api = join(dir, 'api');
    await buildModel(fixture.file, { targets: ['js', 'c', 'wgsl'], outDir: full });
    const r = gradc('build', fixture.file, '--out', cli, '--target', 'js,c,wgsl', '--predict-only', '--predict-batch', '1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await buildModel(fixture.file, { targets: ['js', 'c', 'wgsl'], outDir: api, predictOnly: true, predictBatch: 1 });
  });

  it('is the same build through the CLI flags and through buildModel', () => {
    const fromCli = filesOf(cli);
    expect(Object.keys(fromCli)).toEqual(Object.keys(filesOf(full)));
    expect(fromCli).toEqual(filesOf(api));
  });

  it.each(['js', 'c'] as const)(
    'trained on %s, its weights file loads into the predict-only build, whose predictions per row equal the full model\'s bit for bit',
    async (backend: BackendKind) => {
      const { x, y } = dataset(11);
      const model = await openBuiltModel(full, backend);
      const deployed = await openBuiltModel(backend === 'js' ? api : cli, backend);
      try {
        const losses = [];
        for (const start of [0, BATCH, 0]) {
          losses.push(await model.trainStep({ x: rowsOf(x, FEATURES, start, BATCH), y: rowsOf(y, CLASSES, start, BATCH) }));
        }
        expect(losses.every(Number.isFinite)).toBe(true);
        const path = join(dir, `${backend}.safetensors`);
        saveCheckpoint(path, { kind: 'weights', model: fixture.name, tensors: await model.weights() });
        const expected = await predictRows(model, x, BATCH);

        // From the seed until weights are loaded: the untrained parameters, not the trained ones.
        expect(bits(await predictRows(deployed, x, 1))).not.toEqual(bits(expected));
        const loaded = loadCheckpoint(path);
        expect(loaded.model).toBe(fixture.name);
        deployed.loadWeights(loaded.tensors);
        const perRow = await predictRows(deployed, x, 1);
        expect(bits(perRow)).toEqual(bits(expected));
        expect(await deployed.weights()).toEqual(await model.weights());
      } finally {
        model.dispose();
        deployed.dispose();
      }
    },
  );

  it('initialises its parameters from the seed like the full model', async () => {
    const model = await openBuiltModel(full, 'js');
    const deployed = await openBuiltModel(api, 'js');
    const { x } = dataset(5);
    expect(await deployed.weights()).toEqual(await model.weights());
    expect(bits(await predictRows(deployed, x, 1))).toEqual(bits(await predictRows(model, x, BATCH)));
  });

  it('holds the predict program alone: no train program, state, training input or lr; only predict kernels', async () => {
    const { artifact } = await import(pathToFileURL(resolve(api, 'model.js')).href) as { artifact: Artifact };
    const { artifact: whole } = await import(pathToFileURL(resolve(full, 'model.js')).href) as { artifact: Artifact };
    expect(artifact.programs.map((p) => p.name)).toEqual(['predict']);
    expect(artifact.predictOnly).toBe(true);
    expect(artifact.predictBatch).toBe(1);
    expect(artifact.batch).toBe(BATCH);
    expect(artifact.data).toEqual([{ name: 'x', shape: [1, FEATURES] }]);
    expect(artifact.predictData).toEqual(['x']);
    expect(artifact.states).toEqual([]);
    expect(artifact.hypers).toEqual([]);
    expect(artifact.params).toEqual(whole.params);
    expect(artifact.omittedStates).toEqual(whole.states.map((s) => s.name));
    expect(artifact.omittedStates).toHaveLength(fixture.states);
    expect(artifact.buffers.filter((b) => b.role !== 'temp').map((b) => `${b.role} ${b.name} [${b.shape}]`).sort()).toEqual(
      ['data x [1,6]', ...whole.params.map((p) => `param ${p.name} [${p.shape}]`)].sort(),
    );
    expect(whole.predictBatch).toBeUndefined();
    expect(whole.hypers.map((h) => h.name)).toEqual(['lr']);

    const predictKernels = kernelsOf(whole, 'predict');
    const trainKernels = kernelsOf(whole, 'train');
    const evaluateKernels = kernelsOf(whole, 'evaluate');
    expect(trainKernels.length).toBeGreaterThan(predictKernels.length);
    const mine = await kernelNames(api);
    const theirs = await kernelNames(full);
    for (const target of ['js', 'c', 'wgsl'] as const) {
      expect(theirs[target], target).toEqual([...trainKernels, ...predictKernels, ...evaluateKernels].sort());
      // The same kernels as the full build's predict program: nothing of the backward pass.
      expect(mine[target], target).toEqual(kernelsOf(artifact, 'predict'));
      expect(mine[target].length, target).toBe(predictKernels.length);
      expect(mine[target].filter((n) => !n.startsWith('predict_')), target).toEqual([]);
    }
    expect(readFileSync(join(api, 'kernels.js'), 'utf8')).not.toMatch(/assign|train_/);
  });

  it('refuses to train or touch optimizer state with one line; loads weights, or a checkpoint\'s tensors, alone', async () => {
    const model = await openBuiltModel(full, 'js');
    const deployed = await openBuiltModel(api, 'js');
    const { x, y } = dataset(3);
    await model.trainStep({ x: rowsOf(x, FEATURES, 0, BATCH), y: rowsOf(y, CLASSES, 0, BATCH) });
    const refusal = (what: string, instead = 'build it without --predict-only to train') =>
      `${what}: model ${fixture.name} is a predict-only build, without a train program or optimizer state; ${instead}`;
    await expect(deployed.trainStep({ x: rowsOf(x, FEATURES, 0, BATCH), y: rowsOf(y, CLASSES, 0, BATCH) })).rejects.toThrow(refusal('trainStep'));
    expect(() => deployed.enqueueTrainStep()).toThrow(refusal('enqueueTrainStep'));
    await expect(deployed.lastLoss()).rejects.toThrow(refusal('lastLoss'));
    expect(() => deployed.snapshot()).toThrow(refusal('snapshot', 'save its parameters with weights()'));
    expect(() => deployed.restore(Object.create(null) as Tensors)).toThrow(refusal('restore', 'set its parameters with loadWeights()'));
    expect(() => deployed.setHyper('lr', 0.1)).toThrow('unknown hyperparameter "lr" (known: none)');

    // A whole checkpoint (parameters and optimizer state) loads as weights: its states are skipped.
    const checkpoint = await model.snapshot();
    expect(Object.keys(checkpoint)).toHaveLength(model.artifact.params.length + fixture.states);
    deployed.loadWeights(checkpoint);
    expect(await deployed.weights()).toEqual(await model.weights());
    const weights = await model.weights();
    expect(() => deployed.loadWeights({ ...weights, stray: { shape: [1], data: Float32Array.of(0) } })).toThrow(
      `tensors in the weights that model ${fixture.name} does not have: "stray"`,
    );
    const { 'fc2.b': _dropped, ...partial } = weights;
    expect(() => deployed.loadWeights(partial)).toThrow(`tensors of model ${fixture.name} missing from the weights: "fc2.b"`);
    model.dispose();
    deployed.dispose();
  });

  it('declares predict feeds and predictions only, and its model type has no way to train', () => {
    const dts = readFileSync(join(api, 'model.d.ts'), 'utf8');
    const T = fixture.type;
    const exported = [...dts.matchAll(/^export (?:declare )?(?:const|type|function) (\w+)/gm)].map((m) => m[1]);
    expect(exported).toEqual(['artifact', 'buildId', `${T}PredictFeeds`, `${T}Predictions`, `${T}Param`, T, `create${T}`]);
    expect(dts).toContain(`export type ${T}PredictFeeds = {\n    /** Float32 data of shape [1, 6] (6 values). */\n    readonly "x": Float32Array;\n};`);
    expect(dts).toContain(`export type ${T}Predictions = {\n    /** Float32 data of shape [1, 3] (3 values). */\n    readonly "probs": Float32Array;\n};`);
    expect(dts).toContain(`export type ${T} = gradc.PredictOnlyModel<${T}PredictFeeds, ${T}Predictions, ${T}Param>;`);
    expect(dts).not.toMatch(/TrainFeeds|"y"|"lr"|\.m"|\.v"/);
    expect(dts).toContain('(predict only, batch 1, seed');

    // A user's code: training calls do not type-check on the predict-only model, and do on
    // the full one (there every @ts-expect-error below is unused, which is an error).
    const use = (folder: string) => {
      const file = join(folder, 'use.ts');
      writeFileSync(file, [
        `import { create${T} } from './model.js';`,
        `import type { ${T}, ${T}PredictFeeds } from './model.js';`,
        `export async function use(model: ${T}, feeds: ${T}PredictFeeds): Promise<Float32Array> {`,
        '  model.loadWeights(await model.weights());',
        '  // @ts-expect-error no train program',
        '  await model.trainStep();',
        '  // @ts-expect-error no train program',
        '  model.enqueueTrainStep();',
        '  // @ts-expect-error no optimizer state',
        '  await model.snapshot();',
        '  // @ts-expect-error no optimizer state',
        '  model.restore({});',
        '  return (await model.predict(feeds)).probs;',
        '}',
        `export const open = (): Promise<${T}> => create${T}('js');`,
        '',
      ].join('\n'));
      return strictDiagnostics([file]);
    };
    expect(use(api)).toEqual([]);
    const unused = use(full);
    expect(unused).toHaveLength(4);
    for (const message of unused) expect(message).toBe("Unused '@ts-expect-error' directive.");
  }, 60_000);
});

describe('a full build whose predict program runs at another batch (--predict-batch)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = scratchDir();
    await buildModel('test/fixtures/tiny-mlp.ts', { targets: ['js'], outDir: join(dir, 'b4') });
    const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', join(dir, 'b1'), '--target', 'js', '--predict-batch', '1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('feeds predict its own data buffer at batch 1 and train at the training batch; the declarations say so', async () => {
    const { artifact } = await import(pathToFileURL(resolve(dir, 'b1', 'model.js')).href) as { artifact: Artifact };
    expect(artifact.batch).toBe(BATCH);
    expect(artifact.predictBatch).toBe(1);
    expect(artifact.predictOnly).toBeUndefined();
    expect(artifact.data).toEqual([{ name: 'x', shape: [BATCH, FEATURES] }, { name: 'y', shape: [BATCH, CLASSES] }]);
    const fed = (program: string) =>
      artifact.programs.find((p) => p.name === program)!.feeds.map((f) => `${f.name}: ${artifact.buffers[f.buffer].name} [${artifact.buffers[f.buffer].shape}]`);
    expect(fed('train')).toEqual(['x: x [4,6]', 'y: y [4,3]', 'lr: lr []']);
    expect(fed('predict')).toEqual(['x: x@predict [1,6]']);
    const dts = readFileSync(join(dir, 'b1', 'model.d.ts'), 'utf8');
    expect(dts).toContain('(batch 4, predict batch 1, seed 7)');
    expect(dts).toMatch(/TinyMlpTrainFeeds = \{\n\s+\/\*\* Float32 data of shape \[4, 6\]/);
    expect(dts).toMatch(/TinyMlpPredictFeeds = \{\n\s+\/\*\* Float32 data of shape \[1, 6\]/);
    expect(dts).toMatch(/TinyMlpPredictions = \{\n\s+\/\*\* Float32 data of shape \[1, 3\]/);
  });

  it('trains like the batch-4 build, predicts each row bit for bit like it, and keeps train\'s batch across predictions', async () => {
    const one = await openBuiltModel(join(dir, 'b1'), 'js');
    const four = await openBuiltModel(join(dir, 'b4'), 'js');
    try {
      const { x, y } = dataset(23);
      const batch = { x: rowsOf(x, FEATURES, 0, BATCH), y: rowsOf(y, CLASSES, 0, BATCH) };
      expect(await one.trainStep(batch)).toBe(await four.trainStep(batch));
      expect(bits(await predictRows(one, x, 1))).toEqual(bits(await predictRows(four, x, BATCH)));
      // predict wrote its own buffer: train's batch is still on the device.
      expect(await one.trainStep()).toBe(await four.trainStep(batch));
      // Where the programs share x, a train step without feeds after predict is refused.
      await four.predict({ x: batch.x });
      await expect(four.trainStep()).rejects.toThrow('train: input "x" was last written by predict');
      await expect(one.predict({ x: batch.x })).rejects.toThrow('predict: input "x" needs 6 values, got 24');
      // Evaluation runs at the predict batch.
      const split = { count: 5, x: x.slice(0, 5 * FEATURES), xWidth: FEATURES, y: Int32Array.of(0, 1, 2, 1, 0), yWidth: 1, classes: 3 };
      expect(await evaluate(one, split)).toEqual(await evaluate(four, split));
    } finally {
      one.dispose();
      four.dispose();
    }
  });
});

describe('predict builds refused', () => {
  it('--predict-batch takes a positive integer, from the CLI and from buildModel', async () => {
    for (const value of ['0', '-2', 'one']) {
      const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', scratchDir(), '--predict-only', `--predict-batch=${value}`);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`gradc: --predict-batch needs a positive integer, got "${value}"\n`);
    }
    await expect(buildModel('test/fixtures/tiny-mlp.ts', { targets: ['js'], outDir: scratchDir(), predictBatch: 2.5 })).rejects.toThrow(
      'the predict batch must be a positive integer, got 2.5',
    );
  });

  it('a model whose parameter shapes depend on the batch cannot predict at another batch', async () => {
    const out = scratchDir();
    await expect(buildModel('test/fixtures/batch-param.ts', { targets: ['js'], outDir: out, predictOnly: true, predictBatch: 2 })).rejects.toThrow(
      'model batch-param: parameter "offset" has shape [2, 3] at predict batch 2 but [4, 3] at training batch 4; ' +
        'parameter shapes must not depend on the batch',
    );
    expect(readdirSync(out)).toEqual([]);
    // At its own batch it builds.
    await buildModel('test/fixtures/batch-param.ts', { targets: ['js'], outDir: out, predictOnly: true });
  });
});

describe('in a browser bundle', () => {
  it('the predict-only glue pulls in a JS kernels file a fraction of the full one\'s size, and runs from the bundle', async () => {
    const dir = scratchDir();
    const sizes: Record<string, { kernels: number; wgsl: number; glue: number }> = {};
    for (const [name, predictOnly] of [['full', false], ['deploy', true]] as const) {
      const out = join(dir, name);
      await buildModel('test/fixtures/tiny-mlp.ts', { targets: ['js', 'wgsl'], outDir: out, predictOnly, predictBatch: 1 });
      // What a browser bundler (esbuild, for the browser, minified) makes of the glue module:
      // the runtime in the entry chunk, each target's kernels in a chunk loaded on demand.
      const result = await esbuild({
        entryPoints: [join(out, 'model.js')],
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'browser',
        conditions: ['gradc-source'],
        minify: true,
        outdir: join(out, 'bundle'),
        metafile: true,
        logLevel: 'silent',
      });
      const chunk = (input: string) =>
        Object.values(result.metafile.outputs).find((o) => Object.keys(o.inputs).some((i) => i.endsWith(`${name}/${input}`)))!.bytes;
      sizes[name] = { kernels: chunk('kernels.js'), wgsl: chunk('kernels-wgsl.js'), glue: chunk('model.js') };
    }
    expect(sizes.deploy.kernels * 4).toBeLessThan(sizes.full.kernels);
    expect(sizes.deploy.wgsl * 4).toBeLessThan(sizes.full.wgsl);
    expect(sizes.deploy.glue).toBeLessThan(sizes.full.glue);

    // The bundle runs (on the JS kernels, as in a browser without WebGPU).
    const glue = await import(pathToFileURL(resolve(dir, 'deploy', 'bundle', 'model.js')).href) as {
      createTinyMlp: (backend: 'js') => Promise<ModelInstance>;
    };
    const model = await glue.createTinyMlp('js');
    const reference = await openBuiltModel(join(dir, 'full'), 'js');
    const { x } = dataset(2);
    expect(bits(await predictRows(model, x, 1))).toEqual(bits(await predictRows(reference, x, 1)));
  });
});

describe('a predict batch that regroups a long sum', () => {
  it('gives predictions within float32 rounding of the training batch\'s, not bit for bit: the product is split by its number of outputs', async () => {
    // wide-input: out = x · w + b with k = 2,048. At batch 2,048 the product has 163,840
    // outputs and is cut into 4 slices of 512 terms; at batch 1 it has 80 and is cut into 8
    // of 256 (compiler/split.ts), so each output adds the same terms grouped otherwise.
    const dir = scratchDir();
    const [wide, narrow] = [join(dir, 'b2048'), join(dir, 'b1')];
    const built = await buildModel('test/fixtures/wide-input.ts', { targets: ['js'], outDir: wide, predictOnly: true });
    const deployed = await buildModel('test/fixtures/wide-input.ts', { targets: ['js'], outDir: narrow, predictOnly: true, predictBatch: 1 });
    const slices = (b: typeof built) => b.compiled.schedule.programs[0].kernels.flatMap((k) => (k.kind === 'matmul' ? [k.kSlices] : []));
    expect(slices(built)).toEqual([4]);
    expect(slices(deployed)).toEqual([8]);

    const [K, N, B, CHECKED] = [2048, 80, 2048, 64];
    const rng = createRng(9);
    const x = Float32Array.from({ length: B * K }, () => 2 * rng() - 1);
    const a = await openBuiltModel(wide, 'js');
    const b = await openBuiltModel(narrow, 'js');
    try {
      // Trained-looking parameters: the seed's weights and a bias that is not zero.
      const weights = await a.weights();
      const bias = { shape: [N], data: Float32Array.from({ length: N }, () => rng() - 0.5) };
      const tensors = { ...weights, 'fc.b': bias };
      a.loadWeights(tensors);
      b.loadWeights(tensors);
      const all = (await a.predict({ x })).out;
      const w = weights['fc.w'].data;
      let differing = 0;
      for (let r = 0; r < CHECKED; r++) {
        const row = (await b.predict({ x: x.subarray(r * K, (r + 1) * K) })).out;
        for (let j = 0; j < N; j++) {
          const expected = all[r * N + j];
          // The JS kernels add each slice in float64 and round it once, add the slices in
          // float64 and round once, and round the bias add: either grouping is within
          // 3u·Σ|terms| of the exact value (u = 2^-24), so within 6u of the other.
          let magnitude = Math.abs(bias.data[j]);
          for (let p = 0; p < K; p++) magnitude += Math.abs(x[r * K + p] * w[p * N + j]);
          const bound = 8 * 2 ** -24 * magnitude;
          expect(Math.abs(row[j] - expected), `row ${r}, output ${j}`).toBeLessThanOrEqual(bound);
          if (row[j] !== expected) differing++;
        }
      }
      // The regrouping shows in the last bits of some outputs (deterministic for these seeds).
      expect(differing).toBeGreaterThan(0);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
