/** Checkpoints round-trip, reject damaged files, and a failed save keeps the old file. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchFolders } from './scratch.ts';
import fc from 'fast-check';
import {
  CheckpointError, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint,
} from '../runtime/checkpoint.ts';

const tensorsArb = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9.]{0,8}$/),
  fc.float32Array({ minLength: 0, maxLength: 20 }),
  { maxKeys: 5 },
);

const scratchDir = scratchFolders('ckpt-');

describe('checkpoints', () => {
  it('round-trip any tensors bit for bit', () => {
    fc.assert(
      fc.property(tensorsArb, (tensors) => {
        const bytes = encodeCheckpoint({ model: 'm', tensors }, {});
        const back = decodeCheckpoint(bytes, 'mem');
        expect(back.model).toBe('m');
        expect(Object.keys(back.tensors)).toEqual(Object.keys(tensors));
        for (const [name, values] of Object.entries(tensors)) {
          expect(new Uint8Array(back.tensors[name].buffer)).toEqual(new Uint8Array(values.slice().buffer));
        }
      }),
    );
  });

  it('carry the training progress, and refuse a progress that does not add up', () => {
    const record = { epoch: 1, trainLoss: 0.5, testLoss: 0.4, testAccuracy: 0.9, seconds: 1, samplesPerSecond: 60, learningRate: 0.1 };
    const progress = {
      epochsDone: 1, stepsDone: 10, seed: 3, examples: 60, batch: 6,
      bestTestLoss: 0.4, epochsSinceBest: 0, history: [record],
    };
    const tensors = { w: new Float32Array([1, 2]) };
    expect(decodeCheckpoint(encodeCheckpoint({ model: 'm', progress, tensors }, {}), 'a').progress).toEqual(progress);
    const damaged = (change: object) =>
      () => decodeCheckpoint(encodeCheckpoint({ model: 'm', progress: { ...progress, ...change }, tensors }, {}), 'b.ckpt');
    expect(damaged({ stepsDone: 11 })).toThrow('b.ckpt: the checkpoint\'s progress steps 11 are not 1 epochs of 60 examples in batches of 6');
    expect(damaged({ history: [] })).toThrow('history does not hold one record per epoch done');
    expect(damaged({ history: [null] })).toThrow('history record 1 has no number "epoch"');
    expect(damaged({ epochsSinceBest: -1 })).toThrow('field "epochsSinceBest" is not a count');
    expect(damaged({ seed: 'x' })).toThrow('field "seed" is not a number');
  });

  it('reject every truncation with an error naming the file', () => {
    const bytes = encodeCheckpoint({ model: 'm', tensors: { w: new Float32Array([1, 2, 3]) } }, { w: [3] });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeCheckpoint(bytes.subarray(0, cut), 'ckpt.bin')).toThrow(CheckpointError);
      expect(() => decodeCheckpoint(bytes.subarray(0, cut), 'ckpt.bin')).toThrow(/^ckpt\.bin: /);
    }
  });

  it('save atomically: when the write fails, the old checkpoint is intact', () => {
    const dir = scratchDir();
    const path = join(dir, 'model.ckpt');
    saveCheckpoint(path, { model: 'm', tensors: { w: new Float32Array([1, 2]) } }, {});
    const before = readFileSync(path);
    // The temporary file cannot be created (a folder holds its name), so the save fails
    // before anything touches the checkpoint; a save that wrote in place would succeed.
    mkdirSync(`${path}.tmp-${process.pid}`);
    const next = { model: 'm', tensors: { w: new Float32Array([3, 4]) } };
    expect(() => saveCheckpoint(path, next, {})).toThrow();
    expect(readFileSync(path)).toEqual(before);
    expect(loadCheckpoint(path).tensors.w).toEqual(new Float32Array([1, 2]));
  });

  it('report a missing or foreign file clearly', () => {
    expect(() => loadCheckpoint('.cache/none.ckpt')).toThrow(/none\.ckpt: cannot read the checkpoint/);
    const dir = scratchDir();
    writeFileSync(join(dir, 'x'), 'hello');
    expect(() => loadCheckpoint(join(dir, 'x'))).toThrow(/not a gradc checkpoint/);
    expect(existsSync(join(dir, 'x'))).toBe(true);
  });
});
