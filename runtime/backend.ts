/**
 * What the runtime needs from a device: float32 buffers, and programs (kernel launch lists)
 * prepared once. Preparing resolves everything a launch needs (pipelines and bind groups,
 * function pointers); running a prepared program only enqueues its launches, which a GPU
 * backend records into one command buffer.
 */

/** An opaque buffer owned by a backend. */
export interface DeviceBuffer {
  /** Number of float32 elements. */
  readonly size: number;
}

/** One kernel launch: its inputs, then its output. */
export interface Launch {
  readonly kernel: string;
  readonly args: readonly DeviceBuffer[];
}

/** A launch list resolved once by a backend, run many times. */
export interface PreparedProgram {
  /** Enqueues (or, on the host, runs) every launch in order. */
  run(): void;
}

/** A device that runs kernels: float32 buffers, uploads, downloads and prepared programs. */
export interface Backend {
  readonly name: string;
  allocate(size: number): DeviceBuffer;
  /** Writes `data` into `buffer`, ordered before launches enqueued after it. */
  upload(buffer: DeviceBuffer, data: Float32Array): void;
  /** Reads `buffer` back once every launch enqueued before has finished. */
  download(buffer: DeviceBuffer): Promise<Float32Array>;
  prepare(launches: readonly Launch[]): Promise<PreparedProgram>;
  dispose(): void;
}

/** A kernel with its buffers fixed; calling it runs one launch. */
export type BoundLaunch = () => void;

/** A backend whose kernels run synchronously on the host (plain TypeScript, native C). */
export interface HostBackend {
  readonly name: string;
  allocate(size: number): DeviceBuffer;
  upload(buffer: DeviceBuffer, data: Float32Array): void;
  /** A copy of the buffer's contents, now. */
  readBack(buffer: DeviceBuffer): Float32Array;
  /** Resolves `kernel` once; `args` are its inputs followed by its output. */
  bind(kernel: string, args: readonly DeviceBuffer[]): BoundLaunch;
  dispose(): void;
}

/** The Backend interface of a host backend; its synchronous methods stay available. */
export function fromHostBackend(host: HostBackend): Backend & HostBackend {
  return {
    ...host,
    download: async (buffer) => host.readBack(buffer),
    async prepare(launches) {
      const bound = launches.map((l) => host.bind(l.kernel, l.args));
      return {
        run() {
          for (const launch of bound) launch();
        },
      };
    },
  };
}

/**
 * A WebGPU device: the `GPUDevice` that `adapter.requestDevice()` gives. It is typed by the few
 * members gradc's declarations name, so that using gradc needs no WebGPU type definitions.
 */
export interface GpuDeviceLike {
  readonly queue: object;
  readonly lost: Promise<unknown>;
  destroy(): void;
}
