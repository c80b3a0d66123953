/**
 * The CUDA target's host side, without a GPU: `gradc build --target cuda` runs nvcc and
 * records what kernels.fatbin was built from; the runtime uses that fatbin, recompiles a stale
 * or missing one with nvcc into its cache, or says how to build it; and the generated glue
 * opens the CUDA backend through a recording stand-in driver (test/fixtures/
 * cuda-recording-driver.c), which checks what a real driver would get: a fatbin holding every
 * kernel looked up, the uploads, and launches with the shapes of kernels-cuda.ts on the buffers
 * of the artifact's launch lists, captured once into a graph and replayed.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../compiler/build.ts';
import type { Artifact } from '../artifact/format.ts';
import type { CudaBuild, CudaKernel } from '../artifact/kernels.ts';
import {
  CudaCompileError,
  FATBIN_FILE,
  FATBIN_RECORD_FILE,
  loadCudaImage,
  nvccFlags,
} from '../artifact/cuda-compile.ts';
import type { ModelInstance } from '../runtime/model.ts';
import type { OpenOptions } from '../runtime/open.ts';

const ROOT = resolve('.cache', 'cuda-runtime-test');
const TINY = 'test/fixtures/tiny-mlp.ts';
const FATBIN_MAGIC = [0x50, 0xed, 0x55, 0xba];
const NO_NVCC = ['/nonexistent/bin/nvcc'];

interface Glue {
  readonly artifact: Artifact;
  createTinyMlp(backend: 'js' | 'cuda', options?: OpenOptions): Promise<ModelInstance>;
}

interface CudaModule {
  readonly cudaKernels: Readonly<Record<string, CudaKernel>>;
  readonly cudaBuild: CudaBuild;
}

let outDir: string;
let files: readonly { path: string; changed: boolean }[];
const scratchDirs: string[] = [];

/** A fresh folder under ROOT, removed after the tests. */
function scratch(prefix: string): string {
  mkdirSync(ROOT, { recursive: true });
  const dir = mkdtempSync(join(ROOT, prefix));
  scratchDirs.push(dir);
  return dir;
}

beforeAll(async () => {
  outDir = scratch('tiny-mlp-');
  ({ files } = await buildModel(TINY, { targets: ['js', 'cuda'], outDir }));
}, 120_000);

afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

async function cudaModule(dir: string): Promise<CudaModule> {
  return import(pathToFileURL(join(dir, 'kernels-cuda.js')).href);
}

/** A copy of the built model's CUDA files in a fresh folder, to change them there. */
function copyBuild(...names: string[]): string {
  const dir = scratch('copy-');
  for (const name of ['kernels.cu', 'kernels-cuda.js', ...names]) {
    copyFileSync(join(outDir, name), join(dir, name));
  }
  return dir;
}

describe('gradc build --target cuda', () => {
  it('compiles kernels.cu with nvcc into kernels.fatbin, recording its source', async () => {
    const fatbin = readFileSync(join(outDir, FATBIN_FILE));
    expect([...fatbin.subarray(0, 4)]).toEqual(FATBIN_MAGIC);
    const record = JSON.parse(readFileSync(join(outDir, FATBIN_RECORD_FILE), 'utf8'));
    const { cudaBuild } = await cudaModule(outDir);
    expect(record.sourceHash).toBe(cudaBuild.sourceHash);
    expect(record.flags).toEqual(nvccFlags(['sm_80', 'sm_90']));
    expect(files.find((f) => f.path.endsWith(FATBIN_FILE))?.changed).toBe(true);
  });

  it('does not run nvcc again while kernels.cu and the architectures are unchanged', async () => {
    const again = await buildModel(TINY, { targets: ['js', 'cuda'], outDir });
    expect(again.files.filter((f) => f.changed)).toEqual([]);
  }, 60_000);

  it('records other architectures in kernels-cuda.ts and builds the fatbin for them', async () => {
    const dir = scratch('archs-');
    const result = await buildModel(TINY, {
      targets: ['cuda'],
      outDir: dir,
      cudaArchs: ['sm_90', 'sm_86'],
    });
    expect((await cudaModule(dir)).cudaBuild.archs).toEqual(['sm_86', 'sm_90']);
    expect(result.files.map((f) => f.path.split('/').pop())).toContain(FATBIN_FILE);
    const record = JSON.parse(readFileSync(join(dir, FATBIN_RECORD_FILE), 'utf8'));
    expect(record.flags).toContain('-gencode=arch=compute_86,code=sm_86');
  }, 60_000);

  it('writes only the text files with compileCuda: false (what build:examples does)', async () => {
    const dir = scratch('text-');
    await buildModel(TINY, { targets: ['cuda'], outDir: dir, compileCuda: false });
    expect(existsSync(join(dir, 'kernels.cu'))).toBe(true);
    expect(existsSync(join(dir, FATBIN_FILE))).toBe(false);
  });
});

