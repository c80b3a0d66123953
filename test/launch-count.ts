/**
 * Counting the kernels a backend actually issues, without changing the backend:
 *
 * - WebGPU: `countingGpuDevice` hands the backend a device whose command encoders count the
 *   `dispatchWorkgroups` calls recorded into each command buffer; a buffer's dispatches are
 *   added to the count when `queue.submit` takes it, so what is counted is what was
 *   submitted, not what was prepared.
 * - CUDA on the CPU emulator (test/cuda-emulator/): the emulated driver counts every grid it
 *   runs, launched on its own or replayed from a CUDA graph (the backend captures a program
 *   into a graph on its first run and replays it after); `emulatorGridCounter` reads that
 *   count.
 *
 * `openCountedModel` opens a compiled model on either, counted: bench/dispatches.ts and
 * test/dispatch-count.test.ts count through it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import koffi from 'koffi';
import type { CompileBuildOptions } from '../compiler/build.ts';
import { compileDefinition } from '../compiler/build.ts';
import type { CompiledModel } from '../compiler/compile.ts';
import { inputRoles } from '../compiler/compile.ts';
import { planMemory } from '../compiler/memory.ts';
import { schedule } from '../compiler/schedule.ts';
import { toArtifact } from '../compiler/codegen/glue.ts';
import { renderCuda } from '../compiler/codegen/render/cuda.ts';
import { WGSL_FILE_NAME, renderWgsl } from '../compiler/codegen/render/wgsl.ts';
import type { ModelDefinition } from '../dsl/model.ts';
import type { Backend, GpuDeviceLike } from '../runtime/backend.ts';
import type { WgslKernel } from '../artifact/kernels.ts';
import { createCudaBackend } from '../runtime/backends/cuda.ts';
import { createWebGpuBackend } from '../runtime/backends/webgpu.ts';
import { ModelInstance } from '../runtime/model.ts';
import { buildEmulatedDriver } from './cuda-emulator/build.ts';

/** `target` with some members replaced; every other method is called on `target` itself. */
function intercept<T extends object>(target: T, overrides: Readonly<Record<string, unknown>>): T {
  return new Proxy(target, {
    get(t, key) {
      if (typeof key === 'string' && Object.hasOwn(overrides, key)) return overrides[key];
      // The receiver is the real object: native getters and methods check what they run on.
      const value: unknown = Reflect.get(t, key, t);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
    },
  });
}

/** A device that counts the dispatches of every command buffer submitted through it. */
export interface CountingGpuDevice {
  /** Give this to the backend in place of the real device. */
  readonly device: GpuDeviceLike;
  /** Dispatches in command buffers submitted so far. */
  submitted(): number;
}

/** Wraps `device` (a GPUDevice) so that the dispatches it submits are counted. */
export function countingGpuDevice(device: GpuDeviceLike): CountingGpuDevice {
  const real = device as GPUDevice;
  const recorded = new WeakMap<GPUCommandBuffer, number>();
  let submitted = 0;

  const createCommandEncoder = (descriptor?: GPUCommandEncoderDescriptor): GPUCommandEncoder => {
    const encoder = real.createCommandEncoder(descriptor);
    let dispatches = 0;
    const beginComputePass = (passDescriptor?: GPUComputePassDescriptor): GPUComputePassEncoder => {
      const pass = encoder.beginComputePass(passDescriptor);
      const dispatchWorkgroups = (x: number, y?: number, z?: number): void => {
        pass.dispatchWorkgroups(x, y, z);
        dispatches++;
      };
      return intercept(pass, { dispatchWorkgroups });
    };
    const finish = (finishDescriptor?: GPUCommandBufferDescriptor): GPUCommandBuffer => {
      const buffer = encoder.finish(finishDescriptor);
      recorded.set(buffer, dispatches);
      return buffer;
    };
    return intercept(encoder, { beginComputePass, finish });
  };

  const queue = real.queue;
  const submit = (buffers: Iterable<GPUCommandBuffer>): undefined => {
    const list = [...buffers];
    queue.submit(list);
    for (const buffer of list) submitted += recorded.get(buffer) ?? 0;
    return undefined;
  };
  const countingQueue = intercept(queue, { submit });
  const wrapped = intercept(real, { createCommandEncoder, queue: countingQueue });
  return { device: wrapped, submitted: () => submitted };
}

