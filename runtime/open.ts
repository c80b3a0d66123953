/**
 * Opens a backend for an artifact from the kernels its glue module ships. Browser-safe: the
 * Node-only backends (native C, WebGPU through Dawn, CUDA) come from `gradc/node`, imported
 * through a specifier that bundlers leave alone, and the C and CUDA kernel files are found
 * next to the glue module at run time rather than by a pattern a bundler would copy.
 */
import type { Artifact } from '../artifact/format.ts';
import type { Backend, GpuDeviceLike } from './backend.ts';
import type { BackendKind, CudaBuild, CudaKernel, JsKernel, WgslKernel } from '../artifact/kernels.ts';
import { createJsBackend } from './backends/js.ts';
import { createWebGpuBackend } from './backends/webgpu.ts';
import { ModelInstance, ModelRuntimeError } from './model.ts';
import type { Feeds } from './model.ts';

/** The kernels of one backend, loaded. */
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
  /** The build the kernels must come from (checked against the C source's build line). */
  readonly buildId?: string;
}

/** How the CUDA backend opens (Node only). */
export interface CudaOpenOptions {
  /** Which GPU (default 0). */
  readonly deviceIndex?: number | undefined;
  /** Replay each program as a CUDA graph (default true). */
  readonly graphs?: boolean | undefined;
  /** The driver library (default: $GRADC_CUDA_DRIVER, else libcuda.so.1, libcuda.so, ...). */
  readonly driverLibraries?: readonly string[] | undefined;
  /** Where fatbins compiled at run time are cached (default: gradc's cache folder). */
  readonly cacheDir?: string | undefined;
  /** nvcc paths to try when kernels.fatbin is missing or stale (default: $NVCC, else PATH). */
  readonly nvcc?: readonly string[] | undefined;
}

/** How a model opens: the WebGPU device to use, or the CUDA backend's options. */
export interface OpenOptions {
  /** The WebGPU device to use; by default one is requested (navigator.gpu, or Dawn in Node). */
  readonly device?: GpuDeviceLike | undefined;
  /** How the CUDA backend opens: which GPU, CUDA graphs, driver, nvcc. */
  readonly cuda?: CudaOpenOptions | undefined;
}

/** A kernels module of the `js` target. */
export interface JsKernelModule {
  readonly buildId: string;
  readonly kernels: Readonly<Record<string, JsKernel>>;
}

/** A kernels module of the `wgsl` target. */
export interface WgslKernelModule {
  readonly buildId: string;
  readonly wgslKernels: Readonly<Record<string, WgslKernel>>;
}

/** A kernels module of the `cuda` target (kernels-cuda.js, next to kernels.cu). */
export interface CudaKernelModule {
  readonly buildId: string;
  readonly cudaBuild: CudaBuild;
  readonly cudaKernels: Readonly<Record<string, CudaKernel>>;
}

/**
 * What a glue module knows of the kernel files built with it. The browser's targets are
 * imported by the glue module itself (a bundler follows them); the Node-only ones are file
 * names, found next to the glue module (`base`, its `import.meta.url`) when opened.
 */
export interface KernelFiles {
  readonly base: string;
  /** The build the glue module comes from; every kernel file must carry the same. */
  readonly buildId: string;
  readonly js?: () => Promise<JsKernelModule>;
  readonly wgsl?: () => Promise<WgslKernelModule>;
  /** The C source (target `c`). */
  readonly c?: string;
  /** The CUDA kernels' module and source (target `cuda`). */
  readonly cuda?: { readonly module: string; readonly source: string };
}

/** Kernel files of another build than the glue module's (a stale or mixed build folder). */
export class KernelMismatchError extends ModelRuntimeError {
  constructor(file: string, found: string | undefined, expected: string) {
    super(
      `${file} ${found ? `comes from build ${found}` : 'carries no build id'}, the glue module from ` +
        `build ${expected}: the folder mixes two builds; run gradc build again`,
    );
    this.name = 'KernelMismatchError';
  }
}

/** Refuses kernels that were not built with the glue module. */
export function checkBuildId(file: string, found: string | undefined, expected: string): void {
  if (found !== expected) throw new KernelMismatchError(file, found, expected);
}

/** The build id a generated C or CUDA source declares in its header. */
export function sourceBuildId(source: string): string | undefined {
  return /^\/\/ gradc build ([0-9a-f]+)$/m.exec(source)?.[1];
}

