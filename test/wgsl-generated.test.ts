/**
 * Every WGSL module checked in under generated/ compiles in Dawn (on lavapipe where there is no
 * GPU) without errors or warnings, and makes a valid compute pipeline.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WgslKernel } from '../artifact/kernels.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';
import { EXAMPLES } from './examples.ts';

let device: GPUDevice;

beforeAll(async () => {
  device = (await requestNodeGpuDevice()) as GPUDevice;
});

afterAll(() => device?.destroy());

async function compile(name: string, kernel: WgslKernel): Promise<string[]> {
  const module = device.createShaderModule({ label: name, code: kernel.code });
  const info = await module.getCompilationInfo();
  device.pushErrorScope('validation');
  await device.createComputePipelineAsync({
    label: name,
    layout: 'auto',
    compute: { module, entryPoint: kernel.entryPoint },
  });
  const error = await device.popErrorScope();
  return [
    ...info.messages.map((m) => `${name}:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`),
    ...(error ? [`${name}: ${error.message}`] : []),
  ];
}

describe.each(EXAMPLES.filter((e) => e.targets.includes('wgsl')))('generated/$name', (example) => {
  it('compiles every WGSL kernel without a message', async () => {
    const file = resolve('generated', example.name, 'kernels-wgsl.js');
    const { wgslKernels } = (await import(pathToFileURL(file).href)) as {
      wgslKernels: Readonly<Record<string, WgslKernel>>;
    };
    const names = Object.keys(wgslKernels);
    expect(names.length).toBeGreaterThan(0);
    const messages = await Promise.all(names.map((n) => compile(n, wgslKernels[n])));
    expect(messages.flat()).toEqual([]);
  });
});
