/**
 * Each kernel of a program is one dispatch on WebGPU and one launch on CUDA, counted where the
 * backends issue them (test/launch-count.ts): the dispatches in the command buffers the WebGPU
 * backend submits (Dawn; lavapipe where there is no GPU), and the grids the CPU emulator of
 * CUDA runs for the CUDA backend, which captures a program into a graph on its first run and
 * replays the graph after. The MNIST MLP at batch 60, fused as `gradc build` compiles it and
 * unfused, takes two train steps and one predict on each; every step must issue exactly its
 * program's kernels (docs/fusion.md counts dispatches by kernels).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledModel } from '../compiler/compile.ts';
import mnistMlp from '../examples/mnist-mlp.ts';
import type { GpuDeviceLike } from '../runtime/backend.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';
import type { CountedTarget } from './launch-count.ts';
import { compileFusedAndUnfused, kernelCount, openCountedModel } from './launch-count.ts';
import { syntheticMnistBatch } from '../bench/synthetic.ts';

const BATCH = 60;
const { fused, unfused } = compileFusedAndUnfused(mnistMlp, { batch: BATCH });
const dir = mkdtempSync(join(tmpdir(), 'gradc-dispatch-count-'));
let device: GpuDeviceLike | undefined;

afterAll(() => {
  (device as GPUDevice | undefined)?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Launches counted for two train steps and one predict of `compiled` on `target`. */
async function countSteps(compiled: CompiledModel, target: CountedTarget): Promise<{ train: number[]; predict: number }> {
  const { model, backend, launched } = await openCountedModel(compiled, target, dir);
  try {
    const { x, y } = syntheticMnistBatch(BATCH, 3);
    const counted = async (step: () => Promise<unknown>): Promise<number> => {
      const before = launched();
      await step();
      return launched() - before;
    };
    const train = [await counted(() => model.trainStep({ x, y })), await counted(() => model.trainStep({ x, y }))];
    const predict = await counted(() => model.predict({ x }));
    return { train, predict };
  } finally {
    backend.dispose();
  }
}

it('the MLP at batch 60 compiles to 13 train kernels fused, more unfused', () => {
  expect(kernelCount(fused, 'train')).toBe(13);
  expect(kernelCount(unfused, 'train')).toBeGreaterThan(13);
  expect(kernelCount(unfused, 'predict')).toBeGreaterThan(kernelCount(fused, 'predict'));
});

const VARIANTS = [
  { variant: 'fused', compiled: fused },
  { variant: 'unfused', compiled: unfused },
] as const;

describe('dispatches on WebGPU', () => {
  beforeAll(async () => {
    device = await requestNodeGpuDevice();
  });

  it.each(VARIANTS)('a train step and a predict of the $variant MLP dispatch one per kernel', async ({ compiled }) => {
    const counts = await countSteps(compiled, { kind: 'webgpu', device: device! });
    const kernels = kernelCount(compiled, 'train');
    expect(counts.train).toEqual([kernels, kernels]);
    expect(counts.predict).toBe(kernelCount(compiled, 'predict'));
  });
});

describe('launches on the CUDA emulator', () => {
  it.each(VARIANTS)('a train step and a predict of the $variant MLP launch one per kernel (captured, then replayed)', async ({ compiled }) => {
    const counts = await countSteps(compiled, { kind: 'cuda-emulator' });
    const kernels = kernelCount(compiled, 'train');
    expect(counts.train).toEqual([kernels, kernels]);
    expect(counts.predict).toBe(kernelCount(compiled, 'predict'));
  });
});
