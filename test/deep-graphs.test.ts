/**
 * Deep graphs build: every walk over a graph, a fused expression or a kernel is iterative (or
 * runs in node-id order), so a chain of 10,000 elementwise operations (test/fixtures/
 * deep-chain.ts, built through the DSL) compiles for every target without overflowing the
 * JavaScript stack, in seconds; its kernels compute what the float64 reference does, and the
 * gradient through the whole chain is right. Expression trees far deeper than any model's go
 * through the expression walks of the renderers and of the in-place pass.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderArtifacts } from '../compiler/build.ts';
import { openBuiltModel } from '../runtime/open-built-model.ts';
import type { CompiledModel } from '../compiler/compile.ts';
import { compileModel } from '../compiler/compile.ts';
import type { Expr, MapKernel } from '../compiler/codegen/kernel-ir.ts';
import { allKernels, exprNodes, foldExpr } from '../compiler/codegen/kernel-ir.ts';
import { exprCost, loadsOf, renderExpr } from '../compiler/codegen/render/expr.ts';
import { mapParts } from '../compiler/codegen/render/loops.ts';
import { cLanguage } from '../compiler/codegen/render/c.ts';
import { jsLanguage } from '../compiler/codegen/render/js.ts';
import { renderWgslKernel, wgslLanguage } from '../compiler/codegen/render/wgsl.ts';
import { cudaLanguage } from '../compiler/codegen/render/cuda.ts';
import { updateInPlace } from '../compiler/in-place.ts';
import { evaluateOutputs } from '../ir/evaluate.ts';
import type { Feeds } from '../ir/evaluate.ts';
import { lowerModel } from '../compiler/lower-model.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';
import { random } from './backend-corpus.ts';
import { scratchFolders } from './scratch.ts';
import { deepChain } from './fixtures/deep-chain.ts';

const DEPTH = 10_000;
const FIXTURE = 'test/fixtures/deep-chain.ts';
/** Seconds a build of the 10,000 chain may take here; it takes about 10 on 2 busy cores. */
const BUILD_SECONDS = 90;

const scratch = scratchFolders('deep-graphs-');

interface Built {
  readonly compiled: CompiledModel;
  readonly files: Readonly<Record<string, string>>;
  readonly seconds: number;
  readonly outDir: string;
}

let built: Promise<Built> | undefined;

/** The 10,000 chain compiled and rendered for every target once, for every test here. */
function buildDeepChain(): Promise<Built> {
  built ??= (async () => {
    const outDir = scratch();
    const start = performance.now();
    const compiled = compileModel(deepChain(DEPTH).declare());
    const files = renderArtifacts(compiled, ['js', 'c', 'wgsl', 'cuda'], FIXTURE);
    const seconds = (performance.now() - start) / 1000;
    for (const [name, text] of Object.entries(files)) writeFileSync(join(outDir, name), text);
    return { compiled, files, seconds, outDir };
  })();
  return built;
}

/** Seeded feeds: x in [-1, 1] (the chain starts at x·w, w = 0.02), targets in [-0.02, 0.02]. */
function feeds(): { x: Float32Array; y: Float32Array } {
  const rand = random(5);
  const x = Float32Array.from({ length: 12 }, () => Math.fround(2 * rand() - 1));
  const y = Float32Array.from({ length: 12 }, () => Math.fround(0.04 * rand() - 0.02));
  return { x, y };
}

