/**
 * The CUDA backend: the CUDA driver API called through koffi. The kernels come as a fatbin (or
 * PTX) image that `gradc build --target cuda` compiled with nvcc (artifact/cuda-compile.ts;
 * no NVRTC); every buffer is allocated once with cuMemAlloc; uploads,
 * launches and downloads are ordered on one stream; a program is a fixed sequence of
 * cuLaunchKernel calls, captured once into a CUDA graph and replayed with cuGraphLaunch where
 * the driver allows. Every driver call's result is checked; a failing launch names the kernel
 * and its DSL lines.
 */
import koffi from 'koffi';
import type { Backend, DeviceBuffer, Launch, PreparedProgram } from '../backend.ts';
import type { CudaBuild, CudaKernel } from '../../artifact/kernels.ts';
import type { CudaOpenOptions } from '../open.ts';
import { loadCudaImage } from '../../artifact/cuda-compile.ts';

/** No driver, no device, or a driver call failed. */
export class CudaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CudaError';
  }
}

const CU_STREAM_NON_BLOCKING = 1;
const CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

type Fn = koffi.KoffiFunction;

/** The driver entry points gradc uses, with their C signatures. */
export const DRIVER_API = {
  cuInit: 'int cuInit(unsigned int flags)',
  cuGetErrorName: 'int cuGetErrorName(int error, _Out_ const char **name)',
  cuDeviceGetCount: 'int cuDeviceGetCount(_Out_ int *count)',
  cuDeviceGet: 'int cuDeviceGet(_Out_ int *device, int ordinal)',
  cuDeviceGetName: 'int cuDeviceGetName(_Out_ char *name, int len, int device)',
  cuDeviceGetAttribute: 'int cuDeviceGetAttribute(_Out_ int *value, int attribute, int device)',
  cuDevicePrimaryCtxRetain: 'int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int device)',
  cuDevicePrimaryCtxRelease: 'int cuDevicePrimaryCtxRelease_v2(int device)',
  cuCtxSetCurrent: 'int cuCtxSetCurrent(void *ctx)',
  cuModuleLoadData: 'int cuModuleLoadData(_Out_ void **module, const void *image)',
  cuModuleUnload: 'int cuModuleUnload(void *module)',
  cuModuleGetFunction: 'int cuModuleGetFunction(_Out_ void **fn, void *module, const char *name)',
  cuMemAlloc: 'int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytes)',
  cuMemFree: 'int cuMemFree_v2(uint64_t dptr)',
  cuMemsetD32Async:
    'int cuMemsetD32Async(uint64_t dptr, unsigned int value, size_t count, void *stream)',
  cuMemcpyHtoDAsync:
    'int cuMemcpyHtoDAsync_v2(uint64_t dst, const void *src, size_t bytes, void *stream)',
  cuMemcpyDtoH: 'int cuMemcpyDtoH_v2(_Out_ void *dst, uint64_t src, size_t bytes)',
  cuStreamCreate: 'int cuStreamCreate(_Out_ void **stream, unsigned int flags)',
  cuStreamDestroy: 'int cuStreamDestroy_v2(void *stream)',
  cuStreamSynchronize: 'int cuStreamSynchronize(void *stream)',
  cuLaunchKernel:
    'int cuLaunchKernel(void *fn, unsigned int gx, unsigned int gy, unsigned int gz, ' +
    'unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared, void *stream, ' +
    'void **params, void **extra)',
  cuStreamBeginCapture: 'int cuStreamBeginCapture_v2(void *stream, int mode)',
  cuStreamEndCapture: 'int cuStreamEndCapture(void *stream, _Out_ void **graph)',
  cuGraphInstantiate: 'int cuGraphInstantiateWithFlags(_Out_ void **exec, void *graph, uint64_t flags)',
  cuGraphLaunch: 'int cuGraphLaunch(void *exec, void *stream)',
  cuGraphDestroy: 'int cuGraphDestroy(void *graph)',
  cuGraphExecDestroy: 'int cuGraphExecDestroy(void *exec)',
} as const;

