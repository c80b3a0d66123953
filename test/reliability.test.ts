/**
 * Reliability faults of `gradc build` and `gradc train`, one test each, named after what it
 * protects: builds of one model never used for another, stale or half-written build folders
 * refused or rebuilt, a diverged run never overwriting its last good checkpoint, non-finite
 * values named where they start, bad data and unwritable outputs refused before training,
 * model names that collide with the glue's own names, `--watch`, and IDX data on the command
 * line. The command line runs as users run it (`node bin/gradc.mjs`), with gradc's cache in a
 * scratch folder.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIntoCache, buildModel } from '../compiler/build.ts';
import { openBuiltModel } from '../runtime/open-built-model.ts';
import { loadCheckpoint } from '../runtime/checkpoint-file.ts';
import type { BackendKind } from '../artifact/kernels.ts';
import { KernelMismatchError, sourceBuildId } from '../runtime/open.ts';
import { encodeIdx } from './idx-encode.ts';
import { scratchFolders } from './scratch.ts';
import { strictDiagnostics } from './typecheck.ts';

const scratch = scratchFolders('reliability-');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/**
 * Runs `node bin/gradc.mjs ...args` with gradc's cache in `cache`; runs side by side when
 * awaited together. Dawn's notes about the limits it lowers are dropped from stderr: they are
 * the WebGPU library's, printed whatever gradc does.
 */