describe('the image the CUDA backend loads', () => {
  const imageOf = async (dir: string, nvcc?: readonly string[]) =>
    loadCudaImage({
      sourceUrl: pathToFileURL(join(dir, 'kernels.cu')),
      build: (await cudaModule(dir)).cudaBuild,
      cacheDir: join(dir, 'cache'),
      ...(nvcc ? { nvcc } : {}),
    });

  it('is kernels.fatbin when it was built from this kernels.cu', async () => {
    const dir = copyBuild(FATBIN_FILE, FATBIN_RECORD_FILE);
    const image = await imageOf(dir, NO_NVCC);
    expect(Buffer.from(image).equals(readFileSync(join(outDir, FATBIN_FILE)))).toBe(true);
  });

  it('is kernels.cu compiled again when the fatbin was built from another source', async () => {
    const dir = copyBuild(FATBIN_FILE, FATBIN_RECORD_FILE);
    const record = JSON.parse(readFileSync(join(dir, FATBIN_RECORD_FILE), 'utf8'));
    const other = { ...record, sourceHash: '0'.repeat(64) };
    writeFileSync(join(dir, FATBIN_RECORD_FILE), JSON.stringify(other));
    writeFileSync(join(dir, FATBIN_FILE), 'not a fatbin');
    const image = await imageOf(dir);
    expect([...image.subarray(0, 4)]).toEqual(FATBIN_MAGIC);
    expect(existsSync(join(dir, 'cache'))).toBe(true);
  }, 60_000);

  it('explains how to build it when the fatbin is missing and there is no nvcc', async () => {
    const dir = copyBuild();
    const attempt = imageOf(dir, NO_NVCC);
    await expect(attempt).rejects.toThrow(CudaCompileError);
    await expect(attempt).rejects.toThrow(
      /not compiled \(kernels\.fatbin is missing\), and nvcc was not found .*nonexistent.*`gradc build <model\.ts> --target cuda`/s,
    );
  });

  it('refuses a kernels.cu that is not the one kernels-cuda.ts was generated with', async () => {
    const dir = copyBuild(FATBIN_FILE, FATBIN_RECORD_FILE);
    writeFileSync(join(dir, 'kernels.cu'), `${readFileSync(join(dir, 'kernels.cu'), 'utf8')}\n`);
    await expect(imageOf(dir)).rejects.toThrow(
      /is not the kernels\.cu its kernels-cuda\.ts was generated with/,
    );
  });
});

// ---- the glue module on a recording stand-in driver ----

const DRIVER_SOURCE = resolve('test/fixtures/cuda-recording-driver.c');

function buildRecordingDriver(): string {
  const library = join(ROOT, 'libcuda-recording.so');
  const flags = ['-shared', '-fPIC', '-O1', '-Wall', '-Wextra', '-Werror'];
  execFileSync('cc', [...flags, '-o', library, DRIVER_SOURCE]);
  return library;
}

interface Recorded {
  readonly name: string;
  readonly grid: number[];
  readonly block: number[];
  readonly sharedBytes: number;
  readonly pointers: bigint[];
}