/** The largest |a - b| relative to the larger magnitude of the two. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const scale = Math.max(Math.abs(a[i]), Math.abs(b[i]), 1e-30);
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  }
  return worst;
}

describe('a chain of 10,000 elementwise operations', () => {
  it('builds for js, c, wgsl and cuda without overflowing the stack, in seconds', async () => {
    const { compiled, files, seconds } = await buildDeepChain();
    console.log(`deep chain of ${DEPTH}: compiled and rendered for 4 targets in ${seconds.toFixed(1)} s`);
    expect(seconds).toBeLessThan(BUILD_SECONDS);
    // predict is the whole chain fused into one map kernel.
    const predict = compiled.schedule.programs.find((p) => p.name === 'predict')!;
    expect(predict.kernels.map((k) => k.kind)).toEqual(['map']);
    expect(predict.kernels[0].sources.length).toBeGreaterThan(DEPTH);
    const train = compiled.schedule.programs.find((p) => p.name === 'train')!;
    expect(train.kernels.length).toBeGreaterThan(DEPTH / 3);
    const kernelName = predict.kernels[0].name;
    for (const file of ['kernels.js', 'kernels.c', 'kernels-wgsl.js', 'kernels.cu', 'kernels-cuda.js', 'model.js']) {
      expect(files[file], file).toContain(kernelName);
    }
    // The fused chain is a sequence of locals, never one nested expression.
    const body = files['kernels.c'].slice(files['kernels.c'].indexOf(`void ${kernelName}(`));
    expect(body).toContain(`const float t${DEPTH - 1} = `);
    expect(body.split('\n').reduce((n, line) => Math.max(n, line.length), 0)).toBeLessThan(200);
  });

  it('is valid C', async () => {
    const { outDir } = await buildDeepChain();
    // Syntax and types only: gcc -O3 takes about a minute over the 4,452 kernels.
    const cc = process.env.CC ?? 'cc';
    const result = spawnSync(cc, ['-fsyntax-only', '-fopenmp', '-Wall', join(outDir, 'kernels.c')], { encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it("is valid WGSL: every distinct module passes Dawn's validation", async () => {
    const { compiled, files } = await buildDeepChain();
    const { schedule } = compiled;
    const codes = allKernels(schedule).map((k) => renderWgslKernel(schedule, k).code);
    expect(files['kernels-wgsl.js']).toContain(codes[codes.length - 1]);
    // Thousands of kernels differ in their comments only (the nodes they compute).
    const distinct = [...new Set(codes.map((c) => c.replace(/^\/\/.*$/gm, '')))];
    const device = (await requestNodeGpuDevice()) as GPUDevice;
    try {
      const errors: string[] = [];
      for (const code of distinct) {
        device.pushErrorScope('validation');
        const module = device.createShaderModule({ code });
        const info = await module.getCompilationInfo();
        const scope = await device.popErrorScope();
        for (const m of info.messages) if (m.type === 'error') errors.push(m.message);
        if (scope) errors.push(scope.message);
      }
      expect(errors).toEqual([]);
    } finally {
      device.destroy();
    }
  });

  it('runs on the JS kernels as the float64 reference does, and trains through the whole chain', async () => {
    const { compiled } = await buildDeepChain();
    // A build of the JS target alone (its own build id), so opening it loads no other module.
    const outDir = scratch();
    for (const [name, text] of Object.entries(renderArtifacts(compiled, ['js'], FIXTURE))) {
      writeFileSync(join(outDir, name), text);
    }
    const model = await openBuiltModel(outDir, 'js');
    const { x, y } = feeds();
    const w = Float32Array.of(0.02, 0.02, 0.02);
    const lr = 0.5;
    const reference: Feeds = { x, y, w, lr: Float32Array.of(lr) };
    const graph = (name: string) => compiled.graphs.find((g) => g.name === name)!.graph;

    // predict: the whole chain in one fused kernel, in float64 in JavaScript, rounded once.
    const predicted = (await model.predict({ x }))['out'];
    const expected = evaluateOutputs(graph('predict'), reference)['predict:out'];
    expect(relError(predicted, expected)).toBeLessThan(1e-6);
    // The chain keeps what it starts from (h ← tanh(2h)/2 has slope 1 at 0): outputs differ.
    expect(Math.min(...expected.map(Math.abs))).toBeGreaterThan(1e-3);

    // One SGD step: the loss, and the gradient of w through all 10,000 operations and back.
    const loss = await model.trainStep({ x, y });
    const step = evaluateOutputs(graph('train'), reference);
    expect(relError([loss], step['loss'])).toBeLessThan(1e-5);
    const newW = await model.getParam('w');
    const gradient = Array.from(newW, (v, i) => (w[i] - v) / lr);
    const expectedGradient = Array.from(step['update:w'], (v, i) => (w[i] - v) / lr);
    expect(relError(gradient, expectedGradient)).toBeLessThan(1e-4);
    for (const g of expectedGradient) expect(Math.abs(g)).toBeGreaterThan(1e-4);

    // The reference gradient itself is the derivative of the reference loss (central
    // differences on the graph before any optimisation).
    const lowered = lowerModel(compiled.spec).train;
    const lossAt = (w0: number) =>
      evaluateOutputs(lowered, { ...reference, w: Float64Array.of(w0, w[1], w[2]) })['loss'][0];
    const h = 1e-6;
    const numeric = (lossAt(w[0] + h) - lossAt(w[0] - h)) / (2 * h);
    expect(relError([numeric], [expectedGradient[0]])).toBeLessThan(1e-6);
    model.dispose();
  });
});

describe('gradc build on the command line', () => {
  it('builds a chain of 5,000 elementwise operations for every target', () => {
    const out = scratch();
    const args = ['bin/gradc.mjs', 'build', FIXTURE, '--target', 'js,c,wgsl,cuda', '--skip-nvcc', '--out', out];
    const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const file of ['model.js', 'kernels.js', 'kernels.c', 'kernels-wgsl.js', 'kernels.cu', 'kernels-cuda.js']) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const c = readFileSync(join(out, 'kernels.c'), 'utf8');
    expect(c).toContain(`const float t${5000 - 1} = `);
  });
});

// ---- expression walks, on trees deeper than any model makes ----

/** load 0, then `depth` applies cycling through neg, tanh, add 1 and mul by input 1. */
function deepExpr(depth: number): Expr {
  let e: Expr = { op: 'load', input: 0 };
  for (let i = 0; i < depth; i++) {
    switch (i % 4) {
      case 0:
        e = { op: 'apply', kind: 'neg', args: [e] };
        break;
      case 1:
        e = { op: 'apply', kind: 'tanh', args: [e] };
        break;
      case 2:
        e = { op: 'apply', kind: 'add', args: [e, { op: 'const', value: 1 }] };
        break;
      default:
        e = { op: 'apply', kind: 'mul', args: [{ op: 'load', input: 1 }, e] };
    }
  }
  return e;
}

