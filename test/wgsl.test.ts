/**
 * The WGSL target on a real WebGPU implementation (Dawn from the `webgpu` package; Mesa's
 * lavapipe where there is no GPU): every graph of test/backend-corpus.ts, and some that
 * stress the WGSL kernels' own structure (tiles, workgroup trees, 2-D grids), is rendered
 * by compiler/codegen/render/wgsl.ts, run by runtime/backends/webgpu.ts and compared with the
 * float64 reference within the float32 bound of WGSL's stated accuracy (WGSL_ERROR_MODEL in
 * test/float32-bound.ts: exp, log, tanh, pow and division are looser than libm).
 *
 * All graphs are merged into one schedule and every program is prepared at once, so the
 * pipelines compile concurrently.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strictDiagnostics } from './typecheck.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { evaluate } from '../ir/evaluate.ts';
import { printGraph } from '../ir/print.ts';
import { schedule } from '../compiler/schedule.ts';
import type { MapKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import {
  MAX_WORKGROUPS_PER_DIMENSION,
  WGSL_FILE_NAME,
  renderWgsl,
  wgslFloatLiteral,
} from '../compiler/codegen/render/wgsl.ts';
import type { WgslKernel } from '../artifact/kernels.ts';
import { createWebGpuBackend } from '../runtime/backends/webgpu.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';
import type { Case, ScheduleTarget } from './backend-corpus.ts';
import {
  corpusCases,
  largeProductCases,
  makeCase,
  mergeSchedules,
  mismatches,
  openScheduleTarget,
  runScheduleProgram,
} from './backend-corpus.ts';
import { WGSL_ERROR_MODEL } from './float32-bound.ts';
import { fusedUnfusedDifferences, fusionCases, reductionFusionCases, rowFusionCases } from './fusion-cases.ts';

// ---- graphs beyond the shared corpus ----

const ALL_LAYOUTS = [[false, false], [false, true], [true, false], [true, true]] as const;

/**
 * Products over several tiles with ragged edges: blocked (131x197), tiled with each register
 * block shape it has (4x2, 1x4, 2x4, 4x1), and small ones (one invocation per output) including
 * 1-row and 1-column results. The corpus's large products (`largeProductCases`) cover the
 * blocked kernel further. Each tiled kernel takes up to a second to compile on lavapipe, hence
 * the few.
 */
function tiledMatmulCases(): Case[] {
  const sizes: [number, number, number, readonly (readonly [boolean, boolean])[]][] = [
    [131, 197, 45, [[false, false], [true, true]]],
    [131, 24, 100, ALL_LAYOUTS],
    [16, 300, 100, [[false, false], [true, true]]],
    [30, 1000, 20, [[true, false]]],
    [300, 5, 200, [[false, true]]],
    [1, 300, 20, ALL_LAYOUTS],
    [300, 1, 20, ALL_LAYOUTS],
    [40, 24, 17, ALL_LAYOUTS],
  ];
  const cases: Case[] = [];
  for (const [m, n, k, layouts] of sizes) {
    for (const [transA, transB] of layouts) {
      {
        cases.push(
          makeCase(`tiled matmul ${m}x${n}x${k} transA=${transA} transB=${transB}`, (t) => {
            const a = t.input('a', transA ? [k, m] : [m, k]);
            const b = t.input('b', transB ? [n, k] : [k, n]);
            return { y: t.b.matmul(a, b, transA, transB) };
          }),
        );
      }
    }
  }
  return cases;
}

