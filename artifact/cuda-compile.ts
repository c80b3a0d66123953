/**
 * nvcc for the CUDA target: the flags, finding nvcc, compiling kernels.cu into a fatbin, and
 * finding the image the CUDA backend loads. NVRTC is not used: `gradc build --target cuda`
 * runs nvcc and writes kernels.fatbin next to kernels.cu, with kernels.fatbin.json recording
 * which source and flags it was built from. When the backend opens, that fatbin is used if it
 * matches kernels-cuda.ts; otherwise kernels.cu is compiled again with nvcc, if there is one,
 * into a cache keyed by content (like the native backend's C libraries), else a CudaCompileError
 * says how to build it. Node-only.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CudaBuild } from './kernels.ts';
import { writeAtomically } from './atomic-file.ts';
import { gradcCacheDir } from './cache-dir.ts';

/** What `--cuda-arch` defaults to: Ampere (A100) and Hopper (H100, H200). */
export const DEFAULT_CUDA_ARCHS: readonly string[] = ['sm_80', 'sm_90'];

/** nvcc's output and its record, next to kernels.cu (neither is checked in). */
export const FATBIN_FILE = 'kernels.fatbin';
export const FATBIN_RECORD_FILE = 'kernels.fatbin.json';


/** nvcc is missing or rejected the source, or the fatbin is missing and cannot be made. */
export class CudaCompileError extends Error {
  constructor(
    message: string,
    readonly stderr = '',
  ) {
    super(message);
    this.name = 'CudaCompileError';
  }
}

/** SHA-256 of a CUDA source, hex: what kernels-cuda.ts records as `sourceHash`. */
export function cudaSourceHash(source: string): string {
  return createHash('sha256').update(source).digest('hex');
}

const ARCH = /^sm_(\d{2,3})$/;

/** `sm_80`, `sm_90`, `sm_120`: a real architecture nvcc can compile SASS for. */
export function isCudaArch(name: string): boolean {
  return ARCH.test(name);
}

/** The architectures by number, each once: ['sm_90', 'sm_80', 'sm_90'] → ['sm_80', 'sm_90']. */
export function normalizeArchs(archs: readonly string[]): string[] {
  for (const arch of archs) {
    if (!isCudaArch(arch)) {
      throw new CudaCompileError(`"${arch}" is not a CUDA architecture like sm_80 or sm_90`);
    }
  }
  const number = (arch: string) => Number(ARCH.exec(arch)![1]);
  return [...new Set(archs)].sort((a, b) => number(a) - number(b));
}

/**
 * `-gencode` flags: machine code (SASS) for each architecture, and PTX of the highest, which
 * the driver compiles for GPUs newer than all of them. ['sm_80', 'sm_90'] →
 * `-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=sm_90
 * -gencode=arch=compute_90,code=compute_90`.
 */
export function gencodeFlags(archs: readonly string[]): string[] {
  const sorted = normalizeArchs(archs);
  if (sorted.length === 0) throw new CudaCompileError('no CUDA architecture to compile for');
  const flags = sorted.map((arch) => `-gencode=arch=${virtualArch(arch)},code=${arch}`);
  const highest = virtualArch(sorted[sorted.length - 1]);
  return [...flags, `-gencode=arch=${highest},code=${highest}`];
}

function virtualArch(arch: string): string {
  return arch.replace(/^sm_/, 'compute_');
}

/**
 * Every nvcc flag of a fatbin for `archs`. The accuracy flags are nvcc's defaults, spelled out
 * because the error model of the tests relies on them: no flush of subnormals to zero,
 * correctly rounded division and square root, multiply-adds fused (one rounding fewer).
 * `--threads 0` compiles the architectures in parallel.
 */
export function nvccFlags(archs: readonly string[]): string[] {
  return [
    '-fatbin',
    '-O3',
    '--ftz=false',
    '--prec-div=true',
    '--prec-sqrt=true',
    '--fmad=true',
    '--threads',
    '0',
    ...gencodeFlags(archs),
  ];
}

// ---- nvcc ----

export interface Nvcc {
  readonly path: string;
  /** The last line of `nvcc --version` ("Build cuda_13.0.r13.0/compiler.36424714_0"). */
  readonly version: string;
}