describe('expression walks', () => {
  const DEEP = 50_000;
  const expr = deepExpr(DEEP);

  it('fold, list and cost a 50,000-deep expression', () => {
    expect(exprNodes(expr).length).toBe(DEEP + 1 + DEEP / 4 + DEEP / 4);
    expect(foldExpr<number>(expr, (_, args) => 1 + Math.max(0, ...args))).toBe(DEEP + 1);
    expect(loadsOf(expr)).toEqual([{ input: 1 }, { input: 0 }]);
    expect(exprCost(expr)).toBe(DEEP / 4 + 8 * (DEEP / 4) + DEEP / 4 + DEEP / 4 + DEEP / 2 + 1);
  });

  it('render a 50,000-deep expression as locals in every C-like language', () => {
    for (const lang of [cLanguage(), jsLanguage(), wgslLanguage(), cudaLanguage()]) {
      const { statements, value } = renderExpr(lang, expr, (input) => `in${input}[i]`);
      expect(statements.length, lang.name).toBe(DEEP - 1);
      expect(value, lang.name).toBe(`in1[i] * t${DEEP - 2}`);
    }
    const kernel: MapKernel = { kind: 'map', name: 'k', inputs: [0, 1], output: 2, size: 8, expr, sources: [] };
    expect(mapParts(cLanguage(), kernel).body.length).toBe(DEEP);
  });

  it('write a parameter in place from a 50,000-deep expression', () => {
    // in1 is the parameter: the kernel reads it at the element it writes, then it is copied.
    const producer: MapKernel = { kind: 'map', name: 'p', inputs: [5, 7], output: 9, size: 8, expr, sources: [] };
    const copy: MapKernel = {
      kind: 'map',
      name: 'c',
      identity: { role: 'assign', program: 'train', assigns: 'w' },
      inputs: [9],
      output: 7,
      size: 8,
      expr: { op: 'load', input: 0 },
      sources: ['update:w'],
    };
    const [updated] = updateInPlace([producer, copy], new Set());
    expect(updated.output).toBe(7);
    expect(updated.inputs).toEqual([5]);
    const loads = exprNodes((updated as MapKernel).expr).filter((e) => e.op === 'load');
    expect(new Set(loads.map((e) => (e.op === 'load' ? e.input : -1)))).toEqual(new Set([0, 1]));
  });
});
