/**
 * Training through the generated kernels: a whole step equals the float64 reference of the
 * compiled train graph; `fit` is deterministic per seed, learns, follows the model's schedule,
 * trains every example of an epoch, resumes exactly and stops early as an unbroken run would;
 * `evaluate` and `predict` take any number of rows with exact results.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAndOpen } from '../cli/build-and-open.ts';
import { evaluateOutputs } from '../ir/evaluate.ts';
import type { BackendKind } from '../artifact/kernels.ts';
import { createRng } from '../runtime/init.ts';
import { loadCheckpoint, saveCheckpoint } from '../runtime/checkpoint-file.ts';
import type { Tensors } from '../runtime/checkpoint.ts';
import type { Dataset } from '../runtime/data/dataset.ts';
import { batchRows, evaluate, fit, predict, shuffledIndices } from '../runtime/fit.ts';
import type { EpochRecord, TrainProgress } from '../runtime/fit.ts';
import { learningRateAt } from '../runtime/lr-schedule.ts';
import type { ModelInstance } from '../runtime/model.ts';
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

/** Three Gaussian blobs in 6 dimensions, labels as class indices: learnable by the tiny MLP. */
function blobs(count: number, seed: number): Dataset {
  const rng = createRng(seed);
  const x = new Float32Array(count * 6);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 3;
    y[i] = label;
    for (let d = 0; d < 6; d++) x[i * 6 + d] = (d % 3 === label ? 2 : 0) + (rng() - 0.5);
  }
  return { count, x, xWidth: 6, y, yWidth: 1, classes: 3 };
}

/** y = (sin(x0 + x1), x2 * x0) on [-1, 1]^3: a smooth target for the tanh regression model. */
function wave(count: number, seed: number): Dataset {
  const rng = createRng(seed);
  const x = Float32Array.from({ length: count * 3 }, () => 2 * rng() - 1);
  const y = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) {
    const [a, b, c] = [x[3 * i], x[3 * i + 1], x[3 * i + 2]];
    y[2 * i] = Math.sin(a + b);
    y[2 * i + 1] = c * a;
  }
  return { count, x, xWidth: 3, y, yWidth: 2 };
}

function oneHot(data: Dataset, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * 3);
  for (let r = 0; r < rows.length; r++) out[r * 3 + data.y[rows[r]]] = 1;
  return out;
}

function featuresOf(data: Dataset, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * data.xWidth);
  for (let r = 0; r < rows.length; r++) out.set(data.x.subarray(rows[r] * data.xWidth, (rows[r] + 1) * data.xWidth), r * data.xWidth);
  return out;
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

/** The loss of one example: the evaluate program on a batch of that example repeated. */
async function exampleLoss(model: ModelInstance, data: Dataset, i: number): Promise<number> {
  const rows = new Array<number>(model.artifact.batch).fill(i);
  return model.evaluateLoss({ x: featuresOf(data, rows), y: oneHot(data, rows) });
}