/** Where nvcc is looked for when `$NVCC` is not set: PATH, then the toolkit's usual homes. */
export function nvccCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.NVCC) return [env.NVCC];
  const homes = [env.CUDA_HOME, env.CUDA_PATH, '/usr/local/cuda'].filter((h): h is string => !!h);
  return ['nvcc', ...homes.map((home) => join(home, 'bin', 'nvcc'))];
}

/** The first usable nvcc of `candidates`, or undefined. */
export function findNvcc(candidates: readonly string[] = nvccCandidates()): Nvcc | undefined {
  for (const path of candidates) {
    try {
      const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: 'pipe' });
      return { path, version: out.trim().split('\n').pop() ?? '' };
    } catch {
      // not there or not runnable: try the next one
    }
  }
  return undefined;
}

/** Like findNvcc, but a CudaCompileError saying what to do when there is none. */
export function requireNvcc(candidates: readonly string[] = nvccCandidates()): Nvcc {
  const nvcc = findNvcc(candidates);
  if (nvcc) return nvcc;
  throw new CudaCompileError(
    `nvcc (the CUDA toolkit's compiler) was not found (tried ${candidates.join(', ')}): ` +
      'install the CUDA toolkit, put nvcc on PATH or set NVCC',
  );
}

export interface CompileFatbinOptions {
  readonly cuFile: string;
  readonly output: string;
  readonly archs: readonly string[];
  readonly nvcc: Nvcc;
  /** Flags after the standard ones (tests add warnings as errors). */
  readonly extraFlags?: readonly string[];
}

/**
 * Compiles `cuFile` into the fatbin `output`: written under a temporary name and renamed, so
 * a concurrent reader never sees half a file. Returns what nvcc printed (ptxas reports, with
 * `-Xptxas -v`); the error carries nvcc's command and output.
 */
