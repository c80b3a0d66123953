/**
 * The CUDA target without a GPU: every kernels.cu checked in under generated/ and the whole
 * backend-equivalence corpus (test/backend-corpus.ts) render and compile with nvcc for sm_80
 * and sm_90 with every warning an error, spills and local memory included; ptxas's resource
 * report and the launch shapes of kernels-cuda.ts stay within what a launch may ask for; the
 * kernels named in kernels-cuda.ts are exactly the `extern "C"` kernels of kernels.cu.
 * Running the kernels is `npm run test:gpu` (test-gpu/), on a machine with an NVIDIA GPU.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strictDiagnostics } from './typecheck.ts';
import { schedule } from '../compiler/schedule.ts';
import {
  CUDA_MODULE_FILE,
  CUDA_SOURCE_FILE,
  MAX_GRID_X,
  MAX_GRID_YZ,
  MAX_STATIC_SHARED_BYTES,
  MAX_THREADS_PER_BLOCK,
  cudaFloatLiteral,
  renderCuda,
} from '../compiler/codegen/render/cuda.ts';
import type { RenderedCuda } from '../compiler/codegen/render/cuda.ts';
import { moduleBaseName } from '../compiler/codegen/emit-js.ts';
import type { CudaBuild, CudaKernel } from '../artifact/kernels.ts';
import {
  DEFAULT_CUDA_ARCHS,
  compileFatbin,
  cudaSourceHash,
  requireNvcc,
} from '../artifact/cuda-compile.ts';
import type { Nvcc } from '../artifact/cuda-compile.ts';
import { corpusCases, mergeSchedules } from './backend-corpus.ts';
import { EXAMPLES } from './examples.ts';

/**
 * Warnings of every nvcc stage as errors, the host compiler's -Wall -Wextra, ptxas warning
 * about spills and local memory, and ptxas's per-kernel resource report.
 */
const STRICT_FLAGS = [
  '-Werror',
  'all-warnings',
  '-Xcompiler',
  '-Wall,-Wextra',
  '-Xptxas',
  '-warn-spills,-warn-lmem-usage',
  '--resource-usage',
];

/** The first bytes of a fatbin: its magic number 0xBA55ED50, little-endian. */
const FATBIN_MAGIC = [0x50, 0xed, 0x55, 0xba];

/** Registers of one multiprocessor; a block may not need more. */
const REGISTERS_PER_BLOCK = 65536;

const dir = mkdtempSync(join(tmpdir(), 'gradc-cuda-'));
let nvcc: Nvcc;

/** ptxas's report on one kernel for one architecture. */
interface Resources {
  readonly kernel: string;
  readonly arch: string;
  readonly registers: number;
  readonly sharedBytes: number;
  readonly stackBytes: number;
  readonly spillBytes: number;
}

/** Parses `--resource-usage` output: one record per kernel and architecture. */
function parseResources(output: string): Resources[] {
  const blocks = output.split(/^ptxas info\s*: Compiling entry function /m).slice(1);
  return blocks.map((block) => {
    const [, kernel, arch] = /^'(\w+)' for '(\w+)'/.exec(block)!;
    const number = (pattern: RegExp) => Number(pattern.exec(block)?.[1] ?? 0);
    return {
      kernel,
      arch,
      registers: number(/Used (\d+) registers/),
      sharedBytes: number(/(\d+) bytes smem/),
      stackBytes: number(/(\d+) bytes stack frame/),
      spillBytes: number(/(\d+) bytes spill stores/) + number(/(\d+) bytes spill loads/),
    };
  });
}

interface Compiled {
  readonly fatbin: Uint8Array;
  readonly resources: readonly Resources[];
  readonly seconds: number;
}

/** Compiles a CUDA source for sm_80 and sm_90 (one nvcc call) with the strict flags. */
function compileStrict(name: string, source: string): Compiled {
  const cuFile = join(dir, `${name}.cu`);
  const output = join(dir, `${name}.fatbin`);
  writeFileSync(cuFile, source);
  const started = performance.now();
  const printed = compileFatbin({
    cuFile,
    output,
    archs: DEFAULT_CUDA_ARCHS,
    nvcc,
    extraFlags: STRICT_FLAGS,
  });
  const seconds = (performance.now() - started) / 1000;
  return { fatbin: readFileSync(output), resources: parseResources(printed), seconds };
}