/** Each reduction layout: serial, a tree along contiguous rows, a tree across columns. */
function treeReductionCases(): Case[] {
  const specs: [string, number[], number[]][] = [
    ['sum', [3000, 5], [1]],
    ['max', [3000, 5], [1]],
    ['sum', [40, 1000], [0]],
    ['max', [40, 1000], [0]],
    ['sum', [7, 3000], [1]],
    ['max', [3000, 7], [0]],
    ['sum', [30, 4, 50], [0, 2]],
    ['max', [30, 4, 50], [0, 2]],
    ['sum', [12, 20], [1]],
    ['max', [70, 17], [1]],
  ];
  return specs.map(([kind, shape, axes]) =>
    makeCase(`tree ${kind} [${shape}] axes [${axes}]`, ({ b, input }) => {
      const x = input('x', shape);
      return { y: kind === 'sum' ? b.sum(x, axes) : b.reduceMax(x, axes) };
    }),
  );
}

const corpus = corpusCases();
const cases: Case[] = [...corpus, ...tiledMatmulCases(), ...treeReductionCases()];

/** The large ones (and the tree reductions) again with at most 24 workgroups per dimension. */
const GRID_LIMIT = 24;
const gridCases = cases.filter((c) => /parallel|^tree /.test(c.name));

function mergedSchedule(list: readonly Case[]): Schedule {
  return mergeSchedules(list.map((c, i) => schedule([{ name: `g${i}`, graph: c.graph }], {})));
}

const merged = mergedSchedule(cases);
const gridMerged = mergedSchedule(gridCases);
const meta = { modelName: 'wgsl-equivalence', buildId: 'test' };
const source = renderWgsl(merged, meta);
const gridSource = renderWgsl(gridMerged, { ...meta, maxWorkgroupsPerDimension: GRID_LIMIT });

const dir = mkdtempSync(join(tmpdir(), 'gradc-wgsl-'));
const wgslFile = join(dir, WGSL_FILE_NAME);
const gridFile = join(dir, `grid-${WGSL_FILE_NAME}`);

interface Target extends ScheduleTarget {
  readonly kernels: Readonly<Record<string, WgslKernel>>;
}

let device: GPUDevice;
let main: Target;
let grid: Target;
const warnings: string[] = [];

async function importKernels(file: string, text: string) {
  writeFileSync(file, text);
  const module = (await import(pathToFileURL(file).href)) as {
    wgslKernels: Readonly<Record<string, WgslKernel>>;
  };
  return module.wgslKernels;
}

/** Allocates every buffer of `schedule` and prepares all its programs concurrently. */
async function openTarget(schedule: Schedule, kernels: Target['kernels']): Promise<Target> {
  const backend = createWebGpuBackend(device, kernels, { onWarning: (w) => warnings.push(w) });
  return { ...(await openScheduleTarget(backend, schedule)), kernels };
}

beforeAll(async () => {
  device = (await requestNodeGpuDevice()) as GPUDevice;
  const [kernels, gridKernels] = await Promise.all([
    importKernels(wgslFile, source),
    importKernels(gridFile, gridSource),
  ]);
  [main, grid] = await Promise.all([
    openTarget(merged, kernels),
    openTarget(gridMerged, gridKernels),
  ]);
});

