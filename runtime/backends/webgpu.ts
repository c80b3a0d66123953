/**
 * The WebGPU backend: float32 storage buffers on a GPUDevice and the WGSL kernels the WGSL
 * renderer emitted (compiler/codegen/render/wgsl.ts). It runs in a browser and in Node (with
 * the device from runtime/webgpu-node.ts); it imports nothing from Node.
 *
 * - Buffers are allocated once (STORAGE | COPY_SRC | COPY_DST); `upload` is
 *   `queue.writeBuffer`, `download` copies into a MAP_READ staging buffer (kept per size for
 *   the next download of that size) and maps it.
 * - `prepare` compiles each kernel's module and pipeline once (asynchronously, all kernels
 *   concurrently), reports WGSL errors and warnings with the kernel's name and the DSL lines
 *   it computes, and creates one bind group per launch. `run` records every launch into one
 *   compute pass of one command buffer and submits it.
 * - Errors the GPU reports later (validation, out of memory) are caught as uncaptured errors
 *   and thrown by the next call. With `debug`, each run and upload is wrapped in error scopes
 *   instead, so the error names the program that caused it; popping a scope waits for the
 *   GPU, so this costs a round trip per run and is off by default.
 * - Once the device is lost (or destroyed), every call throws an error that says so and why,
 *   and a download waiting for the GPU rejects instead of hanging.
 */
import type { Backend, DeviceBuffer, GpuDeviceLike, Launch, PreparedProgram } from '../backend.ts';
import type { WgslKernel } from '../../artifact/kernels.ts';

/** How the WebGPU backend reports errors and warnings. */
export interface WebGpuBackendOptions {
  /** Error scopes around every run and upload (a GPU round trip each); see the file header. */
  readonly debug?: boolean;
  /** Receives WGSL compiler warnings, with the kernel's name (default: console.warn). */
  readonly onWarning?: (message: string) => void;
}

/** A WGSL module that did not compile; the message names the kernel and its DSL lines. */
export class WgslCompileError extends Error {
  constructor(
    message: string,
    readonly kernel: string,
  ) {
    super(message);
    this.name = 'WgslCompileError';
  }
}

// The spec's flag values; the GPUBufferUsage and GPUMapMode globals are missing in Node
// unless the webgpu package's globals were installed.
const USAGE_MAP_READ = 0x0001;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;
const SHADER_STAGE_COMPUTE = 0x4;

class WebGpuBuffer implements DeviceBuffer {
  constructor(
    readonly size: number,
    readonly gpu: GPUBuffer,
  ) {}
}

interface CompiledKernel {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** Buffers it binds: its inputs, then its output. */
  readonly arity: number;
}

