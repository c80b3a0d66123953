/**
 * Epilogue fusion (compiler/fuse.ts): which products and reductions take their elementwise work
 * as an epilogue, and that fused and unfused builds of random products and reductions with
 * elementwise chains give
 * bit-identical numbers on the C and TypeScript backends (test/wgsl.test.ts and
 * test/cuda-emulated.test.ts compare the same cases on WebGPU and the CUDA emulator).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { schedule } from '../compiler/schedule.ts';
import { inputRoles } from '../compiler/compile.ts';
import { compileDefinition } from '../compiler/build.ts';
import type { ModelDefinition } from '../dsl/model.ts';
import type { EpilogueKernel, MatmulKernel, ReduceKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import { ROW_WIDTH_MAX, allKernels, epilogueInputs } from '../compiler/codegen/kernel-ir.ts';
import { renderC } from '../compiler/codegen/render/c.ts';
import { renderJs } from '../compiler/codegen/render/js.ts';
import type { HostBackend } from '../runtime/backend.ts';
import type { JsKernel } from '../artifact/kernels.ts';
import { createJsBackend } from '../runtime/backends/js.ts';
import { createNativeBackend } from '../runtime/backends/native.ts';
import { allocateStorages } from '../runtime/model.ts';
import type { Case } from './backend-corpus.ts';
import { epilogueCases } from './backend-corpus.ts';
import { fusionCases, fusionSchedule, reductionFusionCases, rowFusionCases } from './fusion-cases.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Every program of `sched` run once on `backend`: outputs by program, then by name. */
function runAll(backend: HostBackend, sched: Schedule, cases: readonly Case[]): Record<string, Float32Array>[] {
  const buffers = allocateStorages(sched.buffers, (size) => backend.allocate(size));
  return sched.programs.map((program, i) => {
    for (const feed of program.feeds) backend.upload(buffers[feed.buffer], cases[i].feeds[feed.name]);
    for (const k of program.kernels) backend.bind(k.name, [...k.inputs, k.output].map((id) => buffers[id]))();
    return Object.fromEntries(program.outputs.map((io) => [io.name, backend.readBack(buffers[io.buffer])]));
  });
}

async function jsBackend(sched: Schedule): Promise<HostBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'gradc-fusion-'));
  dirs.push(dir);
  const file = join(dir, 'kernels.ts');
  writeFileSync(file, renderJs(sched, { modelName: 'fusion', buildId: 'test' }));
  const module = (await import(pathToFileURL(file).href)) as { kernels: Record<string, JsKernel> };
  return createJsBackend(module.kernels);
}

function nativeBackend(sched: Schedule): HostBackend {
  const cSource = renderC(sched, { modelName: 'fusion', buildId: 'test' });
  const kernels = allKernels(sched).map((k) => ({ name: k.name, arity: k.inputs.length + 1 }));
  return createNativeBackend({ cSource, kernels });
}

/** Runs `cases` fused and unfused on `target` and expects every output's bits to agree. */
async function expectBitIdentical(
  target: 'js' | 'native',
  fusedSchedule: Schedule,
  unfusedSchedule: Schedule,
  cases: readonly Case[],
): Promise<void> {
  const open = (sched: Schedule) => (target === 'js' ? jsBackend(sched) : Promise.resolve(nativeBackend(sched)));
  const [withEpilogues, without] = await Promise.all([open(fusedSchedule), open(unfusedSchedule)]);
  try {
    const a = runAll(withEpilogues, fusedSchedule, cases);
    const b = runAll(without, unfusedSchedule, cases);
    cases.forEach((c, i) => {
      for (const name of Object.keys(b[i])) {
        expect(Buffer.from(a[i][name].buffer).equals(Buffer.from(b[i][name].buffer)), `${c.name} ${name}`).toBe(true);
      }
    });
  } finally {
    withEpilogues.dispose();
    without.dispose();
  }
}

const products = (sched: Schedule) => allKernels(sched).filter((k): k is MatmulKernel => k.kind === 'matmul');
const reductions = (sched: Schedule) => allKernels(sched).filter((k): k is ReduceKernel => k.kind === 'reduce');

/** A case's kernels as `kind` or `kind+epilogue`, in order. */
function kindsOf(graph: Case['graph']): string[] {
  const kernels = schedule([{ name: 'p', graph }], {}).programs[0].kernels;
  return kernels.map((k) => (k.kind !== 'map' && (k as EpilogueKernel).epilogue ? `${k.kind}+epilogue` : k.kind));
}

