/**
 * Opens a backend for an artifact from the kernels its glue module ships. Browser-safe: the
 * Node-only backends (native C, WebGPU through Dawn, CUDA) are loaded by specifiers that
 * bundlers leave alone.
 */
import type { Artifact } from './artifact.ts';
import type { Backend, CudaBuild, CudaKernel, JsKernel, WgslKernel } from './backend.ts';
import { createJsBackend } from './backends/js.ts';
import { createWebGpuBackend } from './backends/webgpu.ts';

export type BackendKind = 'js' | 'c' | 'webgpu' | 'cuda';
export const BACKEND_KINDS: readonly BackendKind[] = ['c', 'js', 'webgpu', 'cuda'];

export interface KernelSources {
  /** The plain-TypeScript kernels (target `js`). */
  readonly jsKernels?: Readonly<Record<string, JsKernel>>;
  /** Where the C kernels are (target `c`); compiled on first use and cached. */
  readonly cSourceUrl?: URL;
  /** The WGSL kernels (target `wgsl`). */
  readonly wgslKernels?: Readonly<Record<string, WgslKernel>>;
  /** The CUDA kernels' launch shapes (target `cuda`). */
  readonly cudaKernels?: Readonly<Record<string, CudaKernel>>;
  /** The hash of kernels.cu and the architectures of kernels.fatbin (target `cuda`). */
  readonly cudaBuild?: CudaBuild;
  /** Where kernels.cu is (target `cuda`); nvcc's kernels.fatbin is read next to it. */
  readonly cudaSourceUrl?: URL;
}

/** How the CUDA backend opens (Node only). */
export interface CudaOpenOptions {
  /** Which GPU (default 0). */
  readonly deviceIndex?: number;
  /** Replay each program as a CUDA graph (default true). */
  readonly graphs?: boolean;
  /** The driver library (default: $GRADC_CUDA_DRIVER, else libcuda.so.1, libcuda.so, ...). */
  readonly driverLibraries?: readonly string[];
  /** Where fatbins compiled at run time are cached (default `.cache/gradc-cuda`). */
  readonly cacheDir?: string;
  /** nvcc paths to try when kernels.fatbin is missing or stale (default: $NVCC, else PATH). */
  readonly nvcc?: readonly string[];
}

export interface OpenOptions {
  /** The WebGPU device to use; by default one is requested (navigator.gpu, or Dawn in Node). */
  readonly device?: GPUDevice;
  /** How the CUDA backend opens: which GPU, CUDA graphs, driver, nvcc. */
  readonly cuda?: CudaOpenOptions;
}

/** Each kernel's name and number of buffer arguments, from the launch list. */
export function kernelSignatures(artifact: Artifact): { name: string; arity: number }[] {
  const arity = new Map<string, number>();
  for (const p of artifact.programs) for (const l of p.launches) arity.set(l.kernel, l.args.length);
  return [...arity].map(([name, n]) => ({ name, arity: n }));
}

/** Imports a Node-only module of the runtime without letting a bundler follow it. */
function importNodeOnly<T>(relative: string): Promise<T> {
  const specifier = new URL(relative, import.meta.url).href;
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}

async function defaultGpuDevice(): Promise<GPUDevice> {
  const gpu = globalThis.navigator?.gpu;
  if (gpu) {
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('WebGPU: navigator.gpu gave no adapter');
    return adapter.requestDevice();
  }
  const node = await importNodeOnly<typeof import('./webgpu-node.ts')>('./webgpu-node.ts');
  return node.requestNodeGpuDevice();
}

function notBuiltFor(artifact: Artifact, target: string): Error {
  return new Error(`${artifact.name} was not built for target ${target} (gradc build --target ${target})`);
}

export async function openBackend(
  kind: BackendKind,
  artifact: Artifact,
  sources: KernelSources,
  options: OpenOptions = {},
): Promise<Backend> {
  switch (kind) {
    case 'js':
      if (!sources.jsKernels) throw notBuiltFor(artifact, 'js');
      return createJsBackend(sources.jsKernels);
    case 'c': {
      if (!sources.cSourceUrl) throw notBuiltFor(artifact, 'c');
      const { readFile } = await importNodeOnly<typeof import('node:fs/promises')>('node:fs/promises');
      const native = await importNodeOnly<typeof import('./backends/native.ts')>('./backends/native.ts');
      const cSource = await readFile(sources.cSourceUrl, 'utf8');
      return native.createNativeBackend({ cSource, kernels: kernelSignatures(artifact) });
    }
    case 'webgpu': {
      if (!sources.wgslKernels) throw notBuiltFor(artifact, 'wgsl');
      return createWebGpuBackend(options.device ?? (await defaultGpuDevice()), sources.wgslKernels);
    }
    case 'cuda': {
      const { cudaKernels: kernels, cudaBuild: build, cudaSourceUrl: sourceUrl } = sources;
      if (!kernels || !build || !sourceUrl) throw notBuiltFor(artifact, 'cuda');
      const cuda = await importNodeOnly<typeof import('./backends/cuda.ts')>('./backends/cuda.ts');
      return cuda.openCudaBackend({ ...options.cuda, kernels, build, sourceUrl });
    }
  }
}