type Driver = { readonly [K in keyof typeof DRIVER_API]: Fn };

/** The driver library names tried in order. */
export const DRIVER_LIBRARIES: readonly string[] = ['libcuda.so.1', 'libcuda.so', 'nvcuda.dll'];

/** `$GRADC_CUDA_DRIVER` (one library path) when set, else DRIVER_LIBRARIES. */
export function defaultDriverLibraries(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  return env.GRADC_CUDA_DRIVER ? [env.GRADC_CUDA_DRIVER] : DRIVER_LIBRARIES;
}

/** Drivers loaded so far, by library name: each is bound once per process. */
const drivers = new Map<string, Driver>();

/** Loads the NVIDIA driver library, or explains that there is none. */
export function loadDriver(libraries: readonly string[] = defaultDriverLibraries()): Driver {
  const failures: string[] = [];
  for (const name of libraries) {
    const known = drivers.get(name);
    if (known) return known;
    try {
      const lib = koffi.load(name);
      const entries = Object.entries(DRIVER_API).map(([key, signature]) => [key, lib.func(signature)]);
      const driver = Object.fromEntries(entries) as Driver;
      drivers.set(name, driver);
      return driver;
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new CudaError(
    'the CUDA backend needs an NVIDIA GPU and its driver, and no driver library was found ' +
      `(${failures.join('; ')}). Train with --backend c, js or webgpu instead.`,
  );
}

function errorName(driver: Driver, code: number): string {
  const name: [string | null] = [null];
  return driver.cuGetErrorName(code, name) === 0 && name[0] ? `${name[0]} (${code})` : `error ${code}`;
}

/** Calls a driver function and throws a CudaError naming the call and `what` on failure. */
function check(driver: Driver, code: number, call: string, what = ''): void {
  if (code !== 0) throw new CudaError(`${call} failed: ${errorName(driver, code)}${what ? ` ${what}` : ''}`);
}

class CudaBuffer implements DeviceBuffer {
  constructor(
    readonly size: number,
    readonly pointer: bigint,
  ) {}
}

/** What the CUDA backend runs: the module image, the kernels' launch shapes, the GPU, graphs and driver. */
export interface CudaBackendOptions {
  /** The module image: a fatbin or cubin (bytes) or PTX (text, NUL-terminated). */
  readonly image: Uint8Array;
  readonly kernels: Readonly<Record<string, CudaKernel>>;
  readonly deviceIndex?: number;
  /** Capture each program into a CUDA graph on its first run and replay it (default true). */
  readonly graphs?: boolean;
  /** Where to look for the driver (default: $GRADC_CUDA_DRIVER, else DRIVER_LIBRARIES). */
  readonly driverLibraries?: readonly string[];
  /** The architectures the image was compiled for, named when the driver refuses it. */
  readonly archs?: readonly string[];
}

/** The GPU a CUDA backend runs on. */
export interface CudaDeviceInfo {
  readonly index: number;
  readonly name: string;
  /** Its compute capability as an architecture name: `sm_90` for an H100. */
  readonly arch: string;
}

/**
 * Loads the driver, initialises it and checks that there is a GPU: what opening the backend
 * does first, so that a machine without an NVIDIA GPU hears so before anything is compiled.
 */
export function probeCuda(libraries: readonly string[] = defaultDriverLibraries()): Driver {
  const driver = loadDriver(libraries);
  check(driver, driver.cuInit(0), 'cuInit', '(is an NVIDIA GPU present and its driver loaded?)');
  const count = [0];
  check(driver, driver.cuDeviceGetCount(count), 'cuDeviceGetCount');
  if (count[0] === 0) throw new CudaError('the CUDA driver found no GPU');
  return driver;
}

interface BoundCudaLaunch {
  readonly name: string;
  readonly fn: unknown;
  readonly kernel: CudaKernel;
  readonly params: readonly BigUint64Array[];
}

/** The compute capability of `device` as `sm_XY`. */
function deviceArch(driver: Driver, device: number): string {
  const attribute = (id: number): number => {
    const value = [0];
    check(driver, driver.cuDeviceGetAttribute(value, id, device), 'cuDeviceGetAttribute');
    return value[0];
  };
  const major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  return `sm_${major}${attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)}`;
}

/** A backend on an NVIDIA GPU through the CUDA driver API. */
export function createCudaBackend(options: CudaBackendOptions): Backend & { readonly device: CudaDeviceInfo } {
  const driver = probeCuda(options.driverLibraries);
  const count = [0];
  check(driver, driver.cuDeviceGetCount(count), 'cuDeviceGetCount');
  const index = options.deviceIndex ?? 0;
  const device = [0];
  check(driver, driver.cuDeviceGet(device, index), 'cuDeviceGet', `(device ${index} of ${count[0]})`);
  const nameBytes = Buffer.alloc(256);
  check(driver, driver.cuDeviceGetName(nameBytes, nameBytes.length, device[0]), 'cuDeviceGetName');
  const arch = deviceArch(driver, device[0]);
  const ctx: [unknown] = [null];
  check(driver, driver.cuDevicePrimaryCtxRetain(ctx, device[0]), 'cuDevicePrimaryCtxRetain');
  check(driver, driver.cuCtxSetCurrent(ctx[0]), 'cuCtxSetCurrent');
  const module: [unknown] = [null];
  const built = options.archs ? ` for ${options.archs.join(', ')}` : '';
  const stream: [unknown] = [null];
  try {
    check(driver, driver.cuModuleLoadData(module, options.image), 'cuModuleLoadData',
      `(the module was compiled${built}; this GPU is ${arch}: see gradc build --cuda-arch)`);
    check(driver, driver.cuStreamCreate(stream, CU_STREAM_NON_BLOCKING), 'cuStreamCreate');
  } catch (error) {
    // Give back what was taken before the failure, so a later open starts clean.
    if (module[0]) driver.cuModuleUnload(module[0]);
    driver.cuDevicePrimaryCtxRelease(device[0]);
    throw error;
  }

  const buffers = new Set<CudaBuffer>();
  const graphs: { graph: unknown; exec: unknown }[] = [];
  const functions = new Map<string, unknown>();
  const own = (buffer: DeviceBuffer): CudaBuffer => {
    if (!(buffer instanceof CudaBuffer) || !buffers.has(buffer)) throw new CudaError('not a live buffer of this CUDA backend');
    return buffer;
  };
  const functionOf = (name: string): unknown => {
    const known = functions.get(name);
    if (known) return known;
    if (!Object.hasOwn(options.kernels, name)) throw new CudaError(`unknown CUDA kernel "${name}"`);
    const fn: [unknown] = [null];
    check(driver, driver.cuModuleGetFunction(fn, module[0], name), 'cuModuleGetFunction', `for kernel ${name}`);
    functions.set(name, fn[0]);
    return fn[0];
  };
  const launch = (l: BoundCudaLaunch): void => {
    const [gx, gy, gz] = l.kernel.grid;
    const [bx, by, bz] = l.kernel.block;
    const code = driver.cuLaunchKernel(l.fn, gx, gy, gz, bx, by, bz, l.kernel.sharedBytes, stream[0], l.params, null);
    check(driver, code, 'cuLaunchKernel', `for kernel ${l.name} (${l.kernel.sources.join('; ')})`);
  };

  return {
    name: 'cuda',
    device: { index, name: nameBytes.toString('utf8').replace(/\0.*$/s, ''), arch },
    allocate(size) {
      const pointer = new BigUint64Array(1);
      check(driver, driver.cuMemAlloc(pointer, Math.max(4, size * 4)), 'cuMemAlloc', `(${size} floats)`);
      // On the stream, so that no launch on it can run before the zeros are written.
      const zero = driver.cuMemsetD32Async(pointer[0], 0, Math.max(1, size), stream[0]);
      check(driver, zero, 'cuMemsetD32Async');
      const buffer = new CudaBuffer(size, pointer[0]);
      buffers.add(buffer);
      return buffer;
    },
    upload(buffer, data) {
      const target = own(buffer);
      if (data.length !== target.size) throw new CudaError(`uploading ${data.length} values into a buffer of ${target.size}`);
      // On the stream: after every launch enqueued before, before every launch enqueued after
      // (the synchronous copy runs on the legacy stream, which a non-blocking stream does not
      // wait for). From pageable memory the driver stages `data` before it returns.
      const copy = driver.cuMemcpyHtoDAsync(target.pointer, data, data.byteLength, stream[0]);
      check(driver, copy, 'cuMemcpyHtoDAsync');
    },
    async download(buffer) {
      const source = own(buffer);
      check(driver, driver.cuStreamSynchronize(stream[0]), 'cuStreamSynchronize', '(a kernel of the last step failed)');
      const out = new Float32Array(source.size);
      check(driver, driver.cuMemcpyDtoH(out, source.pointer, out.byteLength), 'cuMemcpyDtoH');
      return out;
    },
    async prepare(launches: readonly Launch[]): Promise<PreparedProgram> {
      const bound = launches.map((l) => ({
        name: l.kernel,
        fn: functionOf(l.kernel),
        kernel: options.kernels[l.kernel],
        params: l.args.map((a) => BigUint64Array.of(own(a).pointer)),
      }));
      let exec: unknown;
      return {
        run() {
          if (exec) {
            check(driver, driver.cuGraphLaunch(exec, stream[0]), 'cuGraphLaunch');
            return;
          }
          if (options.graphs === false) {
            for (const l of bound) launch(l);
            return;
          }
          check(driver, driver.cuStreamBeginCapture(stream[0], CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), 'cuStreamBeginCapture');
          const graph: [unknown] = [null];
          let ended = 0;
          try {
            for (const l of bound) launch(l);
          } finally {
            // A failed launch must still end the capture, or the stream stays unusable.
            ended = driver.cuStreamEndCapture(stream[0], graph);
          }
          check(driver, ended, 'cuStreamEndCapture');
          const instance: [unknown] = [null];
          check(driver, driver.cuGraphInstantiate(instance, graph[0], 0n), 'cuGraphInstantiate');
          graphs.push({ graph: graph[0], exec: instance[0] });
          exec = instance[0];
          check(driver, driver.cuGraphLaunch(exec, stream[0]), 'cuGraphLaunch');
        },
      };
    },
    dispose() {
      driver.cuStreamSynchronize(stream[0]);
      for (const g of graphs) {
        driver.cuGraphExecDestroy(g.exec);
        driver.cuGraphDestroy(g.graph);
      }
      for (const b of buffers) driver.cuMemFree(b.pointer);
      buffers.clear();
      driver.cuStreamDestroy(stream[0]);
      driver.cuModuleUnload(module[0]);
      driver.cuDevicePrimaryCtxRelease(device[0]);
    },
  };
}

/** A model's CUDA kernels as its glue module passes them, and how to open the backend. */
export interface OpenCudaOptions extends CudaOpenOptions {
  readonly kernels: Readonly<Record<string, CudaKernel>>;
  readonly build: CudaBuild;
  /** kernels.cu; kernels.fatbin is read next to it. */
  readonly sourceUrl: URL;
}

/**
 * Opens the CUDA backend on a model's generated kernels: checks for a GPU first, then loads
 * kernels.fatbin (or compiles kernels.cu with nvcc when the fatbin is missing or stale).
 */
export function openCudaBackend(
  options: OpenCudaOptions,
): Backend & { readonly device: CudaDeviceInfo } {
  probeCuda(options.driverLibraries);
  const { sourceUrl, build, cacheDir, nvcc } = options;
  const image = loadCudaImage({ sourceUrl, build, cacheDir, nvcc });
  const { kernels, deviceIndex, graphs, driverLibraries } = options;
  const archs = build.archs;
  return createCudaBackend({ image, kernels, archs, deviceIndex, graphs, driverLibraries });
}