/** The kernels each reduction case of the corpus should schedule to. */
const REDUCTION_KINDS: Record<string, string[]> = {
  'reduction epilogue: a bias update b - 0.1 * sum(g, [0]), [60,25] (columns)': ['reduce+epilogue'],
  'reduction epilogue: exp(max(x, [1])), [9,14]': ['reduce+epilogue'],
  'reduction epilogue: log(sum(x, [1])), [12,30]': ['reduce+epilogue'],
  'reduction epilogue: log(sum(x, [1])) over long rows, [5,200]': ['reduce+epilogue'],
  'reduction epilogue: tanh(max(x, [1]) - c), [3,1500]': ['reduce+epilogue'],
  'reduction epilogue: sum(x, [0]) * c[n], [40,32] (columns)': ['reduce+epilogue'],
  'reduction epilogue with a broadcast operand: relu(sum(x, [2]) + c[5]), [4,5,10]': ['reduce+epilogue'],
  // The partial reduce into [16,3] takes none; the total over the 16 slices does.
  'reduction epilogue on a split total: sum(x, [0]) * 0.5 + c, [4096,3]': ['reduce', 'reduce+epilogue'],
  'reduction epilogue reading the reduced input: max(x, [0]) - x as [12], [1,12]': ['reduce+epilogue'],
  'a reduction two kernels read keeps no epilogue: exp(s) and -s, s = sum(x, [1])': ['reduce', 'map', 'map'],
};

describe('epilogue fusion', () => {
  it('fuses each corpus epilogue case into one product kernel, and leaves a product two kernels read alone', () => {
    const kernelsOf = (c: Case) => schedule([{ name: 'p', graph: c.graph }], {}).programs[0].kernels;
    const cases = epilogueCases().filter((c) => !(c.name in REDUCTION_KINDS));
    const twoReaders = cases.findIndex((c) => c.name.startsWith('a product two kernels read'));
    for (const c of cases.slice(0, twoReaders)) {
      const kernels = kernelsOf(c);
      expect(kernels.map((k) => k.kind), c.name).toEqual(['matmul']);
      expect((kernels[0] as MatmulKernel).epilogue, c.name).toBeDefined();
      expect((kernels[0] as MatmulKernel).inPlace, c.name).toBeUndefined();
    }
    const last = schedule([{ name: 'p', graph: cases[twoReaders].graph }], {});
    expect(products(last).map((k) => k.epilogue)).toEqual([undefined]);
    // The in-place updates after it: one product writing the input, its epilogue reading the
    // old value (input inputs.length + 1) at the element, or a product alone; a product whose
    // operand is the old value keeps its copy.
    const updates = cases.slice(twoReaders + 1);
    expect(updates.length).toBe(5);
    for (const c of updates) {
      const kernels = kernelsOf(c);
      const [product] = kernels as MatmulKernel[];
      const w = schedule([{ name: 'p', graph: c.graph }], {}).buffers.find((d) => d.name === 'w')!;
      if (c.name.includes('keeps its copy')) {
        expect(kernels.map((k) => k.kind), c.name).toEqual(['matmul', 'map']);
        expect(product.inPlace, c.name).toBeUndefined();
        expect(kernels[1].output, c.name).toBe(w.id);
        continue;
      }
      expect(kernels.map((k) => k.kind), c.name).toEqual(['matmul']);
      expect(product.output, c.name).toBe(w.id);
      expect(product.inputs, c.name).not.toContain(w.id);
      if (c.name.includes('product alone')) {
        expect(product.epilogue, c.name).toBeUndefined();
        continue;
      }
      expect(product.inPlace, c.name).toBe(true);
      const { old } = epilogueInputs(product);
      expect(old, c.name).toBe(product.inputs.length + 1);
      const oldLoads = JSON.stringify(product.epilogue).match(new RegExp(`"input":${old}[,}]`, 'g')) ?? [];
      expect(oldLoads.length, c.name).toBeGreaterThan(0);
    }
  });

  it('fuses each corpus reduction case into its reduction (a split one into its total), and leaves a reduction two kernels read alone', () => {
    const cases = epilogueCases().filter((c) => c.name in REDUCTION_KINDS);
    expect(cases.map((c) => c.name)).toEqual(Object.keys(REDUCTION_KINDS));
    for (const c of cases) expect(kindsOf(c.graph), c.name).toEqual(REDUCTION_KINDS[c.name]);
    const unfused = fusionSchedule(cases, false);
    expect(reductions(unfused).some((k) => k.epilogue)).toBe(false);
  });

  const cases = fusionCases(60);
  const fused = fusionSchedule(cases, true);
  const unfused = fusionSchedule(cases, false);

  it('fuses most random products: those whose product is no output', () => {
    const epilogues = products(fused).filter((k) => k.epilogue).length;
    const productOutputs = cases.filter((c) => 'p' in c.graph.outputs).length;
    expect(epilogues).toBe(cases.length - productOutputs);
    expect(products(unfused).some((k) => k.epilogue)).toBe(false);
    expect(allKernels(fused).length).toBeLessThan(allKernels(unfused).length);
  });

  const reductionCases = reductionFusionCases(60);
  const reductionsFused = fusionSchedule(reductionCases, true);
  const reductionsUnfused = fusionSchedule(reductionCases, false);

  it('fuses most random reductions: those whose result is no output', () => {
    const epilogues = reductions(reductionsFused).filter((k) => k.epilogue).length;
    const resultOutputs = reductionCases.filter((c) => 's' in c.graph.outputs).length;
    expect(epilogues).toBe(reductionCases.length - resultOutputs);
    expect(reductions(reductionsUnfused).some((k) => k.epilogue)).toBe(false);
    expect(allKernels(reductionsFused).length).toBeLessThan(allKernels(reductionsUnfused).length);
  });

  it.each(['js', 'native'] as const)('gives bit-identical results fused and unfused on %s (random products)', async (target) => {
    await expectBitIdentical(target, fused, unfused, cases);
  }, 120_000);

  it.each(['js', 'native'] as const)('gives bit-identical results fused and unfused on %s (random reductions)', async (target) => {
    await expectBitIdentical(target, reductionsFused, reductionsUnfused, reductionCases);
  }, 120_000);
});