describe.each(['js', 'c'] as const)('training through the %s backend', (backend) => {
  it.each(['test/fixtures/tiny-mlp.ts', 'test/fixtures/tiny-adam.ts'])(
    'one step of %s matches the float64 reference of the train graph',
    async (file) => {
      const { model, compiled } = await open(file, backend);
      const train = compiled.graphs.find((g) => g.name === 'train')!.graph;
      const data = blobs(4, 1);
      const rows = [0, 1, 2, 3];
      const feeds = { x: featuresOf(data, rows), y: oneHot(data, rows) };
      // Two steps, so that Adam's state and step counter are read back after an update.
      for (let step = 0; step < 2; step++) {
        const before = values(await model.snapshot());
        const hypers = Object.fromEntries(model.artifact.hypers.map((h) => [h.name, [h.value]]));
        const expected = evaluateOutputs(train, { ...before, ...hypers, ...feeds });
        const loss = await model.trainStep(feeds);
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
      const { history } = await fit(model, blobs(300, 2), { epochs: 4, validation: blobs(90, 3) });
      runs.push(history.map((h) => [h.loss, h.validation?.accuracy, h.validation?.loss]));
      model.dispose();
    }
    expect(runs[1]).toEqual(runs[0]);
    const [first, last] = [runs[0][0], runs[0][runs[0].length - 1]];
    expect(last[0]).toBeLessThan(first[0]!);
    expect(last[1]).toBeGreaterThan(0.9);
  });

  it('learns a regression with MSE and Adam, reporting validation MSE and MAE', async () => {
    const { model } = await open('test/fixtures/tiny-regression.ts', backend);
    try {
      const validation = wave(100, 8);
      const before = await evaluate(model, validation);
      const { history } = await fit(model, wave(500, 7), { epochs: 30, validation });
      const after = history[history.length - 1].validation!;
      expect(Object.keys(after).sort()).toEqual(['loss', 'mae', 'mse']);
      expect(after.mse).toBeLessThan(0.02);
      expect(after.mse).toBeLessThan(before.mse! / 10);
      // The model's loss is MSE (its mean over both outputs): the same number, computed twice.
      expect(Math.abs(after.loss! - after.mse!)).toBeLessThan(1e-6);
      // MSE and MAE against a direct computation from predict's output.
      const { value } = await predict(model, validation);
      let squared = 0;
      let absolute = 0;
      for (let i = 0; i < value.length; i++) {
        squared += (value[i] - validation.y[i]) ** 2;
        absolute += Math.abs(value[i] - validation.y[i]);
      }
      expect(after.mse).toBeCloseTo(squared / value.length, 10);
      expect(after.mae).toBeCloseTo(absolute / value.length, 10);
    } finally {
      model.dispose();
    }
  });

  it('trains every example of an epoch: the last partial batch is completed from the epoch\'s start', () => {
    const order = shuffledIndices(10, createRng(1));
    const batches = [0, 1, 2].map((step) => [...batchRows(order, step, 4)]);
    expect(batches.flat().slice(0, 10).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(batches[2]).toEqual([order[8], order[9], order[0], order[1]]);
    // Fewer examples than a batch: the order repeats until the batch is full.
    const few = shuffledIndices(3, createRng(2));
    expect([...batchRows(few, 0, 8)]).toEqual([0, 1, 2, 0, 1, 2, 0, 1].map((i) => few[i]));
  });

  it('follows the model\'s learning-rate schedule step by step, also through trainStep', async () => {
    const { model } = await open('test/fixtures/tiny-scheduled.ts', backend);
    try {
      const data = blobs(8, 2);
      const feeds = { x: featuresOf(data, [0, 1, 2, 3]), y: oneHot(data, [0, 1, 2, 3]) };
      const base = model.artifact.hypers.find((h) => h.name === 'lr')!.value;
      const rates: number[] = [];
      for (let step = 0; step < 12; step++) {
        rates.push(model.learningRate!);
        await model.trainStep(feeds);
      }
      expect(model.stepsTaken).toBe(12);
      expect(rates).toEqual(rates.map((_, step) => learningRateAt(model.artifact.schedule, base, step)));
      // Warm-up: the rate rises over the first 10 steps.
      expect(rates[0]).toBeLessThan(rates[9]);
      const { history } = await fit(model, data, { epochs: 1 });
      expect(history[0].learningRate).toBe(learningRateAt(model.artifact.schedule, base, 13));
    } finally {
      model.dispose();
    }
  });

  it('evaluates any number of rows exactly: the padded last batch does not bias the loss', async () => {
    const { model } = await open('test/fixtures/tiny-mlp.ts', backend);
    try {
      await fit(model, blobs(40, 3), { epochs: 2 });
      for (const count of [1, 3, 4, 9, 10]) {
        const data = blobs(count, 9);
        const { loss, accuracy } = await evaluate(model, data);
        let expected = 0;
        for (let i = 0; i < count; i++) expected += await exampleLoss(model, data, i);
        expect(Math.abs(loss! - expected / count)).toBeLessThan(1e-5);
        const { probs } = await predict(model, data);
        expect(probs.length).toBe(count * 3);
        let correct = 0;
        for (let i = 0; i < count; i++) {
          const row = [...probs.subarray(3 * i, 3 * i + 3)];
          if (row.indexOf(Math.max(...row)) === data.y[i]) correct++;
        }
        expect(accuracy).toBe(correct / count);
      }
    } finally {
      model.dispose();
    }
  });

  it('predicts any number of rows: each row as a batch of its own would give it', async () => {
    const { model } = await open('test/fixtures/tiny-mlp.ts', backend);
    try {
      const data = blobs(7, 4);
      const { probs } = await predict(model, data.x);
      for (let i = 0; i < 7; i++) {
        const alone = await model.predict({ x: featuresOf(data, [i, i, i, i]) });
        expect([...probs.subarray(3 * i, 3 * i + 3)]).toEqual([...alone.probs.subarray(0, 3)]);
      }
      await expect(predict(model, new Float32Array(13))).rejects.toThrow('13 values are not whole rows of 6 features');
    } finally {
      model.dispose();
    }
  });

  it('predicts every prediction of a model with several; metrics read the one named', async () => {
    const { model } = await open('test/fixtures/two-heads.ts', backend);
    try {
      const data = blobs(6, 3);
      const { probs, logits } = await predict(model, data);
      expect(probs.length).toBe(18);
      expect(logits.length).toBe(18);
      // Both are as wide as the target: which one metrics read must be said.
      await expect(evaluate(model, data)).rejects.toThrow('say which one metrics use with the `prediction` option');
      const { accuracy } = await evaluate(model, data, { prediction: 'logits' });
      expect(accuracy).toBe((await evaluate(model, data, { prediction: 'probs' })).accuracy);
      const { history } = await fit(model, blobs(12, 1), { epochs: 1, validation: data, prediction: 'probs' });
      expect(history[0].validation?.accuracy).toBeGreaterThanOrEqual(0);
    } finally {
      model.dispose();
    }
  });

  it('resumes from a checkpoint exactly: stopped after epoch 2 and resumed, it ends as an unbroken run', async () => {
    const file = 'test/fixtures/tiny-scheduled.ts';
    const [train, validation] = [blobs(58, 4), blobs(30, 5)];
    const options = { epochs: 5, validation, earlyStopping: { patience: 3 } } as const;
    const { model: whole } = await open(file, backend);
    const unbroken = await fit(whole, train, options);
    const expected = await whole.snapshot();
    whole.dispose();

    const path = join(scratch(), 'run.ckpt');
    const { model: first } = await open(file, backend);
    await fit(first, train, {
      ...options,
      callbacks: {
        onEpochEnd: async (record, progress) => {
          if (record.epoch === 2) {
            saveCheckpoint(path, { kind: 'checkpoint', model: 'tiny-scheduled', progress, tensors: await first.snapshot() });
          }
        },
      },
    });
    first.dispose();

    const saved = loadCheckpoint(path);
    expect(saved.progress?.epochsDone).toBe(2);
    // 58 examples in batches of 4: 15 steps an epoch, the last completed from the epoch's start.
    expect(saved.progress?.stepsDone).toBe(30);
    const { model: resumed } = await open(file, backend);
    resumed.restore(saved.tensors);
    const rest = await fit(resumed, train, { ...options, resume: saved.progress! });
    expect(rest.history.map(untimed)).toEqual(unbroken.history.map(untimed));
    expect(rest.progress.stepsDone).toBe(75);
    expect(await resumed.snapshot()).toEqual(expected);

    // Another seed or other data is refused before any step.
    await expect(
      fit(resumed, train, { ...options, epochs: 6, seed: 99, resume: saved.progress! }),
    ).rejects.toThrow("the checkpoint's run had seed 5, this one has 99");
    await expect(fit(resumed, blobs(64, 4), { ...options, resume: saved.progress! })).rejects.toThrow(
      "the checkpoint's run had examples 58, this one has 64",
    );
    resumed.dispose();
  });

  it('resumes the early-stopping count: a run resumed one epoch before it stopped stops at the same epoch', async () => {
    const file = 'test/fixtures/tiny-scheduled.ts';
    const train = blobs(60, 4);
    // Validation labels that disagree with the training ones: the loss rises as the model learns.
    const test = blobs(30, 5);
    const misleading = { ...test, y: test.y.map((l) => (l + 1) % 3) };
    const options = { epochs: 12, validation: misleading, earlyStopping: { patience: 2 } } as const;
    const saved: { progress: TrainProgress; tensors: Tensors }[] = [];
    const { model: whole } = await open(file, backend);
    const unbroken = await fit(whole, train, {
      ...options,
      callbacks: { onEpochEnd: async (_record, progress) => void saved.push({ progress, tensors: await whole.snapshot() }) },
    });
    whole.dispose();
    expect(unbroken.stoppedEarly).toBe(true);
    const stoppedAt = unbroken.history.length;
    expect(stoppedAt).toBeLessThan(options.epochs);

    const { model: resumed } = await open(file, backend);
    const before = saved[stoppedAt - 2];
    resumed.restore(before.tensors);
    const rest = await fit(resumed, train, { ...options, resume: before.progress });
    expect(rest.stoppedEarly).toBe(true);
    expect(rest.history.map(untimed)).toEqual(unbroken.history.map(untimed));
    // Resuming the stopped run trains nothing.
    const after = await fit(resumed, train, { ...options, resume: saved[stoppedAt - 1].progress });
    expect(after).toMatchObject({ stoppedEarly: true, progress: { epochsDone: stoppedAt } });
    resumed.dispose();
  });

  it('restores the best epoch\'s parameters when early stopping asks for them', async () => {
    const train = blobs(60, 4);
    const test = blobs(30, 5);
    const misleading = { ...test, y: test.y.map((l) => (l + 1) % 3) };
    const { model } = await open('test/fixtures/tiny-scheduled.ts', backend);
    try {
      let best: { loss: number; weights: Tensors } | undefined;
      const result = await fit(model, train, {
        epochs: 12,
        validation: misleading,
        earlyStopping: { patience: 2, restoreBest: true },
        callbacks: {
          onEpochEnd: async (record) => {
            const loss = record.validation!.loss!;
            if (!best || loss < best.loss) best = { loss, weights: await model.weights() };
          },
        },
      });
      expect(result.stoppedEarly).toBe(true);
      expect(await model.weights()).toEqual(best!.weights);
    } finally {
      model.dispose();
    }
  });

  it('repeats a step on the batch already on the device when no feeds are given', async () => {
    const data = blobs(4, 6);
    const rows = [0, 1, 2, 3];
    const feeds = { x: featuresOf(data, rows), y: oneHot(data, rows) };
    const { model: resident } = await open('test/fixtures/tiny-mlp.ts', backend);
    const { model: uploaded } = await open('test/fixtures/tiny-mlp.ts', backend);
    try {
      await expect(resident.trainStep()).rejects.toThrow('train: input "x" was never uploaded');
      const losses = [await resident.trainStep(feeds), await resident.trainStep(), await resident.trainStep()];
      const again = [await uploaded.trainStep(feeds), await uploaded.trainStep(feeds), await uploaded.trainStep(feeds)];
      expect(losses).toEqual(again);
      expect(await resident.snapshot()).toEqual(await uploaded.snapshot());
      // A refused call uploads nothing: the resident batch is still the whole old one.
      await expect(resident.trainStep({ x: blobs(4, 7).x } as typeof feeds)).rejects.toThrow(
        'train: missing input "y"',
      );
      expect(await resident.trainStep()).toEqual(await uploaded.trainStep(feeds));
      await resident.predict({ x: feeds.x });
      await expect(resident.trainStep()).rejects.toThrow('train: input "x" was last written by predict');
    } finally {
      resident.dispose();
      uploaded.dispose();
    }
  });

  it('refuses data whose shape does not match the model, naming both', async () => {
    const { model } = await open('test/fixtures/tiny-mlp.ts', backend);
    const wide: Dataset = { count: 8, x: new Float32Array(8 * 784), xWidth: 784, y: new Int32Array(8), yWidth: 1, classes: 3 };
    const fourClasses: Dataset = { ...blobs(8, 1), classes: 4 };
    try {
      await expect(fit(model, wide, { epochs: 1 })).rejects.toThrow(
        'the training data has 784 features per example, the model\'s input "x" takes 6',
      );
      await expect(fit(model, fourClasses, { epochs: 1 })).rejects.toThrow(
        'the training data has 4 classes, the model\'s target input "y" has 3 columns',
      );
    } finally {
      model.dispose();
    }
  });
});
