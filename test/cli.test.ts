/** The command line: help, user errors as one file:line:col line, build output. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../runtime/checkpoint-file.ts';
import { defaultBuildFolder } from '../compiler/build-cache.ts';
import { scratchFolders } from './scratch.ts';

function gradcWith(env: NodeJS.ProcessEnv, args: readonly string[]) {
  const options = { encoding: 'utf8', env: { ...process.env, ...env } } as const;
  const result = spawnSync(process.execPath, ['bin/gradc.mjs', ...args], options);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function gradc(...args: string[]) {
  return gradcWith({}, args);
}

const scratchDir = scratchFolders('cli-test-');

describe('gradc CLI', () => {
  it('prints usage for --help and exits 0', () => {
    const r = gradc('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/gradc build <model.ts>/);
    expect(r.stdout).toMatch(/gradc train <model.ts>/);
    expect(r.stdout).toMatch(/\[--predict-only\] \[--predict-batch N\]/);
  });

  it('rejects an unknown option with a one-line message and no stack trace', () => {
    const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--frobnicate');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gradc: .*--frobnicate/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects an unknown target', () => {
    const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--target', 'js,fortran');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown target "fortran"/);
  });

  it('reports a missing model file', () => {
    const r = gradc('build', 'test/fixtures/nope.ts');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('gradc: cannot find model file test/fixtures/nope.ts\n');
  });

  it("points a shape mistake that tsc cannot see at the user's line", () => {
    const r = gradc('build', 'test/fixtures/bad-shape.ts', '--out', scratchDir());
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'gradc: test/fixtures/bad-shape.ts:15:20 matmul: matmul [8,784] x [250,10]: ' +
        'inner sizes differ (784 vs 250)\n',
    );
  });

  it('builds js and c artifacts and reports node counts with --verbose', () => {
    const out = scratchDir();
    const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', out, '--verbose');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/train: simplify +\d+ -> \d+ nodes/);
    expect(r.stdout).toMatch(/train: \d+ kernels/);
    expect(r.stdout).toMatch(/memory: temporaries [\d.]+ MB in \d+ buffers -> [\d.]+ MB in \d+ storages/);
    for (const f of ['model.js', 'model.d.ts', 'kernels.js', 'kernels.c']) expect(existsSync(join(out, f))).toBe(true);
    expect(readFileSync(join(out, 'model.js'), 'utf8')).toMatch(/export async function createTinyMlp/);
    const again = gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', out);
    expect(again.stdout).toMatch(/^up to date .*\(gradc build --force builds anyway\)\n$/);
  });

  it('explains each program: kernels by kind, bytes moved, the DSL lines each kernel fuses, the memory plan', () => {
    const out = scratchDir();
    const r = gradc('build', 'examples/mnist-mlp.ts', '--out', out, '--target', 'js', '--explain');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^train: 13 kernels \(8 products, 4 reductions, 1 row kernel, 0 maps\); per run reads [\d.]+ MB, writes [\d.]+ MB$/m);
    expect(r.stdout).toMatch(/^predict: 4 kernels \(3 products, 0 reductions, 1 row kernel, 0 maps\)/m);
    expect(r.stdout).toMatch(/^  train_000_matmul  matmul 600x250x784  reads 2\.67 MB, writes 600 kB$/m);
    expect(r.stdout).toMatch(/^    %\d+ matmul  examples\/mnist-mlp\.ts:\d+:\d+ dense$/m);
    expect(r.stdout).toMatch(/^  storage \d+ \([\d.]+ [kM]B\): train\.%\d+/m);
  });

  it('builds the CUDA target only when asked for, and checks --cuda-arch', () => {
    const out = scratchDir();
    expect(gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', out).code).toBe(0);
    expect(existsSync(join(out, 'kernels.cu'))).toBe(false);
    const tiny = 'test/fixtures/tiny-mlp.ts';
    const bad = gradc('build', tiny, '--target', 'cuda', '--cuda-arch', 'sm_80,volta');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'gradc: --cuda-arch: "volta" is not a CUDA architecture like sm_80 or sm_90\n',
    );
    const r = gradc('build', tiny, '--out', out, '--target', 'cuda', '--skip-nvcc');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const f of ['kernels.cu', 'kernels-cuda.js']) expect(existsSync(join(out, f))).toBe(true);
    expect(existsSync(join(out, 'kernels.fatbin'))).toBe(false);
    expect(readFileSync(join(out, 'model.d.ts'), 'utf8')).toMatch(/backend\?: 'cuda'/);
  });

  it('says that training on CUDA needs an NVIDIA GPU, before building anything', () => {
    const out = scratchDir();
    const env = { GRADC_CUDA_DRIVER: '/nonexistent/libcuda.so.1' };
    const args = ['train', 'test/fixtures/tiny-mlp.ts', '--backend', 'cuda', '--out', out];
    const r = gradcWith(env, args);
    expect(r.code).toBe(1);
    const missing = 'no driver library was found \\(/nonexistent/libcuda\\.so\\.1: [^\\n]*\\)';
    const message = `the CUDA backend needs an NVIDIA GPU and its driver, and ${missing}`;
    const advice = 'Train with --backend c, js or webgpu instead\\.';
    expect(r.stderr).toMatch(new RegExp(`^gradc: ${message}\\. ${advice}\\n$`));
    expect(existsSync(join(out, 'kernels.cu'))).toBe(false);
  });

  it('builds only the targets asked for', () => {
    const out = scratchDir();
    expect(gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', out, '--target', 'js').code).toBe(0);
    expect(existsSync(join(out, 'kernels.js'))).toBe(true);
    expect(existsSync(join(out, 'kernels.c'))).toBe(false);
  });

  it('saves a checkpoint each epoch and resumes from it; refuses a checkpoint of another model; starts from a weights file', () => {
    const dir = scratchDir();
    const ckpt = join(dir, 'run.ckpt');
    const history = join(dir, 'history.json');
    const common = ['train', 'examples/mnist-mlp.ts', '--train-limit', '1200', '--test-limit', '200', '--out', join(dir, 'build')];
    const first = gradc(...common, '--epochs', '1', '--checkpoint', ckpt);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    // Without --epochs a resumed run trains one more epoch.
    const second = gradc(...common, '--resume', ckpt, '--checkpoint', ckpt, '--history', history);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`resuming after epoch 1 (step 2) of ${ckpt}`);
    const epochs = JSON.parse(readFileSync(history, 'utf8')) as { epoch: number; validation: { loss: number } }[];
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);

    const other = join(dir, 'other.ckpt');
    saveCheckpoint(other, { kind: 'checkpoint', model: 'tiny-mlp', tensors: {} });
    const refused = gradc(...common, '--resume', other);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`gradc: ${other}: a checkpoint of model "tiny-mlp", not of "mnist-mlp"`);

    // A weights file (the trained parameters) starts a new run from them, at epoch 1.
    const weights = join(dir, 'weights.safetensors');
    const trained = loadCheckpoint(ckpt);
    saveCheckpoint(weights, { kind: 'weights', model: 'mnist-mlp', tensors: trained.tensors });
    const fromWeights = gradc(...common, '--resume', weights, '--epochs', '1', '--history', history);
    expect(fromWeights.stderr).toBe('');
    expect(fromWeights.code).toBe(0);
    expect(fromWeights.stdout).toContain(`${weights} holds no training progress: its parameters are restored, training starts at epoch 1`);
    const restarted = JSON.parse(readFileSync(history, 'utf8')) as { epoch: number; validation: { loss: number } }[];
    expect(restarted.map((e) => e.epoch)).toEqual([1]);
    // The same batches as the first run's epoch 1, from trained parameters: another loss.
    expect(restarted[0].validation.loss).not.toBe(epochs[0].validation.loss);
  });

  it('builds into a folder outside any ES-module package, giving it a package.json; leaves a CommonJS one alone', () => {
    const outside = mkdtempSync(join(tmpdir(), 'gradc-out-'));
    try {
      const out = join(outside, 'model');
      const r = gradc('train', 'examples/mnist-mlp.ts', '--train-limit', '600', '--test-limit', '100', '--out', out);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'package.json'), 'utf8'))).toEqual({ type: 'module' });
      const cjs = join(outside, 'cjs');
      mkdirSync(cjs);
      writeFileSync(join(cjs, 'package.json'), '{ "name": "theirs" }\n');
      const refused = gradc('build', 'examples/mnist-mlp.ts', '--out', cjs);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('does not say "type": "module"');
      expect(readFileSync(join(cjs, 'package.json'), 'utf8')).toBe('{ "name": "theirs" }\n');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('builds a .ts model file outside any ES-module package (model files load as ES modules)', () => {
    const outside = mkdtempSync(join(tmpdir(), 'gradc-model-'));
    try {
      const dsl = JSON.stringify(join(process.cwd(), 'dsl', 'index.ts'));
      const source = readFileSync('test/fixtures/tiny-mlp.ts', 'utf8').replace(/'\.\.\/\.\.\/dsl\/index\.ts'/, dsl);
      writeFileSync(join(outside, 'model.ts'), source);
      writeFileSync(join(outside, 'model.mts'), source);
      for (const [file, out] of [['model.ts', 'a'], ['model.mts', 'b']]) {
        const built = gradc('build', join(outside, file), '--out', join(outside, out));
        expect(built.stderr).toBe('');
        expect(built.code).toBe(0);
        expect(existsSync(join(outside, out, 'model.js'))).toBe(true);
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

/** Writes a model file into a scratch folder (it imports the DSL from the repository). */
function modelFile(source: string): string {
  const path = join(scratchDir(), 'model.ts');
  writeFileSync(path, `import { defineModel, dense, sgd, softmaxCrossEntropy, sumAll } from '../../dsl/index.ts';\n${source}`);
  return path;
}

