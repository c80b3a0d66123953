// Opens the MNIST MLP of examples/mnist-mlp.ts on the backend the page was asked for: the
// generated WGSL kernels through navigator.gpu, or the generated JS kernels.
import { createMnistMlp } from '../../generated/mnist-mlp/model.js';
import type { MnistMlp } from '../../generated/mnist-mlp/model.js';
import type { PageBackend } from './settings.ts';

/** WebGPU is missing or unusable here; the page explains and offers the JS backend. */
export class NoWebGpuError extends Error {
  override readonly name = 'NoWebGpuError';
}

export interface OpenedModel {
  readonly model: MnistMlp;
  /** What runs the kernels, for the page, e.g. "WebGPU (google swiftshader)". */
  readonly description: string;
}

const CHROME_FLAG = 'Chrome on Linux: chrome://flags/#enable-unsafe-webgpu';

async function requestGpuDevice(): Promise<{ device: GPUDevice; adapter: string }> {
  if (!globalThis.isSecureContext) {
    throw new NoWebGpuError('WebGPU needs a secure context: open the page on localhost or https.');
  }
  if (!navigator.gpu) {
    throw new NoWebGpuError(
      'This browser has no WebGPU (navigator.gpu is missing): use a recent Chrome, Edge or ' +
        `Safari, or switch WebGPU on in the browser (${CHROME_FLAG}).`,
    );
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    throw new NoWebGpuError(
      'WebGPU is present but gave no adapter: the browser found no usable GPU or has WebGPU ' +
        `switched off (${CHROME_FLAG}).`,
    );
  }
  const { vendor, architecture } = adapter.info;
  const device = await adapter.requestDevice();
  return { device, adapter: [vendor, architecture].filter(Boolean).join(' ') || 'unknown' };
}

/** Opens the model; `onDeviceLost` hears of a GPU device lost while the page uses it. */
export async function openModel(
  backend: PageBackend,
  onDeviceLost: (message: string) => void,
): Promise<OpenedModel> {
  if (backend === 'js') {
    return { model: await createMnistMlp('js'), description: 'JavaScript kernels on the CPU' };
  }
  const { device, adapter } = await requestGpuDevice();
  void device.lost.then((info) => {
    if (info.reason !== 'destroyed') onDeviceLost(`the WebGPU device was lost: ${info.message}`);
  });
  const model = await createMnistMlp('webgpu', { device });
  return { model, description: `WGSL kernels on WebGPU (${adapter})` };
}