function gradc(cache: string, args: readonly string[], timeoutMs = 240_000): Promise<Run> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['bin/gradc.mjs', ...args], {
      env: { ...process.env, GRADC_CACHE_DIR: resolve(cache) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      stderr = stderr.replace(/^Warning: \S+ artificially reduced from \d+ to \d+[^\n]*\n/gm, '');
      done({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** `text` matched literally inside a regular expression. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A failed command's answer: exit 1 and one `gradc:` line on stderr, no stack trace. */
function expectOneLine(r: Run, pattern: RegExp): void {
  expect(r.stderr).toMatch(/^gradc: [^\n]*\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.code).toBe(1);
}

function expectSuccess(r: Run): void {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

/** Every file and folder under `dir`, relative to it, sorted. */
/**
 * Every path under `dir`, but the cache of transpiled TypeScript (bin/ts-hooks.mjs), which
 * loading gradc itself fills and which is no output of a build.
 */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const paths = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  return paths.filter((p) => !/(^|\/)transpiled(\/|$)/.test(p) && !/^cache$/.test(p)).sort();
}

/** The folders `gradc train` built into, under a cache folder. */
function builds(cache: string): string[] {
  const dir = join(cache, 'builds');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Runs `body` with gradc's cache in `cache`, as `gradc train` would find it there. */
async function withCacheDir<T>(cache: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.GRADC_CACHE_DIR;
  process.env.GRADC_CACHE_DIR = resolve(cache);
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env.GRADC_CACHE_DIR;
    else process.env.GRADC_CACHE_DIR = saved;
  }
}

/** Writes a model file that imports gradc's DSL from this repository; returns its path. */
function writeModel(path: string, source: string, names = 'defineModel, dense, relu, sgd, softmax, softmaxCrossEntropy'): string {
  mkdirSync(dirname(path), { recursive: true });
  let dsl = relative(dirname(path), resolve('dsl/index.ts'));
  if (!dsl.startsWith('.')) dsl = `./${dsl}`;
  writeFileSync(path, `import { ${names} } from '${dsl}';\n${source}`);
  return path;
}

/** A classifier of `features` inputs into 3 classes, with a hidden layer of `hidden`. */
function classifier(name: string, hidden: number | string, features = 6, batch = 4): string {
  return `
export default defineModel({
  name: '${name}',
  batch: ${batch},
  seed: 7,
  optimizer: sgd({ learningRate: 0.05 }),
  build(m, B) {
    const x = m.input('x', [B, ${features}]);
    const y = m.input('y', [B, 3]);
    const h = relu(dense(m, 'fc1', x, ${hidden}));
    const logits = dense(m, 'fc2', h, 3, { init: 'glorot_uniform' });
    return { loss: softmaxCrossEntropy(logits, y), predictions: { probs: softmax(logits) } };
  },
});
`;
}

/** Three blobs in 6 dimensions, `count` rows and a `label` column: what test/fixtures/tiny-mlp.ts learns. */
function blobsCsv(path: string, count = 40): string {
  const rows = ['a,b,c,d,e,f,label'];
  for (let i = 0; i < count; i++) {
    const label = i % 3;
    const x = Array.from({ length: 6 }, (_, d) => ((d % 3 === label ? 2 : 0) + ((i * 7 + d * 3) % 10) / 10 - 0.5).toFixed(2));
    rows.push(`${x.join(',')},${label}`);
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
  return path;
}

/** The shape the artifact in a generated model.js gives parameter `name`. */
function paramShape(outDir: string, name: string): number[] | undefined {
  const text = readFileSync(join(outDir, 'model.js'), 'utf8');
  const match = new RegExp(`"name": "${literal(name)}",\\s*"shape": \\[([\\d,\\s]*)\\]`).exec(text);
  return match?.[1].split(',').map((n) => Number(n.trim()));
}

/** The build id a generated model.js declares. */
function glueBuildId(outDir: string): string {
  return /export const buildId = "([0-9a-f]+)"/.exec(readFileSync(join(outDir, 'model.js'), 'utf8'))![1];
}

const TINY = 'test/fixtures/tiny-mlp.ts';
const CSV_DATA = (csv: string) => ['--data', csv, '--target', 'label'];

describe('reliability of gradc build and gradc train', () => {
  it('two gradc train runs at once never train each other\'s model: same file name, other folders', async () => {
    const root = scratch();
    const cache = join(root, 'cache');
    const csv = blobsCsv(join(root, 'blobs.csv'));
    const a = writeModel(join(root, 'a', 'model.ts'), classifier('twin-a', 5));
    const b = writeModel(join(root, 'b', 'model.ts'), classifier('twin-b', 7));
    const train = (file: string, checkpoint: string) =>
      gradc(cache, ['train', file, '--backend', 'js', '--epochs', '1', ...CSV_DATA(csv), '--checkpoint', checkpoint]);
    const [ca, cb] = [join(root, 'a.ckpt'), join(root, 'b.ckpt')];
    const first = await Promise.all([train(a, ca), train(b, cb)]);
    for (const r of first) expectSuccess(r);
    const shapes = (path: string) => {
      const checkpoint = loadCheckpoint(path);
      const tensors = Object.entries(checkpoint.tensors).map(([name, t]) => [name, [...t.shape]]);
      return { model: checkpoint.model, tensors: Object.fromEntries(tensors) };
    };
    const expected = (model: string, hidden: number) => ({
      model,
      tensors: { 'fc1.w': [6, hidden], 'fc1.b': [hidden], 'fc2.w': [hidden, 3], 'fc2.b': [3] },
    });
    expect(shapes(ca)).toEqual(expected('twin-a', 5));
    expect(shapes(cb)).toEqual(expected('twin-b', 7));
    const built = builds(cache);
    expect(built).toHaveLength(2);
    for (const name of built) expect(name).toMatch(/^model\.ts-[0-9a-f]{16}$/);

    // Changed, b gets a build folder of its own; unchanged, a's is used again, as it is.
    writeFileSync(b, readFileSync(b, 'utf8').replace("'fc1', x, 7", "'fc1', x, 9"));
    expectSuccess(await train(b, cb));
    expect(shapes(cb)).toEqual(expected('twin-b', 9));
    const rebuilt = builds(cache);
    expect(rebuilt).toHaveLength(3);
    expect(rebuilt).toEqual(expect.arrayContaining(built));
    const added = rebuilt.find((name) => !built.includes(name))!;
    expect(paramShape(join(cache, 'builds', added), 'fc1.w')).toEqual([6, 9]);
    const cached = await withCacheDir(cache, () => buildIntoCache(a, { targets: ['js'] }));
    expect(cached.upToDate).toBe(true);
    expect(built).toContain(basename(cached.outDir));
    expect(paramShape(cached.outDir, 'fc1.w')).toEqual([6, 5]);
    expect(builds(cache)).toEqual(rebuilt);
  });

  it('a diverged run never overwrites the last good checkpoint (c on MNIST, webgpu on a CSV)', async () => {
    const root = scratch();
    const cache = join(root, 'cache');
    const csv = blobsCsv(join(root, 'blobs.csv'));
    const chain = async (folder: string, common: string[], lossEvery: number) => {
      mkdirSync(folder);
      const checkpoint = join(folder, 'run.ckpt');
      expectSuccess(await gradc(cache, [...common, '--epochs', '1', '--checkpoint', checkpoint]));
      const good = readFileSync(checkpoint);
      const diverged = await gradc(cache, [...common, '--resume', checkpoint, '--epochs', '2', '--lr', '1e20', '--checkpoint', checkpoint]);
      const where = lossEvery > 1 ? `by step \\d+ \\(the loss is read every ${lossEvery} steps\\)` : 'at step \\d+';
      expectOneLine(diverged, new RegExp(`^gradc: training diverged: the loss became (NaN|-?Infinity) in epoch 2 ${where};.*--check-finite`));
      expect(readFileSync(checkpoint).equals(good)).toBe(true);
      expect(readdirSync(folder)).toEqual(['run.ckpt']);
    };
    await Promise.all([
      // Batches of 100 rather than the model's 600, so that epoch 2 has steps after its first.
      chain(join(root, 'c'), ['train', 'examples/mnist-mlp.ts', '--train-limit', '600', '--test-limit', '100', '--batch', '100'], 1),
      chain(join(root, 'webgpu'), ['train', TINY, '--backend', 'webgpu', ...CSV_DATA(csv)], 10),
    ]);
  });

  it('--check-finite names the kernel and the DSL line that made the first infinity; without it, the epoch and step', async () => {
    const root = scratch();
    const cache = join(root, 'cache');
    const source = `
export default defineModel({
  name: 'blow-up',
  batch: 4,
  seed: 1,
  optimizer: sgd({ learningRate: 0.01 }),
  build(m, B) {
    const x = m.input('x', [B, 2]);
    const y = m.input('y', [B, 1]);
    const big = exp(x);
    const out = dense(m, 'fc', big, 1);
    return { loss: mse(out, y), predictions: { out } };
  },
});
`;
    const file = writeModel(join(root, 'blow-up.ts'), source, 'defineModel, dense, exp, mse, sgd');
    const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('exp(x)')) + 1;
    const column = readFileSync(file, 'utf8').split('\n')[line - 1].indexOf('exp(x)') + 1;
    // exp(100) overflows float32.
    writeFileSync(join(root, 'data.csv'), 'a,b,target\n100,1,0\n1,100,1\n100,100,0\n1,1,1\n');
    const args = ['train', file, '--backend', 'js', '--epochs', '1', '--data', join(root, 'data.csv'), '--target', 'target'];
    const [checked, plain] = await Promise.all([gradc(cache, [...args, '--check-finite']), gradc(cache, args)]);
    const at = `${relative(process.cwd(), file)}:${line}:${column} exp`;
    expectOneLine(checked, /^gradc: epoch 1, step 1: kernel \S+ wrote Infinity at element \d+; it computes /);
    expect(checked.stderr).toContain(at);
    expectOneLine(plain, /^gradc: training diverged: the loss became (NaN|-?Infinity) in epoch 1 at step 1; .*gradc train --check-finite/);
  });

  it('non-finite data is refused when loaded, at its file:line:column, before anything is built', async () => {
    const root = scratch();
    const cache = join(root, 'cache');
    const good = blobsCsv(join(root, 'good.csv'), 8);
    const lines = readFileSync(good, 'utf8').split('\n');
    const spoilt = (name: string, line: number, column: number, value: string) => {
      const fields = lines[line - 1].split(',');
      fields[column - 1] = value;
      const path = join(root, name);
      writeFileSync(path, [...lines.slice(0, line - 1), fields.join(','), ...lines.slice(line)].join('\n'));
      // The column of a field is where it starts, counted in characters.
      return { path, at: `${path}:${line}:${fields.slice(0, column - 1).join(',').length + (column > 1 ? 2 : 1)}` };
    };
    const feature = spoilt('feature.csv', 3, 2, 'inf');
    const target = spoilt('target.csv', 5, 7, 'NaN');
    const validation = spoilt('validation.csv', 4, 1, '-Infinity');
    const train = (data: string, ...more: string[]) => gradc(cache, ['train', TINY, '--backend', 'js', ...CSV_DATA(data), ...more]);
    const runs = await Promise.all([train(feature.path), train(target.path), train(good, '--validation', validation.path)]);
    const cases = [feature, target, validation];
    for (const [i, r] of runs.entries()) {
      expectOneLine(r, new RegExp(`^gradc: ${literal(cases[i].at)}:`));
      expect(r.stdout).toBe('');
    }
    expect(builds(cache)).toEqual([]);
  });

  it('outputs that cannot be written are refused before the build, leaving no file behind', async () => {
    const root = scratch();
    const cache = join(root, 'cache');
    const csv = blobsCsv(join(root, 'blobs.csv'));
    mkdirSync(join(root, 'a-folder'));
    writeFileSync(join(root, 'a-file'), 'not a folder\n');
    const before = tree(root);
    const train = (...more: string[]) => gradc(cache, ['train', TINY, '--backend', 'js', ...CSV_DATA(csv), ...more]);
    const folder = join(root, 'a-folder');
    const missing = join(root, 'no-such-folder', 'history.json');
    const file = join(root, 'a-file');
    const [history, historyMissing, checkpoint, outFile, outProc, buildOutFile, buildOutProc] = await Promise.all([
      train('--history', folder),
      train('--history', missing),
      train('--checkpoint', folder),
      train('--out', file),
      // A folder no file can be made in: refused, not waited on.
      gradc(cache, ['train', TINY, '--backend', 'js', ...CSV_DATA(csv), '--out', '/proc/gradc-x'], 60_000),
      gradc(cache, ['build', TINY, '--out', file]),
      gradc(cache, ['build', TINY, '--out', '/proc/gradc-x'], 60_000),
    ]);
    expectOneLine(history, new RegExp(`^gradc: --history ${literal(folder)} is a folder; name a file\\n$`));
    expectOneLine(historyMissing, new RegExp(`^gradc: --history ${literal(missing)}: the folder \\S+ does not exist\\n$`));
    expectOneLine(checkpoint, new RegExp(`^gradc: --checkpoint ${literal(folder)} is a folder; name a file\\n$`));
    for (const r of [history, historyMissing, checkpoint]) expect(r.stdout).toBe('');
    for (const r of [outFile, buildOutFile]) {
      expectOneLine(r, new RegExp(`^gradc: --out ${literal(resolve(file))} is a file, not a folder\\n$`));
    }
    for (const r of [outProc, buildOutProc]) {
      expectOneLine(r, /^gradc: --out \/proc\/gradc-x is inside \/proc, which holds no files\n$/);
      expect(r.seconds).toBeLessThan(60);
    }
    for (const r of [outFile, outProc, buildOutFile, buildOutProc]) expect(r.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toBe('not a folder\n');
    // Nothing was built or written: no build folder in gradc's cache, no file anywhere.
    expect(tree(root)).toEqual(before);
  });

  // The tests below run side by side: each spends much of its time in one process.
  it.concurrent('a build folder mixing two builds is refused with one line on js, c and webgpu; a half-written one is rebuilt', async () => {
    const root = scratch();
    const targets = ['js', 'c', 'wgsl'] as const;
    const a = join(root, 'A');
    const b = join(root, 'B');
    await buildModel(TINY, { targets, outDir: a });
    await buildModel(TINY, { targets, outDir: b, batch: 8 });
    const [idA, idB] = [glueBuildId(a), glueBuildId(b)];
    expect(idA).not.toBe(idB);
    // The unmixed folder opens.
    const good = await openBuiltModel(a, 'js');
    good.dispose();
    const cases: [BackendKind, string][] = [['js', 'kernels.js'], ['c', 'kernels.c'], ['webgpu', 'kernels-wgsl.js']];
    for (const [backend, file] of cases) {
      const mixed = join(root, `mixed-${backend}`);
      cpSync(a, mixed, { recursive: true });
      copyFileSync(join(b, file), join(mixed, file));
      const error = await openBuiltModel(mixed, backend).then(
        (model) => {
          model.dispose();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error, backend).toBeInstanceOf(KernelMismatchError);
      const message = (error as Error).message;
      expect(message).not.toContain('\n');
      expect(message).toContain(file);
      expect(message).toContain(`build ${idB}`);
      expect(message).toContain(`build ${idA}`);
    }

    // On the command line: the folder built above is up to date; a file missing or cut short is not.
    const cache = join(root, 'cache');
    const build = () => gradc(cache, ['build', TINY, '--out', a, '--target', targets.join(',')]);
    const upToDate = await build();
    expectSuccess(upToDate);
    expect(upToDate.stdout).toMatch(/^up to date /);
    const kernelsC = readFileSync(join(a, 'kernels.c'), 'utf8');
    rmSync(join(a, 'kernels.c'));
    const afterDelete = await build();
    expectSuccess(afterDelete);
    expect(afterDelete.stdout).not.toMatch(/^up to date \S+ \(gradc build --force/);
    expect(afterDelete.stdout).toMatch(/^wrote \S*kernels\.c$/m);
    expect(readFileSync(join(a, 'kernels.c'), 'utf8')).toBe(kernelsC);
    const kernelsJs = readFileSync(join(a, 'kernels.js'), 'utf8');
    truncateSync(join(a, 'kernels.js'), Math.floor(kernelsJs.length / 2));
    const afterTruncate = await build();
    expectSuccess(afterTruncate);
    expect(afterTruncate.stdout).not.toMatch(/^up to date \S+ \(gradc build --force/);
    expect(afterTruncate.stdout).toMatch(/^wrote \S*kernels\.js$/m);
    expect(readFileSync(join(a, 'kernels.js'), 'utf8')).toBe(kernelsJs);
    // The folder is one build again.
    expect(sourceBuildId(readFileSync(join(a, 'kernels.c'), 'utf8'))).toBe(idA);
  });

  it.concurrent('models named like the glue\'s own names build, type-check strictly, open and train', async () => {
    const root = scratch();
    const names = ['artifact', 'model-instance', 'open-options', 'build-id', 'kernel-files', 'gradc'];
    const userFiles: string[] = [];
    for (const name of names) {
      const file = writeModel(join(root, name, 'declaration.ts'), classifier(name, 4, 3, 2));
      const outDir = join(root, name, 'out');
      await buildModel(file, { targets: ['js'], outDir });
      const typeName = name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      const user = join(outDir, 'user.ts');
      writeFileSync(user, `import { artifact, buildId, create${typeName} } from './model.js';
import type { ${typeName}, ${typeName}Param, ${typeName}Predictions, ${typeName}TrainFeeds } from './model.js';

const model: ${typeName} = await create${typeName}('js');
const feeds: ${typeName}TrainFeeds = { x: new Float32Array(6), y: new Float32Array(6) };
const loss: number = await model.trainStep(feeds);
const predictions: ${typeName}Predictions = await model.predict({ x: new Float32Array(6) });
const first: ${typeName}Param = 'fc1.w';
export const used = [artifact.name, buildId, loss, predictions.probs.length, first] as const;
`);
      userFiles.push(user);
      const model = await openBuiltModel(outDir, 'js');
      try {
        expect(model.artifact.name).toBe(name);
        const loss = await model.trainStep({ x: new Float32Array(6).fill(0.5), y: Float32Array.of(1, 0, 0, 0, 1, 0) });
        expect(Number.isFinite(loss)).toBe(true);
      } finally {
        model.dispose();
      }
    }
    expect(strictDiagnostics(userFiles)).toEqual([]);
  });

  it.concurrent('gradc build --watch builds again when the model file or a file it imports changes', async () => {
    const root = scratch();
    const sizes = join(root, 'sizes.ts');
    writeFileSync(sizes, 'export const HIDDEN = 5;\n');
    const file = writeModel(join(root, 'model.ts'), `import { HIDDEN } from './sizes.ts';
export default defineModel({
  name: 'watched',
  batch: 2,
  seed: 3,
  optimizer: sgd({ learningRate: 0.1 }),
  build(m, B) {
    const x = m.input('x', [B, 4]);
    const y = m.input('y', [B, 3]);
    const h = relu(dense(m, 'fc1', x, HIDDEN));
    const h2 = relu(dense(m, 'fc2', h, 6));
    const logits = dense(m, 'fc3', h2, 3);
    return { loss: softmaxCrossEntropy(logits, y), predictions: { probs: softmax(logits) } };
  },
});
`);
    const out = join(root, 'out');
    const child = spawn(process.execPath, ['bin/gradc.mjs', 'build', file, '--out', out, '--target', 'js', '--watch'], {
      env: { ...process.env, GRADC_CACHE_DIR: resolve(root, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let waiting: (() => void) | undefined;
    const onData = (s: string) => {
      output += s;
      waiting?.();
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    /** Waits until the watcher has reported `n` finished builds. */
    const builtTimes = (n: number) =>
      new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no build ${n} within 90 s; output:\n${output}`)), 90_000);
        const check = () => {
          if ((output.match(/^gradc: (the build failed; )?watching for changes$/gm) ?? []).length >= n) {
            clearTimeout(timer);
            waiting = undefined;
            // The watcher sets its file watches just after it reports.
            setTimeout(done, 300);
          }
        };
        waiting = check;
        check();
      });
    try {
      await builtTimes(1);
      expect(paramShape(out, 'fc1.w')).toEqual([4, 5]);
      expect(paramShape(out, 'fc2.w')).toEqual([5, 6]);
      writeFileSync(file, readFileSync(file, 'utf8').replace("'fc2', h, 6", "'fc2', h, 7"));
      await builtTimes(2);
      expect(paramShape(out, 'fc2.w')).toEqual([5, 7]);
      writeFileSync(sizes, 'export const HIDDEN = 8;\n');
      await builtTimes(3);
      expect(paramShape(out, 'fc1.w')).toEqual([4, 8]);
      expect(paramShape(out, 'fc2.w')).toEqual([8, 7]);
      expect(output).not.toContain('the build failed');
    } finally {
      child.kill();
    }
  });

  it.concurrent('gradc train takes an IDX pair and reports validation figures with --validation-split', async () => {
    const root = scratch();
    const count = 30;
    const pixels = new Uint8Array(count * 6);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      labels[i] = i % 3;
      for (let d = 0; d < 6; d++) pixels[i * 6 + d] = d % 3 === i % 3 ? 200 + (i % 50) : (i * 13 + d * 7) % 60;
    }
    // Images of 2 x 3 pixels: flattened, the 6 features test/fixtures/tiny-mlp.ts takes.
    const images = join(root, 'images.idx');
    const labelsFile = join(root, 'labels.idx');
    writeFileSync(images, encodeIdx('uint8', [count, 2, 3], pixels));
    writeFileSync(labelsFile, encodeIdx('uint8', [count], labels));
    const r = await gradc(join(root, 'cache'), [
      'train', TINY, '--backend', 'js', '--epochs', '1', '--data', `${images},${labelsFile}`, '--validation-split', '0.2',
    ]);
    expectSuccess(r);
    expect(r.stdout).toContain(`${images},${labelsFile}: ${count} examples, 6 features, 3 classes`);
    expect(r.stdout).toMatch(/^final: validation accuracy \d+\.\d\d%, validation loss \d+\.\d{4}, train loss \d+\.\d{4}$/m);
  });
});