/**
 * The emulated driver library's count of grids run (test/cuda-emulator/emulator.cpp). The
 * library is the one the backend loaded (`driverLibraries`), so both see the same count.
 */
export function emulatorGridCounter(driverLibrary: string): () => number {
  const read = koffi.load(driverLibrary).func('uint64_t gradc_emu_grids_run(void)');
  return () => Number(read());
}

/** Where a counted model runs: WebGPU on `device`, or CUDA on the CPU emulator. */
export type CountedTarget = { readonly kind: 'webgpu'; readonly device: GpuDeviceLike } | { readonly kind: 'cuda-emulator' };

/** A model opened on a backend, with the count of launches that backend has issued so far. */
export interface CountedModel {
  readonly model: ModelInstance;
  readonly backend: Backend;
  readonly launched: () => number;
}

let wgslFiles = 0;

/** The WGSL kernels of `compiled`, rendered into `dir` and imported as the glue imports them. */
async function wgslKernels(compiled: CompiledModel, dir: string): Promise<Readonly<Record<string, WgslKernel>>> {
  const file = join(dir, `counted-${process.pid}-${wgslFiles++}-${WGSL_FILE_NAME}`);
  writeFileSync(file, renderWgsl(compiled.schedule, { modelName: compiled.spec.name, buildId: 'counted' }));
  const module = (await import(pathToFileURL(file).href)) as { wgslKernels: Record<string, WgslKernel> };
  return module.wgslKernels;
}

/**
 * Opens `compiled` (its schedule as it stands, fused or not) as a model on `target`, its
 * parameters drawn from the model's seed; `dir` takes the rendered WGSL module.
 */
export async function openCountedModel(compiled: CompiledModel, target: CountedTarget, dir: string): Promise<CountedModel> {
  const artifact = toArtifact(compiled);
  if (target.kind === 'webgpu') {
    const counting = countingGpuDevice(target.device);
    const backend = createWebGpuBackend(counting.device, await wgslKernels(compiled, dir));
    return { model: await ModelInstance.open(artifact, backend), backend, launched: counting.submitted };
  }
  const meta = { modelName: compiled.spec.name, buildId: 'counted', archs: ['sm_90'] };
  const rendered = renderCuda(compiled.schedule, meta);
  const driver = buildEmulatedDriver(rendered.source);
  // The emulator links the kernels in; the image only has to be there.
  const image = new Uint8Array(16);
  const backend = createCudaBackend({ image, kernels: rendered.kernels, driverLibraries: [driver] });
  return { model: await ModelInstance.open(artifact, backend), backend, launched: emulatorGridCounter(driver) };
}

/**
 * `definition` compiled as `gradc build` compiles it (`fused`) and with the same graphs
 * scheduled without fusion across products and reductions (`unfused`: each product's and
 * reduction's elementwise work in map kernels of its own), both memory-planned.
 */
export function compileFusedAndUnfused(
  definition: ModelDefinition,
  options: CompileBuildOptions = {},
): { readonly fused: CompiledModel; readonly unfused: CompiledModel } {
  const fused = compileDefinition(definition, options);
  const graphs = fused.graphs.map((g) => ({ name: g.name, graph: g.graph }));
  const unfused = planMemory(schedule(graphs, inputRoles(fused.spec), [], { fuse: false }));
  return { fused, unfused: { ...fused, schedule: unfused } };
}

/** The number of kernels of program `name` in `compiled`'s schedule. */
export function kernelCount(compiled: CompiledModel, name: string): number {
  const program = compiled.schedule.programs.find((p) => p.name === name);
  if (!program) throw new Error(`no ${name} program`);
  return program.kernels.length;
}