afterAll(() => {
  main?.backend.dispose();
  grid?.backend.dispose();
  device?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const runProgram = runScheduleProgram;

const named = (list: readonly Case[]) =>
  list.map((c, i) => ({ c, i, name: c.name.slice(0, 90) }));

describe('WGSL kernels on WebGPU match the float64 reference', () => {
  it.each(named(cases))('$name', async ({ c, i }) => {
    const got = await runProgram(main, merged.programs[i], i, c.feeds);
    const problems = mismatches(c, got, WGSL_ERROR_MODEL);
    expect(problems, `${c.name}\n${printGraph(c.graph)}`).toEqual([]);
  });

  it('renders literals exactly (bit for bit)', async () => {
    let checked = 0;
    for (const [i, c] of cases.entries()) {
      if (!c.name.startsWith('literal ')) continue;
      const value = c.graph.nodes[c.graph.outputs.y].attrs.value as number;
      const got = (await runProgram(main, merged.programs[i], i, c.feeds)).y;
      expect(Object.is(got[0], Math.fround(value)), `${value} came back as ${got[0]}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('compiles every kernel without warnings', () => {
    expect(warnings).toEqual([]);
  });
});

describe(`2-D grids (at most ${GRID_LIMIT} workgroups per dimension)`, () => {
  it('are used', () => {
    const kernels = Object.values(grid.kernels);
    expect(kernels.filter((k) => k.workgroups[1] > 1).length).toBeGreaterThanOrEqual(4);
  });

  it.each(named(gridCases))('$name', async ({ c, i }) => {
    const got = await runProgram(grid, gridMerged.programs[i], i, c.feeds);
    expect(mismatches(c, got, WGSL_ERROR_MODEL), c.name).toEqual([]);
  });
});

describe('fusion on WebGPU', () => {
  /** Opens schedules rendered as WGSL, each from a module file of its own named after `prefix`. */
  const openRendered = (prefix: string) => {
    let file = 0;
    return async (sched: Schedule) =>
      openTarget(sched, await importKernels(join(dir, `${prefix}-${file++}.ts`), renderWgsl(sched, meta)));
  };

  it('gives bit-identical results fused and unfused (random products with elementwise chains)', async () => {
    const open = openRendered('fusion');
    expect(await fusedUnfusedDifferences(fusionCases(24), open)).toEqual([]);
  }, 120_000);

  it('gives bit-identical results fused and unfused (blocked and tiled products, epilogues)', async () => {
    const open = openRendered('large-fusion');
    const large = largeProductCases().filter((c) => /epilogue|in-place|convolution/.test(c.name));
    const tiled = makeCase('tiled epilogue: leaky relu(x · wᵀ + bias), 300x24x100', ({ b, input }) => {
      const product = b.matmul(input('x', [300, 100]), input('w', [24, 100]), false, true);
      const p = b.add(product, input('bias', [24]));
      return { y: b.where(b.less(p, b.fill(0, [])), b.mul(p, b.fill(Math.fround(0.1), [])), p) };
    });
    expect(large.length).toBeGreaterThanOrEqual(5);
    expect(await fusedUnfusedDifferences([...large, tiled], open)).toEqual([]);
  }, 120_000);

  it('gives bit-identical results fused and unfused (random reductions with elementwise chains)', async () => {
    const open = openRendered('reduction-fusion');
    expect(await fusedUnfusedDifferences(reductionFusionCases(24), open)).toEqual([]);
  }, 120_000);

  it('gives bit-identical results fused and unfused (random work on short rows: row kernels, prologues)', async () => {
    const open = openRendered('row-fusion');
    expect(await fusedUnfusedDifferences(rowFusionCases(24), open)).toEqual([]);
  }, 120_000);
});

describe('WGSL semantics', () => {
  it('maximum and reduce_max propagate NaN like Math.max; less, equal false on NaN', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 4]);
    const y = b.input('y', [2, 4]);
    const graph = b.finish({
      max: b.maximum(x, y),
      rowMax: b.reduceMax(x, [1]),
      less: b.less(x, y),
      equal: b.equal(x, y),
    });
    const feeds = {
      x: Float32Array.of(NaN, 1, 2, -1, 0, 5, NaN, 3),
      y: Float32Array.of(1, NaN, 1, -2, 0, 6, NaN, 3),
    };
    const one = mergedSchedule([{ name: 'nan', graph, feeds }]);
    const kernels = await importKernels(join(dir, 'nan.ts'), renderWgsl(one, meta));
    const target = await openTarget(one, kernels);
    try {
      const got = await runProgram(target, one.programs[0], 0, feeds);
      const want = evaluate(graph, feeds);
      for (const [name, id] of Object.entries(graph.outputs)) {
        expect(Array.from(got[name]), name).toEqual(Array.from(want.get(id)!));
      }
    } finally {
      target.backend.dispose();
    }
  });

  it('writes inf, NaN and -0 through a function call, not as constant expressions', () => {
    expect(wgslFloatLiteral(Infinity)).toBe('gradc_bits(0x7f800000u)');
    expect(wgslFloatLiteral(-Infinity)).toBe('gradc_bits(0xff800000u)');
    expect(wgslFloatLiteral(NaN)).toBe('gradc_bits(0x7fc00000u)');
    expect(wgslFloatLiteral(-0)).toBe('gradc_bits(0x80000000u)');
    expect(wgslFloatLiteral(1)).toBe('1.0');
    expect(wgslFloatLiteral(-2.5)).toBe('(-2.5)');
    expect(wgslFloatLiteral(3.4028234663852886e38)).toBe('3.4028234663852886e+38');
  });
});

// ---- the generated module ----

/**
 * Bytes of the `var<workgroup>` variables a module declares: arrays of f32 or vec4<f32>, and the
 * atomic zero of `gradc_stored`.
 */
function workgroupBytes(code: string): number {
  const declared = code.match(/var<workgroup>/g)?.length ?? 0;
  const arrays = [...code.matchAll(/var<workgroup> \w+: array<(f32|vec4<f32>), (\d+)>/g)];
  const atomics = [...code.matchAll(/var<workgroup> \w+: atomic<u32>;/g)];
  expect(arrays.length + atomics.length, 'workgroup variables that are arrays of f32 or vec4<f32>, or an atomic').toBe(declared);
  return arrays.reduce((bytes, m) => bytes + (m[1] === 'f32' ? 4 : 16) * Number(m[2]), 4 * atomics.length);
}

function invocations(code: string): number {
  const m = /@workgroup_size\(([^)]*)\)/.exec(code);
  return m ? m[1].split(',').reduce((p, d) => p * Number(d), 1) : 0;
}

describe('the generated module', () => {
  it('stays within WebGPU default limits in every kernel', () => {
    for (const [name, kernel] of Object.entries(main.kernels)) {
      const bindings = kernel.code.match(/@binding\(/g)?.length ?? 0;
      expect(bindings, name).toBeLessThanOrEqual(8);
      expect(workgroupBytes(kernel.code), name).toBeLessThanOrEqual(16384);
      expect(invocations(kernel.code), name).toBeLessThanOrEqual(256);
      for (const n of kernel.workgroups) {
        expect(n, name).toBeLessThanOrEqual(MAX_WORKGROUPS_PER_DIMENSION);
      }
    }
  });

  it('type-checks under strict settings', () => {
    expect(strictDiagnostics([wgslFile])).toEqual([]);
  }, 60_000);

  it('is deterministic, and every line fits in 100 columns but the DSL lines', () => {
    expect(renderWgsl(merged, meta)).toBe(source);
    const long = source.split('\n').filter((l) => l.length > 100 && !/"|^\/\//.test(l.trim()));
    expect(long).toEqual([]);
  });

  it('refuses a kernel that binds more storage buffers than WebGPU allows by default', () => {
    const wide: MapKernel = {
      kind: 'map',
      name: 'train_007_map',
      inputs: [0, 1, 2, 3, 4, 5, 6, 7],
      output: 8,
      size: 4,
      sources: ['%12 add  model.ts:3:4 wide'],
      expr: { op: 'load', input: 7 },
    };
    const buffers = Array.from({ length: 9 }, (_, id) => ({
      id,
      name: `b${id}`,
      shape: [4],
      size: 4,
      role: 'temp' as const,
      storage: id,
    }));
    const program = { name: 'train', kernels: [wide], feeds: [], outputs: [] };
    const attempt = () => renderWgsl({ buffers, programs: [program] }, meta);
    expect(attempt).toThrow(/kernel train_007_map reads 8 buffers.*at most 7 inputs/);
    expect(attempt).toThrow(/model\.ts:3:4 wide/);
  });
});

// ---- errors ----

describe('WebGPU backend errors', () => {
  const broken: WgslKernel = {
    code: [
      '@group(0) @binding(0) var<storage, read_write> out: array<f32>;',
      '@compute @workgroup_size(1)',
      'fn main() {',
      '  out[0] = no_such_function(1.0);',
      '}',
    ].join('\n'),
    entryPoint: 'main',
    workgroups: [1, 1, 1],
    sources: ['%3 exp  examples/model.ts:12:7 dense'],
  };

  it('reports a WGSL compile error with the kernel name and its DSL line', async () => {
    const backend = createWebGpuBackend(device, { bad_kernel: broken });
    const out = backend.allocate(1);
    const attempt = backend.prepare([{ kernel: 'bad_kernel', args: [out] }]);
    await expect(attempt).rejects.toThrow(/kernel bad_kernel does not compile/);
    await expect(attempt).rejects.toThrow(/no_such_function[\s\S]*examples\/model\.ts:12:7 dense/);
    backend.dispose();
  });

  it('names an unknown kernel', async () => {
    const backend = createWebGpuBackend(device, main.kernels);
    const out = backend.allocate(1);
    const attempt = backend.prepare([{ kernel: 'no_such_kernel', args: [out] }]);
    await expect(attempt).rejects.toThrow(/unknown kernel "no_such_kernel"/);
    backend.dispose();
  });

  it('names a launch with the wrong number of buffers', async () => {
    const [name, kernel] = Object.entries(main.kernels)[0];
    const backend = createWebGpuBackend(device, { [name]: kernel });
    const out = backend.allocate(1);
    const attempt = backend.prepare([{ kernel: name, args: [out] }]);
    await expect(attempt).rejects.toThrow(new RegExp(`kernel ${name} passes 1 buffers`));
    backend.dispose();
  });

  const fill: WgslKernel = {
    code: [
      '@group(0) @binding(0) var<storage, read_write> out: array<f32>;',
      '@compute @workgroup_size(1)',
      'fn main() {',
      '  out[0] = 7.0;',
      '}',
    ].join('\n'),
    entryPoint: 'main',
    // Past maxComputeWorkgroupsPerDimension: the dispatch fails validation on the GPU side.
    workgroups: [70000, 1, 1],
    sources: ['%1 fill  examples/model.ts:3:1 seven'],
  };

  it('reports an error the GPU found in a run at the next call', async () => {
    const backend = createWebGpuBackend(device, { too_wide: fill });
    const out = backend.allocate(1);
    const program = await backend.prepare([{ kernel: 'too_wide', args: [out] }]);
    program.run();
    await expect(backend.download(out)).rejects.toThrow(/GPU reported an error/);
    expect((await backend.download(out))[0]).toBe(0);
    backend.dispose();
  });

  it('names the program of a failed run in debug mode', async () => {
    const backend = createWebGpuBackend(device, { too_wide: fill }, { debug: true });
    const out = backend.allocate(1);
    const program = await backend.prepare([{ kernel: 'too_wide', args: [out] }]);
    program.run();
    await expect(backend.download(out)).rejects.toThrow(/running .*\(too_wide\) failed/);
    backend.dispose();
  });

  it('rejects downloads with "device was lost" once the device is destroyed', async () => {
    const own = await requestNodeGpuDevice();
    const backend = createWebGpuBackend(own, main.kernels);
    const buffer = backend.allocate(1 << 16);
    backend.upload(buffer, new Float32Array(1 << 16).fill(1));
    expect((await backend.download(buffer))[0]).toBe(1);
    const inFlight = backend.download(buffer);
    own.destroy();
    await expect(inFlight).rejects.toThrow(/device was lost/);
    await expect(backend.download(buffer)).rejects.toThrow(/device was lost/);
    expect(() => backend.upload(buffer, new Float32Array(1 << 16))).toThrow(/device was lost/);
    backend.dispose();
  });
});