/** Each kernel's name and number of buffer arguments, from the launch list. */
export function kernelSignatures(artifact: Artifact): { name: string; arity: number }[] {
  const arity = new Map<string, number>();
  for (const p of artifact.programs) for (const l of p.launches) arity.set(l.kernel, l.args.length);
  return [...arity].map(([name, n]) => ({ name, arity: n }));
}

/** `gradc/node`, the Node-only part of the runtime, imported where a bundler does not look. */
export function importNodeRuntime(): Promise<typeof import('./node.ts')> {
  const specifier = 'gradc/node';
  return import(/* @vite-ignore */ specifier) as Promise<typeof import('./node.ts')>;
}

async function defaultGpuDevice(): Promise<GpuDeviceLike> {
  const gpu = globalThis.navigator?.gpu;
  if (gpu) {
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('WebGPU: navigator.gpu gave no adapter');
    return adapter.requestDevice();
  }
  return (await importNodeRuntime()).requestNodeGpuDevice();
}

function notBuiltFor(artifact: Artifact, target: string): Error {
  return new ModelRuntimeError(
    `${artifact.name} was not built for target ${target} (gradc build --target ${target})`,
  );
}

/** Opens the backend `kind` on a model's loaded kernels (see `openModel` for a glue module's files). */
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
      const node = await importNodeRuntime();
      const cSource = node.readKernelSource(sources.cSourceUrl);
      if (sources.buildId !== undefined) {
        checkBuildId(decodeURIComponent(sources.cSourceUrl.pathname), sourceBuildId(cSource), sources.buildId);
      }
      return node.createNativeBackend({ cSource, kernels: kernelSignatures(artifact) });
    }
    case 'webgpu': {
      if (!sources.wgslKernels) throw notBuiltFor(artifact, 'wgsl');
      return createWebGpuBackend(options.device ?? (await defaultGpuDevice()), sources.wgslKernels);
    }
    case 'cuda': {
      const { cudaKernels: kernels, cudaBuild: build, cudaSourceUrl: sourceUrl } = sources;
      if (!kernels || !build || !sourceUrl) throw notBuiltFor(artifact, 'cuda');
      const node = await importNodeRuntime();
      return node.openCudaBackend({ ...options.cuda, kernels, build, sourceUrl });
    }
  }
}

/** Loads the kernels of one backend from a glue module's files, checking their build. */
export async function loadKernelSources(
  kind: BackendKind,
  artifact: Artifact,
  files: KernelFiles,
): Promise<KernelSources> {
  const { base, buildId } = files;
  switch (kind) {
    case 'js': {
      if (!files.js) throw notBuiltFor(artifact, 'js');
      const module = await files.js();
      checkBuildId('kernels.js', module.buildId, buildId);
      return { jsKernels: module.kernels };
    }
    case 'webgpu': {
      if (!files.wgsl) throw notBuiltFor(artifact, 'wgsl');
      const module = await files.wgsl();
      checkBuildId('kernels-wgsl.js', module.buildId, buildId);
      return { wgslKernels: module.wgslKernels };
    }
    case 'c':
      if (files.c === undefined) throw notBuiltFor(artifact, 'c');
      return { cSourceUrl: new URL(files.c, base), buildId };
    case 'cuda': {
      if (!files.cuda) throw notBuiltFor(artifact, 'cuda');
      const url = new URL(files.cuda.module, base).href;
      const module = (await import(/* @vite-ignore */ url)) as CudaKernelModule;
      checkBuildId(files.cuda.module, module.buildId, buildId);
      const { cudaBuild, cudaKernels } = module;
      return { cudaBuild, cudaKernels, cudaSourceUrl: new URL(files.cuda.source, base) };
    }
  }
}

/** Opens a generated model on `backend`: its kernels, a device, buffers and programs. */
export async function openModel<
  T extends Feeds = Feeds,
  P extends Feeds = Feeds,
  R extends Feeds = Feeds,
  N extends string = string,
>(
  artifact: Artifact,
  backend: BackendKind,
  files: KernelFiles,
  options: OpenOptions = {},
): Promise<ModelInstance<T, P, R, N>> {
  const sources = await loadKernelSources(backend, artifact, files);
  const device = await openBackend(backend, artifact, sources, options);
  return ModelInstance.open<T, P, R, N>(artifact, device);
}
