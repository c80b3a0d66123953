/**
 * The native CPU backend: the C renderer's source (compiler/codegen/render/c.ts) is compiled
 * by the system C compiler into a shared library, cached by content, loaded with koffi.
 * Buffers live in native memory (the library's own `gradc_alloc`, 64-byte aligned) and are
 * reached from JS without copies through `koffi.view`; a bound launch is one FFI call with
 * fixed pointers.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { arch, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import koffi from 'koffi';
import type { Backend, BoundLaunch, DeviceBuffer, HostBackend } from '../backend.ts';
import { fromHostBackend } from '../backend.ts';
import { writeAtomically } from '../../artifact/atomic-file.ts';
import { gradcCacheDir } from '../../artifact/cache-dir.ts';

/**
 * Flags for the kernels: vectorise for this CPU, OpenMP threads, no contraction of elementwise
 * work (the product's inner loop asks for fused multiply-adds itself).
 */
export const DEFAULT_FLAGS: readonly string[] = [
  '-O3',
  '-march=native',
  '-fopenmp',
  '-ffp-contract=off',
  '-shared',
  '-fPIC',
];


/** How the C kernels are compiled: the source, the cache folder, the compiler and its flags. */
export interface CompileOptions {
  readonly cSource: string;
  /** Where libraries are kept, keyed by a hash; default `native/` in gradc's cache folder. */
  readonly cacheDir?: string;
  /** The compiler; default `$CC`, else `cc`. */
  readonly cc?: string;
  readonly flags?: readonly string[];
}

/** A compiler that is missing or rejected the source; the message carries its stderr. */
export class NativeCompileError extends Error {
  constructor(
    message: string,
    readonly cFile: string | undefined,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'NativeCompileError';
  }
}

/**
 * Compiles `cSource` into a shared library and returns its path. The name is a hash of the
 * source, flags, compiler (and its version) and CPU, so an unchanged model is compiled once;
 * the library is written under a temporary name and renamed, so concurrent processes that
 * compile the same source never see a half-written file.
 */