interface Step {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

const PREFIX = 'webgpu backend';

/** A backend over `device` running `kernels`, the `wgslKernels` record of a rendered module. */
export function createWebGpuBackend(
  gpuDevice: GpuDeviceLike,
  kernels: Readonly<Record<string, WgslKernel>>,
  options: WebGpuBackendOptions = {},
): Backend {
  const device = gpuDevice as GPUDevice;
  const debug = options.debug ?? false;
  const onWarning = options.onWarning ?? ((message: string) => console.warn(message));
  const buffers = new Set<GPUBuffer>();
  const freeStaging = new Map<number, GPUBuffer[]>();
  const compiled = new Map<string, Promise<CompiledKernel>>();
  const layouts = new Map<number, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  let disposed = false;
  let lostReason: string | undefined;
  /** An error the GPU reported after the call that caused it returned. */
  let pending: Error | undefined;

  const lostError = () => new Error(`${PREFIX}: the device was lost (${lostReason})`);
  /** Rejects once the device is lost, so that waits on the GPU can race it. */
  const lost: Promise<never> = device.lost.then((info) => {
    lostReason ??= `${info.reason}: ${info.message || 'no message'}`;
    throw lostError();
  });
  lost.catch(() => {});
  const onUncaptured = (event: Event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    pending ??= new Error(`${PREFIX}: the GPU reported an error: ${error.message}`);
    // Handled: the next call throws it, so the implementation need not log it as well.
    event.preventDefault();
  };
  device.addEventListener('uncapturederror', onUncaptured);

  /** Throws if the backend cannot be used, or an error the GPU reported since the last call. */
  function check(action: string): void {
    if (disposed) throw new Error(`${PREFIX}: cannot ${action} after dispose()`);
    if (lostReason !== undefined) throw lostError();
    if (pending) {
      const error = pending;
      pending = undefined;
      throw error;
    }
  }

  function asWebGpuBuffer(buffer: DeviceBuffer): WebGpuBuffer {
    if (buffer instanceof WebGpuBuffer) return buffer;
    throw new Error(`${PREFIX}: not a buffer of this backend`);
  }

  /** Validation and out-of-memory scopes around `body`; their error, named by `what`. */
  function scoped(what: string, body: () => void): void {
    if (!debug) {
      body();
      return;
    }
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    try {
      body();
    } finally {
      for (const scope of [device.popErrorScope(), device.popErrorScope()]) {
        scope.then(
          (error) => {
            if (error) pending ??= new Error(`${PREFIX}: ${what} failed: ${error.message}`);
          },
          () => {},
        );
      }
    }
  }

  function allocate(size: number): DeviceBuffer {
    check('allocate');
    const bytes = Math.max(1, size) * 4;
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    if (bytes > limit) {
      throw new Error(`${PREFIX}: a buffer of ${size} floats exceeds the device's ${limit} bytes`);
    }
    const gpu = device.createBuffer({
      label: `gradc buffer of ${size}`,
      size: bytes,
      usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
    });
    buffers.add(gpu);
    return new WebGpuBuffer(size, gpu);
  }

  function upload(buffer: DeviceBuffer, data: Float32Array): void {
    check('upload');
    const target = asWebGpuBuffer(buffer);
    if (data.length !== target.size) {
      throw new Error(`${PREFIX}: uploading ${data.length} values into a buffer of ${target.size}`);
    }
    if (data.length === 0) return;
    scoped('an upload', () =>
      device.queue.writeBuffer(target.gpu, 0, data.buffer, data.byteOffset, data.byteLength),
    );
  }

  function takeStaging(bytes: number): GPUBuffer {
    const reused = freeStaging.get(bytes)?.pop();
    if (reused) return reused;
    const staging = device.createBuffer({
      label: `gradc staging of ${bytes} bytes`,
      size: bytes,
      usage: USAGE_MAP_READ | USAGE_COPY_DST,
    });
    buffers.add(staging);
    return staging;
  }

  function releaseStaging(bytes: number, staging: GPUBuffer): void {
    const list = freeStaging.get(bytes) ?? [];
    list.push(staging);
    freeStaging.set(bytes, list);
  }

  async function download(buffer: DeviceBuffer): Promise<Float32Array> {
    check('download');
    const source = asWebGpuBuffer(buffer);
    const bytes = source.gpu.size;
    const staging = takeStaging(bytes);
    const encoder = device.createCommandEncoder({ label: 'gradc download' });
    encoder.copyBufferToBuffer(source.gpu, 0, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    try {
      await Promise.race([staging.mapAsync(MAP_MODE_READ), lost]);
    } catch (error) {
      // A staging buffer whose map failed is not reused.
      staging.destroy();
      if (lostReason !== undefined) throw lostError();
      if (disposed) throw new Error(`${PREFIX}: the backend was disposed during a download`);
      // A destroyed device rejects the map before `device.lost` resolves: wait for it briefly.
      const lostSoon = await Promise.race([lost.catch(() => true), delay(100, false)]);
      if (lostSoon) throw lostError();
      throw new Error(`${PREFIX}: reading a buffer back failed: ${messageOf(error)}`);
    }
    const data = new Float32Array(staging.getMappedRange(0, source.size * 4).slice(0));
    staging.unmap();
    releaseStaging(bytes, staging);
    check('download');
    return data;
  }

  /** One bind group layout (inputs read-only, the output writable) per number of buffers. */
  function layoutFor(arity: number) {
    let layout = layouts.get(arity);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let binding = 0; binding < arity; binding++) {
        const type = binding === arity - 1 ? 'storage' : 'read-only-storage';
        entries.push({ binding, visibility: SHADER_STAGE_COMPUTE, buffer: { type } });
      }
      const group = device.createBindGroupLayout({ label: `gradc ${arity} buffers`, entries });
      const pipeline = device.createPipelineLayout({ bindGroupLayouts: [group] });
      layout = { group, pipeline };
      layouts.set(arity, layout);
    }
    return layout;
  }

  /** The pipeline of kernel `name`, compiled once (concurrently with other kernels). */
  function compile(name: string): Promise<CompiledKernel> {
    let result = compiled.get(name);
    if (!result) {
      result = compileKernel(name, kernelNamed(name));
      compiled.set(name, result);
      // A failed compile is reported to every caller and retried by none.
      result.catch(() => {});
    }
    return result;
  }

  function kernelNamed(name: string): WgslKernel {
    if (!Object.hasOwn(kernels, name)) {
      const count = Object.keys(kernels).length;
      throw new Error(
        `${PREFIX}: unknown kernel "${name}" (the kernels module has ${count}; ` +
          'was it rendered from the same build as the glue?)',
      );
    }
    return kernels[name];
  }

