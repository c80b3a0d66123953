/**
 * What the kernel files of each target hold, as the compiler's renderers write them and the
 * runtime's backends read them, and the backends that run them. Types and constants only:
 * browser-safe.
 */

/** Where a model runs: plain JavaScript, native C, WebGPU or CUDA. */
export type BackendKind = 'js' | 'c' | 'webgpu' | 'cuda';
/** Every backend, the default (native C) first. */
export const BACKEND_KINDS: readonly BackendKind[] = ['c', 'js', 'webgpu', 'cuda'];

/** A kernel as the plain-TypeScript target emits it: inputs then output, all float32. */
export type JsKernel = (...args: Float32Array[]) => void;

/** A kernel as the WGSL target emits it: one module, bindings 0..n-1 inputs, n the output. */
export interface WgslKernel {
  readonly code: string;
  readonly entryPoint: string;
  /** Workgroup counts of the dispatch, baked in at build time. */
  readonly workgroups: readonly [number, number, number];
  /** The graph nodes the kernel computes with their DSL file:line:col, for error messages. */
  readonly sources: readonly string[];
}

/** A kernel as the CUDA target emits it: its launch shape, baked in at build time. */
export interface CudaKernel {
  readonly grid: readonly [number, number, number];
  readonly block: readonly [number, number, number];
  /** Dynamic shared memory in bytes (static shared memory is declared in the kernel). */
  readonly sharedBytes: number;
  /** The graph nodes the kernel computes with their DSL file:line:col, for error messages. */
  readonly sources: readonly string[];
}

/**
 * What the CUDA target's kernels-cuda.ts records about its kernels.cu: the source's SHA-256
 * (hex) and the GPU architectures (`sm_80`, ...) kernels.fatbin is compiled for by nvcc.
 */
export interface CudaBuild {
  readonly sourceHash: string;
  readonly archs: readonly string[];
}