describe('row fusion and reduction prologues', () => {
  const cases = rowFusionCases(60);
  const fused = fusionSchedule(cases, true);
  const unfused = fusionSchedule(cases, false);
  const rowKernels = allKernels(fused).filter((k) => k.kind === 'map' && k.rows);

  it('computes short rows in row kernels and feeds reductions through prologues', () => {
    expect(rowKernels.length).toBeGreaterThan(cases.length / 2);
    expect(reductions(fused).filter((k) => k.prologue).length).toBeGreaterThan(cases.length / 4);
    expect(allKernels(unfused).some((k) => (k.kind === 'map' && k.rows) || (k.kind === 'reduce' && k.prologue))).toBe(false);
    expect(allKernels(fused).length).toBeLessThan(allKernels(unfused).length / 2);
    for (const k of rowKernels) expect(k.kind === 'map' && k.rows!.width).toBeLessThanOrEqual(ROW_WIDTH_MAX);
  });

  it('leaves rows longer than ROW_WIDTH_MAX to reductions and maps', () => {
    const long = cases.filter((c) => (c.feeds.x.length / Number(/"rows":(\d+)/.exec(c.name)![1])) > ROW_WIDTH_MAX);
    expect(long.length).toBeGreaterThan(0);
    const sched = fusionSchedule(long, true);
    expect(allKernels(sched).some((k) => k.kind === 'map' && k.rows)).toBe(false);
  });

  it.each(['js', 'native'] as const)('gives bit-identical results fused and unfused on %s', async (target) => {
    await expectBitIdentical(target, fused, unfused, cases);
  }, 120_000);
});

describe('fused and unfused builds of the example models', () => {
  /** Every buffer that is not a temporary filled from a fixed seed (hyperparameters small, states not negative). */
  function filled(sched: Schedule): Map<number, Float32Array> {
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const values = new Map<number, Float32Array>();
    for (const d of sched.buffers) {
      if (d.role === 'temp') continue;
      // States (moments, running variances, step counts) are not negative.
      const value = () => (d.role === 'hyper' ? 0.01 : d.role === 'state' ? next() : next() - 0.25);
      values.set(d.id, Float32Array.from({ length: d.size }, value));
    }
    return values;
  }

  /** Two train steps then predict: every parameter, state and program output, by buffer name. */
  function trainTwice(backend: HostBackend, sched: Schedule): Record<string, Float32Array> {
    const buffers = allocateStorages(sched.buffers, (size) => backend.allocate(size));
    for (const [id, values] of filled(sched)) backend.upload(buffers[id], values);
    const run = (name: string) => {
      const program = sched.programs.find((p) => p.name === name)!;
      for (const k of program.kernels) backend.bind(k.name, [...k.inputs, k.output].map((id) => buffers[id]))();
      return program.outputs;
    };
    const outputs = [...run('train'), ...run('train'), ...run('predict')];
    const kept = sched.buffers.filter((d) => d.role === 'param' || d.role === 'state');
    return Object.fromEntries([
      ...kept.map((d) => [d.name, backend.readBack(buffers[d.id])] as const),
      ...outputs.map((io) => [`output ${io.name}`, backend.readBack(buffers[io.buffer])] as const),
    ]);
  }

  async function open(target: 'js' | 'native', sched: Schedule): Promise<HostBackend> {
    return target === 'js' ? jsBackend(sched) : nativeBackend(sched);
  }

  it.each([
    ['mnist-mlp', 'js'],
    ['mnist-mlp', 'native'],
    ['mnist-resnet', 'native'],
  ] as const)('%s trains to the same bits fused and unfused on %s', async (example, target) => {
    const { default: model } = (await import(`../examples/${example}.ts`)) as { default: ModelDefinition };
    const compiled = compileDefinition(model, { batch: 24 });
    const graphs = compiled.graphs.map((g) => ({ name: g.name, graph: g.graph }));
    const roles = inputRoles(compiled.spec);
    const fused = schedule(graphs, roles, [], { fuse: true });
    const unfused = schedule(graphs, roles, [], { fuse: false });
    expect(allKernels(fused).length).toBeLessThan(allKernels(unfused).length);
    const [a, b] = await Promise.all([open(target, fused), open(target, unfused)]);
    try {
      const got = trainTwice(a, fused);
      const want = trainTwice(b, unfused);
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const [name, values] of Object.entries(want)) {
        expect(values.some((v) => Number.isNaN(v)), name).toBe(false);
        expect(Buffer.from(got[name].buffer).equals(Buffer.from(values.buffer)), name).toBe(true);
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  }, 300_000);
});
