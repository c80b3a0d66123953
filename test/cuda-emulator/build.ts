/**
 * Builds the CPU emulator of CUDA (emulator.cpp) for one kernels.cu: the source compiled as
 * C++ with cuda-shim.h, with a table of its `extern "C"` kernels, into a shared library that
 * stands in for libcuda (pass it as `driverLibraries`, or as $GRADC_CUDA_DRIVER). Libraries
 * are cached by content under .cache/cuda-emulator.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const EMULATOR = join(HERE, 'emulator.cpp');
const SHIM = join(HERE, 'cuda-shim.h');
const CACHE = resolve('.cache', 'cuda-emulator');

const FLAGS = ['-std=c++17', '-O2', '-fPIC', '-shared', '-Wall', '-Wextra', '-Werror'];
/** `#pragma unroll` is for nvcc; the kernels compile as C++ otherwise unchanged. */
const KERNEL_FLAGS = ['-Wno-unknown-pragmas'];

export interface EmulatedKernel {
  readonly name: string;
  readonly arity: number;
  readonly bounds: number;
}

/** The `extern "C"` kernels of a gradc kernels.cu: name, pointer count, launch bounds. */
export function externKernels(source: string): EmulatedKernel[] {
  const pattern = /^extern "C" __global__ void __launch_bounds__\((\d+)\) (\w+)\(([^)]*)\)/gm;
  return [...source.matchAll(pattern)].map((m) => ({
    name: m[2],
    arity: m[3].split('__restrict__').length - 1,
    bounds: Number(m[1]),
  }));
}

/** A C++ file that includes the source and lists its kernels as `gradc_emu_kernels`. */
function tableSource(cuFile: string, kernels: readonly EmulatedKernel[]): string {
  const rows = kernels.map(
    (k) => `  {"${k.name}", ${k.arity}, ${k.bounds}u, reinterpret_cast<void (*)()>(&${k.name})},`,
  );
  return [
    `#include ${JSON.stringify(cuFile)}`,
    '',
    'extern "C" const gradc_emu_kernel gradc_emu_kernels[] = {',
    ...rows,
    '  {nullptr, 0, 0u, nullptr},',
    '};',
    '',
  ].join('\n');
}

/** The emulator library for `source` (compiled once per source and emulator version). */
export function buildEmulatedDriver(source: string): string {
  const hash = createHash('sha256');
  for (const part of [source, readFileSync(EMULATOR, 'utf8'), readFileSync(SHIM, 'utf8')]) {
    hash.update(`${part}\0`);
  }
  const key = hash.digest('hex').slice(0, 24);
  const library = join(CACHE, `libcuda-emu-${key}.so`);
  if (existsSync(library)) return library;
  mkdirSync(CACHE, { recursive: true });
  const cuFile = join(CACHE, `kernels-${key}.cu`);
  const table = join(CACHE, `table-${key}.cpp`);
  writeFileSync(cuFile, source);
  writeFileSync(table, tableSource(cuFile, externKernels(source)));
  const temporary = `${library}.${process.pid}.tmp`;
  execFileSync('g++', [...FLAGS, '-c', '-o', `${temporary}.emu.o`, EMULATOR], { stdio: 'pipe' });
  const kernelArgs = [...FLAGS, ...KERNEL_FLAGS, '-include', SHIM, '-c', '-o', `${temporary}.k.o`];
  execFileSync('g++', [...kernelArgs, table], { stdio: 'pipe' });
  try {
    execFileSync('g++', ['-shared', '-o', temporary, `${temporary}.emu.o`, `${temporary}.k.o`]);
    renameSync(temporary, library);
  } finally {
    for (const part of ['emu', 'k']) rmSync(`${temporary}.${part}.o`, { force: true });
  }
  return library;
}
