/**
 * The CUDA backend on a machine without an NVIDIA GPU (like CI): clear messages, no crash.
 * A stand-in driver library, compiled here from the backend's own list of driver signatures,
 * checks that every signature binds and that a failing driver call is reported by name.
 * Running CUDA kernels is tested by `npm run test:gpu` on a machine with a GPU.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CudaError, DRIVER_API, createCudaBackend, loadDriver } from '../runtime/backends/cuda.ts';

const CUDA_ERROR_NO_DEVICE = 100;

/** A C definition of each driver function that fails with CUDA_ERROR_NO_DEVICE. */
function standInDriverSource(): string {
  const functions = Object.values(DRIVER_API).map((signature) => {
    const c = signature.replaceAll('_Out_ ', '');
    const name = /^int (\w+)\(/.exec(c)![1];
    const body =
      name === 'cuGetErrorName'
        ? '*name = error == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN"; return 0;'
        : `return ${CUDA_ERROR_NO_DEVICE};`;
    return `${c} { ${body} }`;
  });
  return ['#include <stdint.h>', '#include <stddef.h>', ...functions].join('\n');
}

function buildStandInDriver(): string {
  const dir = resolve('.cache', 'cuda-host-test');
  mkdirSync(dir, { recursive: true });
  const source = join(dir, 'fake-libcuda.c');
  const library = join(dir, 'fake-libcuda.so');
  writeFileSync(source, standInDriverSource());
  execFileSync('cc', ['-shared', '-fPIC', '-Wno-unused-parameter', '-o', library, source]);
  return library;
}

describe('CUDA backend without a GPU', () => {
  it('explains that an NVIDIA driver is needed and which libraries were tried', () => {
    const missing = ['libcuda-gradc-missing.so.1'];
    expect(() => loadDriver(missing)).toThrow(CudaError);
    expect(() => loadDriver(missing)).toThrow(
      /needs an NVIDIA GPU and its driver, and no driver library was found \(libcuda-gradc-missing\.so\.1: .*\)\. Train with --backend c, js or webgpu instead\./,
    );
  });

  it('binds every driver signature and reports a failing call by name and error', () => {
    const library = buildStandInDriver();
    expect(Object.keys(loadDriver([library]))).toEqual(Object.keys(DRIVER_API));
    const open = () => createCudaBackend({ image: new Uint8Array(1), kernels: {}, driverLibraries: [library] });
    expect(open).toThrow(CudaError);
    expect(open).toThrow(
      'cuInit failed: CUDA_ERROR_NO_DEVICE (100) (is an NVIDIA GPU present and its driver loaded?)',
    );
  });
});