function recorder(library: string) {
  const lib = koffi.load(library);
  const setArity = lib.func('void gradc_fake_set_arity(const char *name, int arity)');
  const count = lib.func('int gradc_fake_launch_count(void)');
  const graphLaunches = lib.func('int gradc_fake_graph_launches(void)');
  const allocation = lib.func('uint64_t gradc_fake_allocation(int i)');
  const read = lib.func('void gradc_fake_read(uint64_t src, _Out_ float *dst, size_t count)');
  const launch = lib.func(
    'int gradc_fake_launch(int i, _Out_ char *name, _Out_ unsigned int *dims, ' +
      '_Out_ uint64_t *pointers)',
  );
  return {
    setArity: (name: string, arity: number) => setArity(name, arity),
    graphLaunches: () => graphLaunches() as number,
    allocation: (i: number) => BigInt(allocation(i) as number | bigint),
    read(address: bigint, count: number): Float32Array {
      const out = new Float32Array(count);
      read(address, out, count);
      return out;
    },
    launches(): Recorded[] {
      return Array.from({ length: count() as number }, (_, i) => {
        const name = Buffer.alloc(64);
        const dims = new Uint32Array(7);
        const pointers = new BigUint64Array(16);
        const params = launch(i, name, dims, pointers) as number;
        return {
          name: name.toString('utf8').replace(/\0.*$/s, ''),
          grid: [...dims.subarray(0, 3)],
          block: [...dims.subarray(3, 6)],
          sharedBytes: dims[6],
          pointers: [...pointers.subarray(0, params)],
        };
      });
    },
  };
}

describe('the glue module on the CUDA backend (recording stand-in driver)', () => {
  let glue: Glue;
  let kernels: CudaModule['cudaKernels'];
  let driver: ReturnType<typeof recorder>;
  let model: ModelInstance;
  const feeds = {
    x: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)),
    y: Float32Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
  };

  beforeAll(async () => {
    const library = buildRecordingDriver();
    driver = recorder(library);
    glue = await import(pathToFileURL(join(outDir, 'model.js')).href);
    ({ cudaKernels: kernels } = await cudaModule(outDir));
    for (const p of glue.artifact.programs) {
      for (const l of p.launches) driver.setArity(l.kernel, l.args.length);
    }
    model = await glue.createTinyMlp('cuda', { cuda: { driverLibraries: [library] } });
  }, 60_000);

  afterAll(() => model?.dispose());

  it('uploads the initial parameters that the JS backend has', async () => {
    const js = await glue.createTinyMlp('js');
    try {
      expect(await model.snapshot()).toEqual(await js.snapshot());
    } finally {
      js.dispose();
    }
  });

  it('launches the train program: kernels-cuda.ts shapes, the launch lists’ buffers', async () => {
    await model.trainStep(feeds);
    await model.trainStep(feeds);
    const train = glue.artifact.programs.find((p) => p.name === 'train')!;
    const launches = driver.launches();
    expect(launches.map((l) => l.name)).toEqual(
      [...train.launches, ...train.launches].map((l) => l.kernel),
    );
    // The runtime allocates one device buffer per storage, in storage order.
    launches.forEach((recorded, i) => {
      const expected = train.launches[i % train.launches.length];
      const { grid, block } = kernels[expected.kernel];
      expect(recorded).toEqual({
        name: expected.kernel,
        grid: [...grid],
        block: [...block],
        sharedBytes: 0,
        pointers: expected.args.map((id) => driver.allocation(glue.artifact.buffers[id].storage)),
      });
    });
    // Captured into a graph on the first run, replayed on the second.
    expect(driver.graphLaunches()).toBe(2);
  });

  it('uploads each step’s data where the launches read it', async () => {
    const train = glue.artifact.programs.find((p) => p.name === 'train')!;
    const x = train.feeds.find((f) => f.name === 'x')!;
    expect(driver.read(driver.allocation(glue.artifact.buffers[x.buffer].storage), feeds.x.length)).toEqual(feeds.x);
  });
});
