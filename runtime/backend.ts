/**
 * What the runtime needs from a device: float32 buffers and kernels bound to them.
 * Binding happens once per kernel launch site (pipelines, bind groups, function pointers are
 * resolved then); a training step only calls the bound launches in order.
 */

/** An opaque buffer owned by a backend. */
export interface DeviceBuffer {
  /** Number of float32 elements. */
  readonly size: number;
}

/** A kernel with its buffers fixed; calling it enqueues or runs one launch. */
export type BoundLaunch = () => void;

export interface Backend {
  readonly name: string;
  allocate(size: number): DeviceBuffer;
  upload(buffer: DeviceBuffer, data: Float32Array): void;
  /** Reads `buffer` back (all of it); completes pending launches first. */
  download(buffer: DeviceBuffer): Float32Array;
  /** Resolves `kernel` once; `args` are its inputs followed by its output. */
  bind(kernel: string, args: readonly DeviceBuffer[]): BoundLaunch;
  dispose(): void;
}

/** A kernel as the plain-TypeScript target emits it: inputs then output, all float32. */
export type JsKernel = (...args: Float32Array[]) => void;
