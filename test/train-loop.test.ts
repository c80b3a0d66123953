/**
 * A whole training step through the generated kernels equals the float64 reference of the
 * compiled train graph; training is deterministic per seed; optimizer state persists.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAndOpen } from '../compiler/build.ts';
import { evaluateOutputs } from '../compiler/ir/evaluate.ts';
import type { BackendKind } from '../runtime/open.ts';
import { createRng } from '../runtime/init.ts';
import { loadCheckpoint, saveCheckpoint } from '../runtime/checkpoint-file.ts';
import type { Tensors } from '../runtime/checkpoint.ts';
import { trainClassifier } from '../runtime/train.ts';
import type { ClassificationSplit, EpochRecord, TrainProgress } from '../runtime/train.ts';
import { scratchFolders } from './scratch.ts';

const scratch = scratchFolders('train-loop-');

/** An epoch's record without its timings, which differ from run to run. */
function untimed(record: EpochRecord) {
  const { seconds: _s, samplesPerSecond: _r, ...rest } = record;
  return rest;
}

/** float32 storage of inputs and parameters, a handful of roundings per value. */
const STEP_REL_TOL = 1e-5;

async function open(file: string, backend: BackendKind) {
  const name = file.replace(/.*\//, '').replace('.ts', '');
  const outDir = join('.cache', 'train-loop', `${name}-${backend}`);
  return buildAndOpen(file, { backend, outDir });
}

/** Three Gaussian blobs in 6 dimensions: learnable by the tiny MLP. */
function blobs(count: number, seed: number): ClassificationSplit {
  const rng = createRng(seed);
  const images = new Float32Array(count * 6);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 3;
    labels[i] = label;
    for (let d = 0; d < 6; d++) images[i * 6 + d] = (d % 3 === label ? 2 : 0) + (rng() - 0.5);
  }
  return { images, labels, count };
}

/** The values of tensors by name, without their shapes. */
function values(tensors: Tensors): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, t.data]));
}

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i]), Math.abs(b[i])));
  return worst;
}