/** `gradc build`'s answer to a model mistake: exit 1 and one `gradc:` line on stderr. */
function expectOneLine(r: ReturnType<typeof gradc>, pattern: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^gradc: [^\n]*\n$/);
  expect(r.stderr).toMatch(pattern);
}

const GOOD_BUILD = `build(m, B) {
    const x = m.input('x', [B, 3]);
    const y = m.input('y', [B, 2]);
    return { loss: softmaxCrossEntropy(dense(m, 'fc', x, 2), y), predictions: {} };
  }`;

describe('gradc build: a careless model gets one line, never a stack trace', () => {
  it('refuses a directory given as the model file', () => {
    expectOneLine(gradc('build', 'test/fixtures'), /^gradc: test\/fixtures is a directory, not a model file/);
  });

  it('refuses a default export that is not a model', () => {
    for (const source of ['export default 42;', "export default { kind: 'gradc-model' };", 'export default defineModel;']) {
      expectOneLine(gradc('build', modelFile(source)), /model\.ts: the default export is (the number 42|an object|a function), not a model made by defineModel/);
    }
    const named = modelFile(`export const a = defineModel({ name: 'a', batch: 2, optimizer: sgd({ learningRate: 1 }), ${GOOD_BUILD} });`);
    expect(gradc('build', named, '--out', scratchDir()).code).toBe(0);
  });

  it('refuses a build() that returns nothing, a loss or prediction that is not a tensor', () => {
    const cases: [string, RegExp][] = [
      ['build() {}', /model\.ts:3:16 defineModel: build\(\) returned undefined/],
      ["build(m) { m.input('x', [2]); return { loss: 3, predictions: {} }; }", /model\.ts:3:16 defineModel: the loss must be a tensor, got the number 3/],
      [
        "build(m) { const x = m.input('x', [2]); return { loss: sumAll(x), predictions: { p: 3 } }; }",
        /model\.ts:3:16 defineModel: prediction "p" must be a tensor, got the number 3/,
      ],
      [
        "build(m) { const x = m.input('x', [2]); return { loss: sumAll(x), predictions: { p: { x } } }; }",
        /model\.ts:3:16 defineModel: prediction "p" must be a tensor, got an object/,
      ],
    ];
    for (const [build, pattern] of cases) {
      const file = modelFile(`// a model that goes wrong\nexport default defineModel({ name: 'bad', batch: 2, optimizer: sgd({ learningRate: 1 }), ${build} } as never);`);
      expectOneLine(gradc('build', file, '--out', scratchDir()), pattern);
    }
  });

  it('points a fractional dimension at its line', () => {
    const file = modelFile(`export default defineModel({ name: 'frac', batch: 2, optimizer: sgd({ learningRate: 1 }), build(m) {
    const x = m.input('x', [2, 2.5]);
    return { loss: sumAll(x), predictions: {} };
  } });`);
    expectOneLine(gradc('build', file), /model\.ts:3:17 input\("x"\): input "x": size 2\.5 at axis 1 of \[2,2\.5\] is not a positive integer/);
  });

  it('refuses --target without a target, and --seed or --batch out of range', () => {
    const tiny = 'test/fixtures/tiny-mlp.ts';
    expectOneLine(gradc('build', tiny, '--target', ','), /^gradc: --target needs at least one target/);
    for (const seed of ['4294967296', '1.5', '=-1', '']) {
      expectOneLine(gradc('build', tiny, `--seed${seed.startsWith('=') ? seed : ''}`, ...(seed.startsWith('=') ? [] : [seed])), /--seed needs an integer in \[0, 2\^32\)/);
    }
    // A negative number after an option reads as another option: still one line, with the fix.
    expectOneLine(gradc('build', tiny, '--seed', '-1'), /--seed=-XYZ/);
    expectOneLine(gradc('build', tiny, '--batch', '1e300'), /--batch needs a positive integer/);
    // A batch too large for the kernels' 32-bit indices is refused at the first tensor it makes too big.
    expectOneLine(gradc('build', tiny, '--batch', '1000000000'), /tiny-mlp\.ts:10:17 input\("x"\): input "x": \[1000000000,6\] holds 6,000,000,000 elements/);
  });

  it('warns once about a parameter that never reaches the loss, naming it and its line', () => {
    const file = modelFile(`export default defineModel({ name: 'unused', batch: 2, optimizer: sgd({ learningRate: 1 }), build(m, B) {
    const x = m.input('x', [B, 3]);
    const y = m.input('y', [B, 2]);
    const spare = m.param('spare', [2], 'zeros');
    return { loss: softmaxCrossEntropy(dense(m, 'fc', x, 2), y), predictions: { spare } };
  } });`);
    const r = gradc('build', file, '--out', scratchDir());
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^gradc: warning: \S*model\.ts:5:21 param\("spare"\): param "spare" never reaches the loss[^\n]*\n$/);
  });

  it('reports a syntax error in a model file as one line at its place, TypeScript or JavaScript', () => {
    const dir = scratchDir();
    writeFileSync(join(dir, 'broken.ts'), "import { sgd } from '../../dsl/index.ts';\nconst x = ;\nexport default sgd;\n");
    writeFileSync(join(dir, 'broken.mjs'), 'const x = ;\nexport default x;\n');
    const ts = gradc('build', join(dir, 'broken.ts'), '--out', join(dir, 'a'));
    expect(ts.code).toBe(1);
    expect(ts.stderr).toBe(`gradc: ${join(dir, 'broken.ts')}:2:11: Expression expected.\n`);
    const js = gradc('build', join(dir, 'broken.mjs'), '--out', join(dir, 'b'));
    expect(js.code).toBe(1);
    expect(js.stderr).toBe(`gradc: ${join(dir, 'broken.mjs')} (or a file it imports): Unexpected token ';'\n`);
  });
});

describe('the folder a build without --out went to', () => {
  const record = (dir: string, model: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.gradc-build.json'), JSON.stringify({ gradc: 'x', options: { model }, inputs: [], outputs: [] }));
  };

  it('is the one folder whose record names the model, and none when several do', () => {
    const root = scratchDir();
    const model = join(root, 'model.ts');
    record(join(root, 'generated', 'a'), '../../model.ts');
    record(join(root, 'generated', 'other'), '../../other.ts');
    expect(defaultBuildFolder(model, join(root, 'generated'))).toBe(resolve(root, 'generated', 'a'));
    record(join(root, 'generated', 'a-b6000'), '../../model.ts');
    expect(defaultBuildFolder(model, join(root, 'generated'))).toBeUndefined();
  });
});