export function compileSharedLibrary(options: CompileOptions): string {
  const cc = options.cc ?? process.env.CC ?? 'cc';
  const flags = options.flags ?? DEFAULT_FLAGS;
  const cacheDir = resolve(options.cacheDir ?? gradcCacheDir('native'));
  const key = cacheKey(options.cSource, cc, compilerVersion(cc), flags);
  const library = join(cacheDir, `gradc-${key}.so`);
  if (existsSync(library)) return library;
  mkdirSync(cacheDir, { recursive: true });
  const cFile = join(cacheDir, `gradc-${key}.c`);
  writeAtomically(cFile, options.cSource);
  const temporary = `${library}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    runCompiler(cc, [...flags, '-o', temporary, cFile, '-lm'], cFile);
    renameSync(temporary, library);
  } finally {
    rmSync(temporary, { force: true });
  }
  return library;
}

function cacheKey(source: string, cc: string, version: string, flags: readonly string[]): string {
  const cpu = `${arch()} ${cpus()[0]?.model ?? ''}`;
  const hash = createHash('sha256');
  for (const part of [source, cc, version, flags.join(' '), cpu]) hash.update(`${part}\0`);
  return hash.digest('hex').slice(0, 24);
}

/** The first line of `cc --version`; a clear error when there is no such compiler. */
function compilerVersion(cc: string): string {
  try {
    return execFileSync(cc, ['--version'], { encoding: 'utf8', stdio: 'pipe' }).split('\n')[0];
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    const hint = 'install gcc or clang, or set CC / the `cc` option';
    const message = `C compiler "${cc}" is not usable (${hint}): ${detail}`;
    throw new NativeCompileError(message, undefined, '');
  }
}

function runCompiler(cc: string, args: readonly string[], cFile: string): void {
  try {
    execFileSync(cc, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const stderr = compilerOutput(e);
    const command = [cc, ...args].join(' ');
    throw new NativeCompileError(
      `compiling ${cFile} failed:\n  ${command}\n${stderr.trimEnd()}`,
      cFile,
      stderr,
    );
  }
}

function compilerOutput(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'stderr' in error) {
    const { stderr } = error as { stderr: unknown };
    if (typeof stderr === 'string' && stderr.length > 0) return stderr;
  }
  return error instanceof Error ? error.message : String(error);
}


// ---- the loaded library ----

/** A C function as koffi exposes it; pointers are opaque values. */
type NativeFunction = (...args: unknown[]) => unknown;

interface LoadedLibrary {
  readonly path: string;
  readonly alloc: NativeFunction;
  readonly free: NativeFunction;
  readonly kernels: ReadonlyMap<string, { readonly fn: NativeFunction; readonly arity: number }>;
}

/** Libraries stay loaded for the life of the process: unloading one under OpenMP is unsafe. */
const loaded = new Map<string, ReturnType<typeof koffi.load>>();

function loadLibrary(path: string, kernels: NativeBackendOptions['kernels']): LoadedLibrary {
  let lib = loaded.get(path);
  if (!lib) {
    lib = koffi.load(path);
    loaded.set(path, lib);
  }
  const symbol = (name: string, result: string, args: string[]): NativeFunction => {
    try {
      return lib.func(name, result, args);
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      throw new Error(`native backend: ${path} has no function "${name}" (${detail})`);
    }
  };
  const table = new Map<string, { fn: NativeFunction; arity: number }>();
  for (const { name, arity } of kernels) {
    table.set(name, { fn: symbol(name, 'void', new Array<string>(arity).fill('void *')), arity });
  }
  return {
    path,
    alloc: symbol('gradc_alloc', 'void *', ['size_t']),
    free: symbol('gradc_free', 'void', ['void *']),
    kernels: table,
  };
}

// ---- the backend ----

/** The native backend's kernels: the C source and each kernel's name and arity. */
export interface NativeBackendOptions extends CompileOptions {
  /** Every kernel the source defines that will be bound, with its number of buffers. */
  readonly kernels: readonly { readonly name: string; readonly arity: number }[];
}

class NativeBuffer implements DeviceBuffer {
  constructor(
    readonly size: number,
    readonly pointer: unknown,
    readonly view: Float32Array,
  ) {}
}

/** Compiles (or finds in the cache) and loads `cSource`, and runs its kernels on the CPU. */
export function createNativeBackend(options: NativeBackendOptions): Backend & HostBackend {
  const library = loadLibrary(compileSharedLibrary(options), options.kernels);
  const live = new Set<NativeBuffer>();
  const own = (buffer: DeviceBuffer): NativeBuffer => {
    if (!(buffer instanceof NativeBuffer) || !live.has(buffer)) {
      throw new Error('native backend: not a live buffer of this backend');
    }
    return buffer;
  };
  return fromHostBackend({
    name: 'native',
    allocate(size) {
      const bytes = size * Float32Array.BYTES_PER_ELEMENT;
      const pointer = library.alloc(Math.max(bytes, 4));
      if (pointer === null) throw new Error(`native backend: out of memory for ${size} floats`);
      const view = size > 0 ? new Float32Array(koffi.view(pointer, bytes)) : new Float32Array(0);
      const buffer = new NativeBuffer(size, pointer, view);
      live.add(buffer);
      return buffer;
    },
    upload(buffer, data) {
      const target = own(buffer);
      if (data.length !== target.size) {
        throw new Error(
          `native backend: uploading ${data.length} values into a buffer of ${target.size}`,
        );
      }
      target.view.set(data);
    },
    readBack: (buffer) => own(buffer).view.slice(),
    bind(kernel, args): BoundLaunch {
      const entry = library.kernels.get(kernel);
      if (!entry) throw new Error(`native backend: unknown kernel "${kernel}" (${library.path})`);
      if (entry.arity !== args.length) {
        throw new Error(
          `native backend: kernel "${kernel}" takes ${entry.arity} buffers, got ${args.length}`,
        );
      }
      const buffers = args.map(own);
      const pointers = buffers.map((b) => b.pointer);
      const { fn } = entry;
      return () => {
        // After dispose() the pointers are freed memory: refuse rather than corrupt the heap.
        if (!live.has(buffers[0])) throw new Error(`native backend: kernel "${kernel}" launched after dispose()`);
        fn(...pointers);
      };
    },
    dispose() {
      for (const buffer of live) library.free(buffer.pointer);
      live.clear();
    },
  });
}