  async function compileKernel(name: string, kernel: WgslKernel): Promise<CompiledKernel> {
    const arity = bindingCount(kernel.code);
    const layout = layoutFor(arity);
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: name, code: kernel.code });
    const pipeline = device.createComputePipelineAsync({
      label: name,
      layout: layout.pipeline,
      compute: { module, entryPoint: kernel.entryPoint },
    });
    const scope = device.popErrorScope();
    const [info, created, scopeError] = await Promise.all([
      module.getCompilationInfo(),
      pipeline.then(
        (p) => ({ pipeline: p }),
        (error: unknown) => ({ error }),
      ),
      scope,
    ]);
    const errors = info.messages.filter((m) => m.type === 'error');
    const warnings = info.messages.filter((m) => m.type !== 'error');
    if (errors.length > 0) {
      throw new WgslCompileError(describe(name, kernel, 'does not compile', errors), name);
    }
    if (warnings.length > 0) onWarning(describe(name, kernel, 'compiles with warnings', warnings));
    if ('error' in created || scopeError) {
      const message = 'error' in created ? messageOf(created.error) : scopeError!.message;
      throw new WgslCompileError(describe(name, kernel, `has no pipeline: ${message}`, []), name);
    }
    return { pipeline: created.pipeline, layout: layout.group, arity };
  }

  async function prepare(launches: readonly Launch[]): Promise<PreparedProgram> {
    check('prepare');
    const names = [...new Set(launches.map((l) => l.kernel))];
    const byName = new Map<string, CompiledKernel>();
    const results = await Promise.all(names.map(compile));
    names.forEach((name, i) => byName.set(name, results[i]));
    check('prepare');
    launches.forEach((launch, i) => checkLaunch(launch, i, byName.get(launch.kernel)!));
    device.pushErrorScope('validation');
    let steps: Step[] = [];
    let thrown: unknown;
    try {
      steps = launches.map((launch, i) => {
        const { pipeline, layout } = byName.get(launch.kernel)!;
        const entries = launch.args.map((arg, binding) => ({
          binding,
          resource: { buffer: asWebGpuBuffer(arg).gpu },
        }));
        const label = `${launch.kernel} (launch ${i})`;
        const bindGroup = device.createBindGroup({ label, layout, entries });
        return { pipeline, bindGroup, workgroups: kernels[launch.kernel].workgroups };
      });
    } catch (error) {
      thrown = error;
    }
    // Popped whatever happened, so that the device's scope stack stays balanced.
    const error = await device.popErrorScope();
    if (thrown !== undefined) throw thrown;
    if (error) throw new Error(`${PREFIX}: binding the program's buffers failed: ${error.message}`);
    const what = `running ${programLabel(launches)}`;
    return { run: () => run(steps, what) };
  }

  function checkLaunch(launch: Launch, index: number, kernel: CompiledKernel): void {
    const where = `launch ${index} of kernel ${launch.kernel}`;
    if (launch.args.length !== kernel.arity) {
      const counts = `passes ${launch.args.length} buffers, it binds ${kernel.arity}`;
      throw new Error(`${PREFIX}: ${where} ${counts}`);
    }
    const output = launch.args[launch.args.length - 1];
    if (launch.args.slice(0, -1).includes(output)) {
      throw new Error(`${PREFIX}: ${where} reads the buffer it writes (WebGPU forbids the alias)`);
    }
  }

  function run(steps: readonly Step[], what: string): void {
    check('run');
    scoped(what, () => {
      const encoder = device.createCommandEncoder({ label: what });
      const pass = encoder.beginComputePass({ label: what });
      for (const step of steps) {
        const [x, y, z] = step.workgroups;
        if (x * y * z === 0) continue;
        pass.setPipeline(step.pipeline);
        pass.setBindGroup(0, step.bindGroup);
        pass.dispatchWorkgroups(x, y, z);
      }
      pass.end();
      device.queue.submit([encoder.finish()]);
    });
  }

  function dispose(): void {
    if (disposed) return;
    disposed = true;
    device.removeEventListener('uncapturederror', onUncaptured);
    for (const buffer of buffers) buffer.destroy();
    buffers.clear();
    freeStaging.clear();
  }

  return { name: 'webgpu', allocate, upload, download, prepare, dispose };
}

/** How many buffers a module binds: one past its highest `@binding(n)`. */
function bindingCount(code: string): number {
  let count = 0;
  for (const match of code.matchAll(/@binding\((\d+)\)/g)) {
    count = Math.max(count, Number(match[1]) + 1);
  }
  return count;
}

/**
 * `webgpu backend: kernel k does not compile:` / `  line 12:7: error: ...` / the line / then
 * `it computes:` and the kernel's DSL lines.
 */
function describe(
  name: string,
  kernel: WgslKernel,
  problem: string,
  messages: readonly GPUCompilationMessage[],
): string {
  const lines = kernel.code.split('\n');
  const details = messages.flatMap((m) => {
    const line = m.lineNum > 0 ? lines[m.lineNum - 1] : undefined;
    const head = `  line ${m.lineNum}:${m.linePos}: ${m.type}: ${m.message}`;
    return line === undefined ? [head] : [head, `    ${line.trim()}`];
  });
  const sources = kernel.sources.length > 0 ? kernel.sources : ['(no source lines recorded)'];
  const computes = ['  it computes:', ...sources.map((s) => `    ${s}`)];
  return [`${PREFIX}: kernel ${name} ${problem}`, ...details, ...computes].join('\n');
}

/** `program of 51 launches (train_000_matmul ... train_assign_fc3_b)`. */
function programLabel(launches: readonly Launch[]): string {
  if (launches.length === 0) return 'an empty program';
  const first = launches[0].kernel;
  const last = launches[launches.length - 1].kernel;
  const span = launches.length === 1 ? first : `${first} ... ${last}`;
  return `the program of ${launches.length} launches (${span})`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}