/** The `extern "C"` kernels of a CUDA source, with the block size of their launch bounds. */
function externKernels(source: string): Map<string, number> {
  const pattern = /^extern "C" __global__ void __launch_bounds__\((\d+)\) (\w+)\(/gm;
  return new Map([...source.matchAll(pattern)].map((m) => [m[2], Number(m[1])]));
}

/** Every way a launch shape could exceed what CUDA allows, or disagree with the source. */
function launchProblems(
  records: Readonly<Record<string, CudaKernel>>,
  source: string,
  resources: readonly Resources[],
): string[] {
  const bounds = externKernels(source);
  const problems: string[] = [];
  for (const [name, { grid, block, sharedBytes }] of Object.entries(records)) {
    const threads = block[0] * block[1] * block[2];
    if (threads > MAX_THREADS_PER_BLOCK) problems.push(`${name}: ${threads} threads per block`);
    if (block[2] > 64) problems.push(`${name}: block z ${block[2]}`);
    if (grid[0] > MAX_GRID_X) problems.push(`${name}: grid x ${grid[0]}`);
    if (grid[1] > MAX_GRID_YZ || grid[2] > MAX_GRID_YZ) problems.push(`${name}: grid ${grid}`);
    if ([...grid, ...block].some((d) => !Number.isInteger(d) || d < 1)) {
      problems.push(`${name}: grid ${grid}, block ${block}`);
    }
    if (sharedBytes !== 0) problems.push(`${name}: ${sharedBytes} bytes of dynamic shared memory`);
    if (bounds.get(name) !== threads) {
      problems.push(`${name}: launch bounds ${bounds.get(name)} but ${threads} threads`);
    }
    for (const r of resources.filter((r) => r.kernel === name)) {
      if (r.sharedBytes > MAX_STATIC_SHARED_BYTES) {
        problems.push(`${name} (${r.arch}): ${r.sharedBytes} bytes of shared memory`);
      }
      if (r.registers * threads > REGISTERS_PER_BLOCK) {
        problems.push(`${name} (${r.arch}): ${r.registers} registers x ${threads} threads`);
      }
      if (r.stackBytes + r.spillBytes > 0) problems.push(`${name} (${r.arch}): local memory`);
    }
  }
  return problems;
}

/** Each kernel reported by ptxas once per architecture. */
function expectReportedForEachArch(resources: readonly Resources[], names: readonly string[]) {
  for (const arch of DEFAULT_CUDA_ARCHS) {
    const reported = resources.filter((r) => r.arch === arch).map((r) => r.kernel);
    expect(reported.sort(), arch).toEqual([...names].sort());
  }
}

beforeAll(() => {
  nvcc = requireNvcc();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---- the checked-in examples ----

describe.each(EXAMPLES.filter((e) => e.targets.includes('cuda')))('generated/$name', (example) => {
  const outDir = resolve('generated', example.name);
  const source = readFileSync(join(outDir, CUDA_SOURCE_FILE), 'utf8');
  let compiled: Compiled;
  let module: { cudaKernels: Readonly<Record<string, CudaKernel>>; cudaBuild: CudaBuild };

  beforeAll(async () => {
    compiled = compileStrict(example.name, source);
    const seconds = compiled.seconds.toFixed(1);
    console.log(`nvcc: ${example.name}/kernels.cu for sm_80 + sm_90 in ${seconds} s`);
    // gradc build writes kernels-cuda.ts as JavaScript (kernels-cuda.js) and declarations.
    module = await import(pathToFileURL(join(outDir, `${moduleBaseName(CUDA_MODULE_FILE)}.js`)).href);
  }, 120_000);

  it('compiles with nvcc for sm_80 and sm_90, warnings as errors, into a fatbin', () => {
    expect([...compiled.fatbin.subarray(0, 4)]).toEqual(FATBIN_MAGIC);
    expectReportedForEachArch(compiled.resources, Object.keys(module.cudaKernels));
  });

  it('names exactly the extern "C" kernels of kernels.cu in kernels-cuda.ts', () => {
    const names = [...externKernels(source).keys()];
    expect(Object.keys(module.cudaKernels).sort()).toEqual(names.sort());
    expect(names.length).toBeGreaterThan(0);
  });

  it('records the hash of kernels.cu and the default architectures', () => {
    const sourceHash = cudaSourceHash(source);
    expect(module.cudaBuild).toEqual({ sourceHash, archs: ['sm_80', 'sm_90'] });
  });

  it('launches within CUDA limits and within each kernel’s launch bounds', () => {
    expect(launchProblems(module.cudaKernels, source, compiled.resources)).toEqual([]);
  });
});

// ---- the backend-equivalence corpus ----

describe('the backend-equivalence corpus in CUDA C', () => {
  const cases = corpusCases();
  const merged = mergeSchedules(
    cases.map((c, i) => schedule([{ name: `g${i}`, graph: c.graph }], {})),
  );
  const meta = { modelName: 'cuda-corpus', buildId: 'test', archs: DEFAULT_CUDA_ARCHS };
  let rendered: RenderedCuda;
  let compiled: Compiled;

  beforeAll(() => {
    rendered = renderCuda(merged, meta);
    compiled = compileStrict('corpus', rendered.source);
    const kernels = Object.keys(rendered.kernels).length;
    const seconds = compiled.seconds.toFixed(1);
    console.log(`nvcc: corpus (${kernels} kernels) for sm_80 + sm_90 in ${seconds} s`);
  }, 120_000);

  it('compiles with nvcc for sm_80 and sm_90 in one call, warnings as errors', () => {
    expect([...compiled.fatbin.subarray(0, 4)]).toEqual(FATBIN_MAGIC);
    expectReportedForEachArch(compiled.resources, Object.keys(rendered.kernels));
  });

  it('uses each kernel shape: warps, columns and serial reductions, tiled and blocked products', () => {
    const { source } = rendered;
    expect(source).toMatch(/gradc_warp_sum\(acc\)/);
    expect(source).toMatch(/gradc_warp_max\(acc\)/);
    expect(source).toMatch(/partial\[warp \+ w\]/);
    expect(source).toMatch(/partial\[row \+ h\]\[col\]/);
    expect(source).toMatch(/for \(unsigned int r = 0u; r < \d+u; r\+\+\)/);
    for (const block of ['[1][1]', '[1][2]']) expect(source).toContain(`float acc${block} = {};`);
    expect(source).toContain('const float4 a4 = *reinterpret_cast<const float4 *>(&tileA[kk][threadIdx.y * 4u]);');
    expect(source).toMatch(/const unsigned int kBegin = blockIdx\.z \* \d+u;/);
    expect(source).toMatch(/in0\[p \* \d+u \+ i\]/);
    expect(source).toMatch(/in1\[j \* \d+u \+ p\]/);
  });

  it('launches within CUDA limits and within each kernel’s launch bounds', () => {
    expect(launchProblems(rendered.kernels, rendered.source, compiled.resources)).toEqual([]);
  });

  it('is deterministic, and every line but comments and DSL strings fits in 100 columns', () => {
    const again = renderCuda(merged, meta);
    expect(again.source).toBe(rendered.source);
    expect(again.module).toBe(rendered.module);
    const long = [rendered.source, rendered.module]
      .flatMap((text) => text.split('\n'))
      .filter((line) => line.length > 100 && !/"|^\s*\/\//.test(line));
    expect(long).toEqual([]);
  });

  it('writes a kernels-cuda.ts that type-checks under strict settings', () => {
    const file = join(dir, CUDA_MODULE_FILE);
    writeFileSync(file, rendered.module);
    expect(strictDiagnostics([file])).toEqual([]);
  }, 60_000);
});

describe('CUDA float literals', () => {
  it('are exact, and inf and NaN are written by their bits', () => {
    expect(cudaFloatLiteral(1)).toBe('1.0f');
    expect(cudaFloatLiteral(0.1)).toBe('0.1f');
    expect(cudaFloatLiteral(-2.5)).toBe('(-2.5f)');
    expect(cudaFloatLiteral(1e-45)).toBe('1e-45f');
    expect(cudaFloatLiteral(16777217)).toBe('16777216.0f');
    expect(cudaFloatLiteral(3.4028234663852886e38)).toBe('3.4028235e+38f');
    expect(cudaFloatLiteral(-0)).toBe('(-0.0f)');
    expect(cudaFloatLiteral(Infinity)).toBe('__uint_as_float(0x7f800000u)');
    expect(cudaFloatLiteral(-Infinity)).toBe('__uint_as_float(0xff800000u)');
    expect(cudaFloatLiteral(NaN)).toBe('__uint_as_float(0x7fc00000u)');
    expect(cudaFloatLiteral(1e39)).toBe('__uint_as_float(0x7f800000u)');
  });
});
