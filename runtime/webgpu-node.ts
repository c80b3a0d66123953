/**
 * A WebGPU device in Node, from the `webgpu` package (Google's Dawn). Without a GPU, Dawn runs
 * on Mesa's lavapipe (Vulkan on the CPU), which `bash scripts/setup-webgpu.sh` installs.
 * The backend itself (runtime/backends/webgpu.ts) takes any GPUDevice, so browsers never load
 * this file.
 */
import { mkdtempSync } from 'node:fs';
import type { GpuDeviceLike } from './backend.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Limits worth raising above WebGPU's defaults when the adapter offers more. Generated kernels
 * stay within the defaults (8 storage buffers, 16 KiB of workgroup memory, 256 invocations),
 * so these only help larger buffers and hand-written kernels.
 */
const RAISED_LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
] as const;

const SETUP_HINT =
  'Dawn needs a Vulkan driver: a GPU driver, or on a machine without a GPU Mesa\'s lavapipe ' +
  '(mesa-vulkan-drivers 25 or later, from bookworm-backports on Debian 12); ' +
  '`bash scripts/setup-webgpu.sh` installs it.';

type WebGpuModule = typeof import('webgpu');

let gpu: GPU | undefined;

/**
 * Dawn (through Mesa's Vulkan loader) wants XDG_RUNTIME_DIR to name a private folder; when it
 * is unset, a fresh 0700 folder under the system's temporary folder is used.
 */
function ensureRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'gradc-xdg-'));
}

async function loadDawn(): Promise<GPU> {
  if (gpu) return gpu;
  let dawn: WebGpuModule;
  try {
    dawn = await import('webgpu');
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`the webgpu package (Dawn for Node) could not be loaded: ${why}`);
  }
  // GPUBufferUsage, GPUMapMode and friends, as a browser defines them.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) Object.assign(globalThis, { [name]: value });
  }
  gpu = dawn.create([]);
  return gpu;
}

/** Raises RAISED_LIMITS to what `adapter` supports. */
function raisedLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) limits[name] = adapter.limits[name];
  return limits;
}

/**
 * A GPUDevice from the first adapter Dawn finds, with the limits that matter raised to the
 * adapter's. Throws an error saying what to install when there is no adapter.
 */
export async function requestNodeGpuDevice(): Promise<GpuDeviceLike> {
  ensureRuntimeDir();
  const instance = await loadDawn();
  const adapter = await instance.requestAdapter();
  if (!adapter) throw new Error(`no WebGPU adapter found. ${SETUP_HINT}`);
  try {
    return await adapter.requestDevice({
      label: 'gradc',
      requiredLimits: raisedLimits(adapter),
    });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`the WebGPU adapter refused a device: ${why}. ${SETUP_HINT}`);
  }
}