describe.each(['js', 'c'] as const)('training through the %s backend', (backend) => {
  it.each(['test/fixtures/tiny-mlp.ts', 'test/fixtures/tiny-adam.ts'])(
    'one step of %s matches the float64 reference of the train graph',
    async (file) => {
      const { model, compiled } = await open(file, backend);
      const train = compiled.graphs.find((g) => g.name === 'train')!.graph;
      const data = blobs(4, 1);
      const y = new Float32Array(12);
      data.labels.forEach((l, r) => (y[r * 3 + l] = 1));
      // Two steps, so that Adam's state and step counter are read back after an update.
      for (let step = 0; step < 2; step++) {
        const before = values(await model.snapshot());
        const hypers = Object.fromEntries(model.artifact.hypers.map((h) => [h.name, [h.value]]));
        const expected = evaluateOutputs(train, { ...before, ...hypers, x: data.images, y });
        const loss = await model.trainStep({ x: data.images, y });
        expect(relError([loss], expected.loss)).toBeLessThan(STEP_REL_TOL);
        const after = values(await model.snapshot());
        for (const [name, value] of Object.entries(after)) {
          expect(relError(value, expected[`update:${name}`]), name).toBeLessThan(STEP_REL_TOL);
        }
      }
      model.dispose();
    },
  );

  it('learns, and the same seed gives the same trajectory', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const { model } = await open('test/fixtures/tiny-adam.ts', backend);
      const { history } = await trainClassifier(model, blobs(300, 2), blobs(90, 3), { epochs: 4, progress: false });
      runs.push(history.map((h) => [h.trainLoss, h.testAccuracy]));
      model.dispose();
    }
    expect(runs[1]).toEqual(runs[0]);
    const [first, last] = [runs[0][0], runs[0][runs[0].length - 1]];
    expect(last[0]).toBeLessThan(first[0]);
    expect(last[1]).toBeGreaterThan(0.9);
  });

  it('resumes from a checkpoint exactly: stopped after epoch 2 and resumed, it ends as an unbroken run', async () => {
    const file = 'test/fixtures/tiny-scheduled.ts';
    const [train, test] = [blobs(60, 4), blobs(30, 5)];
    const options = { epochs: 5, progress: false, patience: 3 } as const;
    const { model: whole } = await open(file, backend);
    const unbroken = await trainClassifier(whole, train, test, options);
    const expected = await whole.snapshot();
    whole.dispose();

    const path = join(scratch(), 'run.ckpt');
    const { model: first } = await open(file, backend);
    await trainClassifier(first, train, test, {
      ...options,
      onEpoch: async (record, progress) => {
        if (record.epoch === 2) {
          saveCheckpoint(path, { kind: 'checkpoint', model: 'tiny-scheduled', progress, tensors: await first.snapshot() });
        }
      },
    });
    first.dispose();

    const saved = loadCheckpoint(path);
    expect(saved.progress?.epochsDone).toBe(2);
    expect(saved.progress?.stepsDone).toBe(30);
    const { model: resumed } = await open(file, backend);
    resumed.restore(saved.tensors);
    const rest = await trainClassifier(resumed, train, test, { ...options, resume: saved.progress! });
    expect(rest.history.map(untimed)).toEqual(unbroken.history.map(untimed));
    expect(rest.progress.stepsDone).toBe(75);
    expect(await resumed.snapshot()).toEqual(expected);

    // Another seed or batch order is refused before any step.
    await expect(
      trainClassifier(resumed, train, test, { ...options, epochs: 6, seed: 99, resume: saved.progress! }),
    ).rejects.toThrow('the checkpoint\'s run had batch-order seed 5, this one has 99');
    await expect(
      trainClassifier(resumed, blobs(64, 4), test, { ...options, resume: saved.progress! }),
    ).rejects.toThrow('training examples 60, this one has 64');
    resumed.dispose();
  });

  it('resumes the early-stopping count: a run resumed one epoch before it stopped stops at the same epoch', async () => {
    const file = 'test/fixtures/tiny-scheduled.ts';
    const train = blobs(60, 4);
    // Test labels that disagree with the training ones: the test loss rises as the model learns.
    const test = blobs(30, 5);
    const misleading = { ...test, labels: test.labels.map((l) => (l + 1) % 3) };
    const options = { epochs: 12, progress: false, patience: 2 } as const;
    const saved: { progress: TrainProgress; tensors: Tensors }[] = [];
    const { model: whole } = await open(file, backend);
    const unbroken = await trainClassifier(whole, train, misleading, {
      ...options,
      onEpoch: async (_record, progress) => void saved.push({ progress, tensors: await whole.snapshot() }),
    });
    whole.dispose();
    expect(unbroken.stoppedEarly).toBe(true);
    const stoppedAt = unbroken.history.length;
    expect(stoppedAt).toBeLessThan(options.epochs);

    const { model: resumed } = await open(file, backend);
    const before = saved[stoppedAt - 2];
    resumed.restore(before.tensors);
    const rest = await trainClassifier(resumed, train, misleading, { ...options, resume: before.progress });
    expect(rest.stoppedEarly).toBe(true);
    expect(rest.history.map(untimed)).toEqual(unbroken.history.map(untimed));
    // Resuming the stopped run trains nothing.
    const after = await trainClassifier(resumed, train, misleading, { ...options, resume: saved[stoppedAt - 1].progress });
    expect(after).toMatchObject({ stoppedEarly: true, progress: { epochsDone: stoppedAt } });
    resumed.dispose();
  });

  it('repeats a step on the batch already on the device when no feeds are given', async () => {
    const data = blobs(4, 6);
    const y = new Float32Array(12);
    data.labels.forEach((l, r) => (y[r * 3 + l] = 1));
    const feeds = { x: data.images, y };
    const { model: resident } = await open('test/fixtures/tiny-mlp.ts', backend);
    const { model: uploaded } = await open('test/fixtures/tiny-mlp.ts', backend);
    try {
      await expect(resident.trainStep()).rejects.toThrow('train: input "x" was never uploaded');
      const losses = [await resident.trainStep(feeds), await resident.trainStep(), await resident.trainStep()];
      const again = [await uploaded.trainStep(feeds), await uploaded.trainStep(feeds), await uploaded.trainStep(feeds)];
      expect(losses).toEqual(again);
      expect(await resident.snapshot()).toEqual(await uploaded.snapshot());
      // A refused call uploads nothing: the resident batch is still the whole old one.
      await expect(resident.trainStep({ x: blobs(4, 7).images } as typeof feeds)).rejects.toThrow(
        'train: missing input "y"',
      );
      expect(await resident.trainStep()).toEqual(await uploaded.trainStep(feeds));
      await resident.predict({ x: data.images });
      await expect(resident.trainStep()).rejects.toThrow('train: input "x" was last written by predict');
    } finally {
      resident.dispose();
      uploaded.dispose();
    }
  });

  it('refuses data whose shape does not match the model, naming both', async () => {
    const { model } = await open('test/fixtures/tiny-mlp.ts', backend);
    const wide = { images: new Float32Array(8 * 784), labels: new Uint8Array(8), count: 8 };
    try {
      await expect(trainClassifier(model, wide, wide, { epochs: 1, progress: false })).rejects.toThrow(
        'the model\'s input "x" takes 6 features per example, the training data has 784',
      );
    } finally {
      model.dispose();
    }
  });
});