export function compileFatbin(options: CompileFatbinOptions): string {
  const { cuFile, output, nvcc } = options;
  const temporary = `${output}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const flags = [...nvccFlags(options.archs), ...(options.extraFlags ?? [])];
  const args = [...flags, '-o', temporary, cuFile];
  try {
    const result = spawnSync(nvcc.path, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
    const printed = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    if (result.error || result.status !== 0) {
      const why = result.error?.message ?? printed.trimEnd();
      const command = [nvcc.path, ...args].join(' ');
      throw new CudaCompileError(`compiling ${cuFile} failed:\n  ${command}\n${why}`, printed);
    }
    renameSync(temporary, output);
    return printed;
  } finally {
    rmSync(temporary, { force: true });
  }
}


// ---- kernels.fatbin next to kernels.cu ----

/** What kernels.fatbin.json records: the source it was compiled from and the flags. */
export interface FatbinRecord {
  readonly sourceHash: string;
  readonly flags: readonly string[];
  readonly nvcc: string;
}

function readRecord(dir: string): FatbinRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, FATBIN_RECORD_FILE), 'utf8')) as FatbinRecord;
  } catch {
    return undefined;
  }
}

/** Why the fatbin in `dir` cannot be used for `build`, or undefined when it can. */
export function staleFatbin(dir: string, build: CudaBuild): string | undefined {
  if (!existsSync(join(dir, FATBIN_FILE))) return `${FATBIN_FILE} is missing`;
  const record = readRecord(dir);
  if (!record) return `${FATBIN_RECORD_FILE} is missing or unreadable`;
  if (record.sourceHash !== build.sourceHash) {
    return `${FATBIN_FILE} was built from another kernels.cu`;
  }
  if (record.flags.join(' ') !== nvccFlags(build.archs).join(' ')) {
    return `${FATBIN_FILE} was built with other nvcc flags or for other architectures`;
  }
  return undefined;
}

/**
 * At build time: compiles `cuFile` into kernels.fatbin beside it, unless the fatbin there was
 * already built from this source with these flags. Returns the fatbin's path and whether it
 * was written.
 */
export function buildFatbin(
  cuFile: string,
  build: CudaBuild,
  nvccPaths: readonly string[] = nvccCandidates(),
): { path: string; changed: boolean } {
  const dir = dirname(cuFile);
  const path = join(dir, FATBIN_FILE);
  if (staleFatbin(dir, build) === undefined) return { path, changed: false };
  const nvcc = findNvcc(nvccPaths);
  if (!nvcc) {
    throw new CudaCompileError(
      `cannot compile ${cuFile}: nvcc (the CUDA toolkit's compiler) was not found ` +
        `(tried ${nvccPaths.join(', ')}). Install the CUDA toolkit, put nvcc on PATH or set ` +
        'NVCC; or build with --skip-nvcc and let the runtime compile kernels.cu where nvcc is',
    );
  }
  rmSync(join(dir, FATBIN_RECORD_FILE), { force: true });
  compileFatbin({ cuFile, output: path, archs: build.archs, nvcc });
  const record: FatbinRecord = {
    sourceHash: build.sourceHash,
    flags: nvccFlags(build.archs),
    nvcc: nvcc.version,
  };
  writeAtomically(join(dir, FATBIN_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  return { path, changed: true };
}

export interface CudaImageOptions {
  /** kernels.cu; kernels.fatbin is looked for in the same folder. */
  readonly sourceUrl: URL;
  readonly build: CudaBuild;
  /** Where recompiled fatbins are kept; default `.cache/gradc-cuda` under cwd. */
  readonly cacheDir?: string;
  /** nvcc paths to try (default: `$NVCC`, else PATH and the toolkit's usual homes). */
  readonly nvcc?: readonly string[];
}

/**
 * The module image for the CUDA backend: kernels.fatbin when it was built from this
 * kernels.cu for `build.archs`, else kernels.cu compiled now by nvcc (cached by content).
 */
export function loadCudaImage(options: CudaImageOptions): Uint8Array {
  const cuFile = fileURLToPath(options.sourceUrl);
  const source = readSource(cuFile, options.build);
  const dir = dirname(cuFile);
  const stale = staleFatbin(dir, options.build);
  if (stale === undefined) return readFileSync(join(dir, FATBIN_FILE));
  const candidates = options.nvcc ?? nvccCandidates();
  const nvcc = findNvcc(candidates);
  if (!nvcc) {
    throw new CudaCompileError(
      `the CUDA kernels of ${dir} are not compiled (${stale}), and nvcc was not found to ` +
        `compile ${cuFile} (tried ${candidates.join(', ')}). Run \`gradc build <model.ts> ` +
        '--target cuda` where the CUDA toolkit is installed and copy kernels.fatbin and ' +
        'kernels.fatbin.json next to kernels.cu, or put nvcc on PATH (or set NVCC).',
    );
  }
  return readFileSync(compileCached(source, options.build.archs, nvcc, options.cacheDir));
}

/** kernels.cu, checked against the hash kernels-cuda.ts was generated with. */
function readSource(cuFile: string, build: CudaBuild): string {
  if (!existsSync(cuFile)) {
    throw new CudaCompileError(`${cuFile} is missing: build the model with --target cuda`);
  }
  const source = readFileSync(cuFile, 'utf8');
  if (cudaSourceHash(source) !== build.sourceHash) {
    throw new CudaCompileError(
      `${cuFile} is not the kernels.cu its kernels-cuda.ts was generated with ` +
        '(the launch shapes would not match): run `gradc build <model.ts> --target cuda` again',
    );
  }
  return source;
}

/**
 * Compiles `source` into `<cacheDir>/gradc-<key>.fatbin`, the key a hash of the source,
 * nvcc's version and the flags, unless that file exists. Returns its path.
 */
export function compileCached(
  source: string,
  archs: readonly string[],
  nvcc: Nvcc,
  cacheDir: string = gradcCacheDir('cuda'),
): string {
  const hash = createHash('sha256');
  for (const part of [source, nvcc.version, nvccFlags(archs).join(' ')]) hash.update(`${part}\0`);
  const key = hash.digest('hex').slice(0, 24);
  const dir = resolve(cacheDir);
  const fatbin = join(dir, `gradc-${key}.fatbin`);
  if (existsSync(fatbin)) return fatbin;
  mkdirSync(dir, { recursive: true });
  const cuFile = join(dir, `gradc-${key}.cu`);
  writeAtomically(cuFile, source);
  compileFatbin({ cuFile, output: fatbin, archs, nvcc });
  return fatbin;
}
