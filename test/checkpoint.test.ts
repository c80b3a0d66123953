/**
 * gradc checkpoints and weights: safetensors files with gradc's metadata that round-trip,
 * refuse damaged data, hostile files and shapes that are not the model's, and save atomically.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndOpen } from '../cli/build-and-open.ts';
import type { Checkpoint, CheckpointToWrite, Tensors } from '../runtime/checkpoint.ts';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../runtime/checkpoint.ts';
import { loadCheckpoint, saveCheckpoint } from '../runtime/checkpoint-file.ts';
import type { ModelInstance } from '../runtime/model.ts';
import { MAX_HEADER_BYTES } from '../runtime/safetensors.ts';
import type { TrainProgress } from '../runtime/fit.ts';
import { specBytes, specFloat32, specRead, specWrite } from './safetensors-spec.ts';
import { scratchFolders } from './scratch.ts';

const scratchDir = scratchFolders('ckpt-');

function record<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

function bits(values: Float32Array): number[] {
  return [...new Uint32Array(values.slice().buffer)];
}

const tensorsArb: fc.Arbitrary<Tensors> = fc
  .uniqueArray(
    fc.tuple(
      fc.oneof(fc.constantFrom('__proto__', 'fc1.w', 'ü"'), fc.string({ unit: 'binary', maxLength: 8 })).filter((n) => n !== '__metadata__'),
      // Finite values: a checkpoint never holds NaN or infinities (the safetensors layer does).
      fc.float32Array({ maxLength: 12, noNaN: true, noDefaultInfinity: true }),
    ),
    { selector: ([name]) => name, maxLength: 5 },
  )
  .map((entries) => record(entries.map(([name, data]) => [name, { shape: [data.length], data }] as const)));

const RECORD = { epoch: 1, loss: 0.5, seconds: 1, samplesPerSecond: 60, learningRate: 0.1, validation: { loss: 0.4, accuracy: 0.9 } };
const PROGRESS: TrainProgress = {
  epochsDone: 1, stepsDone: 10, seed: 3, examples: 60, batch: 6, lastBatch: 'fill', shuffle: true,
  monitor: 'val_loss', best: 0.4, epochsSinceBest: 0, history: [RECORD],
};
const TENSORS = record([
  ['w', { shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }],
  ['b', { shape: [2], data: Float32Array.of(-1, 0.5) }],
]);
const CHECKPOINT: CheckpointToWrite = { kind: 'checkpoint', model: 'm', progress: PROGRESS, tensors: TENSORS };

/** The error `f` throws (it must throw). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('gradc checkpoint and weights files', () => {
  it('round-trip kind, model and tensors bit for bit, from a Uint8Array or an ArrayBuffer', () => {
    fc.assert(
      fc.property(tensorsArb, fc.constantFrom('checkpoint', 'weights') as fc.Arbitrary<'checkpoint' | 'weights'>, fc.string(), (tensors, kind, model) => {
        const bytes = encodeCheckpoint({ kind, model, tensors });
        for (const input of [bytes, bytes.slice().buffer]) {
          const back = decodeCheckpoint(input, 'mem');
          expect(back.kind).toBe(kind);
          expect(back.model).toBe(model);
          expect(back.progress).toBeUndefined();
          expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
          for (const name of Object.keys(tensors)) {
            expect(back.tensors[name].shape).toEqual(tensors[name].shape);
            expect(bits(back.tensors[name].data)).toEqual(bits(tensors[name].data));
          }
        }
      }),
    );
  });

  it('are safetensors files whose metadata holds gradc\'s fields as strings, for an independent reader', () => {
    const read = specRead(encodeCheckpoint(CHECKPOINT));
    expect(read.metadata).toEqual({
      format: 'gradc', kind: 'checkpoint', model: 'm', progress: JSON.stringify(PROGRESS), crc32: expect.stringMatching(/^[0-9a-f]{8}$/),
    });
    expect([...read.tensors.keys()]).toEqual(['b', 'w']);
    expect(read.tensors.get('w')!.shape).toEqual([2, 2]);
    expect(specFloat32(read.tensors.get('w')!)).toEqual(TENSORS.w.data);
  });

  it('carry the training progress, and refuse one that is damaged or not finite, on save and on load', () => {
    expect(decodeCheckpoint(encodeCheckpoint(CHECKPOINT), 'a').progress).toEqual(PROGRESS);
    const crc32 = specRead(encodeCheckpoint(CHECKPOINT)).metadata!.crc32;
    const tensors: Parameters<typeof specWrite>[0] = [
      ['b', { dtype: 'F32', shape: [2], bytes: specBytes('F32', [-1, 0.5]) }],
      ['w', { dtype: 'F32', shape: [2, 2], bytes: specBytes('F32', [1, 2, 3, 4]) }],
    ];
    const cases: [object, string][] = [
      [{ history: [] }, 'history does not hold one record per epoch done'],
      [{ history: [null] }, 'history record 1 has no number "epoch"'],
      [{ history: [{ ...RECORD, loss: null }] }, 'history record 1 has no number "loss"'],
      [{ history: [{ ...RECORD, validation: { loss: 'low' } }] }, 'history record 1 has a validation "loss" that is not a number'],
      [{ epochsSinceBest: -1 }, 'field "epochsSinceBest" is not a count'],
      [{ epochsDone: 1.5 }, 'field "epochsDone" is not a count'],
      [{ seed: 'x' }, 'field "seed" is not a number'],
      [{ best: 'low' }, 'field "best" is not a number'],
      [{ lastBatch: 'pad' }, 'field "lastBatch" is not "fill" or "drop"'],
      [{ monitor: 'val_f1' }, 'field "monitor" is not a known monitor'],
    ];
    for (const [change, message] of cases) {
      const progress = JSON.stringify({ ...PROGRESS, ...change });
      const bytes = specWrite(tensors, { format: 'gradc', kind: 'checkpoint', model: 'm', crc32, progress });
      expect(() => decodeCheckpoint(bytes, 'b.ckpt')).toThrow(`b.ckpt: the checkpoint's progress ${message}`);
      expect(() => encodeCheckpoint({ ...CHECKPOINT, progress: { ...PROGRESS, ...change } as TrainProgress })).toThrow(message);
    }
    // A diverged run's NaN is never written: neither in its history nor in its parameters.
    const diverged = { ...PROGRESS, history: [{ ...RECORD, loss: NaN }] };
    expect(() => encodeCheckpoint({ ...CHECKPOINT, progress: diverged })).toThrow('history record 1 has no number "loss"');
    const nan = { ...TENSORS, w: { shape: [2, 2], data: Float32Array.of(1, NaN, 3, 4) } };
    expect(() => encodeCheckpoint({ ...CHECKPOINT, tensors: nan })).toThrow(
      'not saved: tensor "w" holds NaN at element 1 (training diverged); the previous file is left as it was',
    );
  });

  it('refuse a flipped bit anywhere in the data: the checksum', () => {
    const bytes = encodeCheckpoint(CHECKPOINT);
    const dataStart = bytes.length - 6 * 4;
    for (let bit = dataStart * 8; bit < bytes.length * 8; bit++) {
      const flipped = bytes.slice();
      flipped[bit >> 3] ^= 1 << (bit & 7);
      const error = thrown(() => decodeCheckpoint(flipped, 'flip.ckpt'));
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error.message).toMatch(/^flip\.ckpt: the data is damaged \(its CRC-32 is [0-9a-f]{8}, the file records [0-9a-f]{8}\)$/);
    }
  });

  it('refuse gradc metadata that is incomplete or inconsistent', () => {
    const crc32 = specRead(encodeCheckpoint(CHECKPOINT)).metadata!.crc32;
    const withMetadata = (metadata: Record<string, string>) =>
      specWrite(
        [['b', { dtype: 'F32', shape: [2], bytes: specBytes('F32', [-1, 0.5]) }], ['w', { dtype: 'F32', shape: [2, 2], bytes: specBytes('F32', [1, 2, 3, 4]) }]],
        metadata,
      );
    const base = { format: 'gradc', kind: 'checkpoint', model: 'm', crc32 };
    expect(decodeCheckpoint(withMetadata(base), 'ok').model).toBe('m');
    const cases: [Record<string, string>, string][] = [
      [{ ...base, kind: 'optimizer' }, 'the gradc metadata has no kind "checkpoint" or "weights" ("optimizer")'],
      [{ format: 'gradc', model: 'm', crc32 }, 'has no kind "checkpoint" or "weights" (null)'],
      [{ format: 'gradc', kind: 'weights', crc32 }, 'the gradc metadata names no model'],
      [{ ...base, crc32: 'XYZ' }, 'has no crc32 checksum of 8 hexadecimal digits'],
      [{ format: 'gradc', kind: 'checkpoint', model: 'm' }, 'has no crc32 checksum'],
      [{ ...base, kind: 'weights', progress: JSON.stringify(PROGRESS) }, 'gives training progress in a weights file'],
      [{ ...base, progress: '{"epochsDone": ' }, 'the checkpoint\'s progress is not valid JSON'],
      [{ ...base, progress: '[1]' }, 'the checkpoint\'s progress is not an object'],
    ];
    for (const [metadata, message] of cases) {
      const error = thrown(() => decodeCheckpoint(withMetadata(metadata), 'meta.ckpt'));
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error.message).toContain(`meta.ckpt: `);
      expect(error.message).toContain(message);
    }
    expect(() => encodeCheckpoint({ kind: 'weights', model: 'm', progress: PROGRESS, tensors: TENSORS })).toThrow(
      'cannot write training progress into a weights file',
    );
  });

  it('load a safetensors file of another tool as weights of no model, whatever its metadata', () => {
    const file = specWrite(
      [['layer.weight', { dtype: 'F64', shape: [3], bytes: specBytes('F64', [0.25, -1, 8]) }]],
      { format: 'pt' },
    );
    const checkpoint: Checkpoint = decodeCheckpoint(file, 'torch.safetensors');
    expect(checkpoint).toEqual({ kind: 'weights', tensors: { 'layer.weight': { shape: [3], data: Float32Array.of(0.25, -1, 8) } } });
    expect(checkpoint.model).toBeUndefined();
  });
});

describe('checkpoint files on disk', () => {
  it('refuse /dev/zero and a folder at once, naming what they are', () => {
    const started = performance.now();
    expect(() => loadCheckpoint('/dev/zero')).toThrow('/dev/zero: a device, not a regular file');
    const dir = scratchDir();
    expect(() => loadCheckpoint(dir)).toThrow(`${dir}: a folder, not a regular file`);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuse a named pipe without waiting for a writer', () => {
    const fifo = join(scratchDir(), 'pipe');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return; // no mkfifo here: nothing to check
    expect(() => loadCheckpoint(fifo)).toThrow(`${fifo}: a pipe, not a regular file`);
  });

  it('refuse a missing, short, cut or lengthened file, or one whose header length passes its end', () => {
    const dir = scratchDir();
    const path = join(dir, 'x.ckpt');
    expect(() => loadCheckpoint(join(dir, 'none.ckpt'))).toThrow(/none\.ckpt: cannot read the checkpoint \(ENOENT/);
    writeFileSync(path, 'hello');
    expect(() => loadCheckpoint(path)).toThrow(`${path}: 5 bytes, too short for a safetensors file`);
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, 1000n, true);
    writeFileSync(path, Buffer.concat([length, Buffer.from('{}')]));
    expect(() => loadCheckpoint(path)).toThrow(`${path}: the header length 1000 runs past the end of the file (10 bytes)`);
    const good = encodeCheckpoint(CHECKPOINT);
    for (const cut of [0, 4, 8, 9, 40, good.length - 24, good.length - 1]) {
      writeFileSync(path, good.subarray(0, cut));
      const error = thrown(() => loadCheckpoint(path));
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error.message.startsWith(`${path}: `)).toBe(true);
    }
    writeFileSync(path, good.subarray(0, good.length - 4));
    expect(() => loadCheckpoint(path)).toThrow('run past the end of the 20-byte data buffer (truncated?)');
    writeFileSync(path, good);
    appendFileSync(path, 'abc');
    expect(() => loadCheckpoint(path)).toThrow(`${path}: the last 3 bytes of the 27-byte data buffer belong to no tensor (trailing bytes)`);
  });

  it('save atomically: a checkpoint whose header would pass the limit is refused, the old file stays intact', () => {
    const dir = scratchDir();
    const path = join(dir, 'model.ckpt');
    saveCheckpoint(path, CHECKPOINT);
    const before = readFileSync(path);
    const huge = record([['"'.repeat(MAX_HEADER_BYTES / 2 + 1), { shape: [0], data: new Float32Array(0) }]]);
    expect(() => saveCheckpoint(path, { ...CHECKPOINT, tensors: huge })).toThrow(
      `the header would be above the limit of ${MAX_HEADER_BYTES} bytes`,
    );
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir)).toEqual(['model.ckpt']);
    expect(loadCheckpoint(path)).toEqual(CHECKPOINT);
  });

  it('leave no temporary file when a save fails, and keep what was at the path', () => {
    const dir = scratchDir();
    // The rename over a non-empty folder fails after the temporary file is written and flushed.
    const path = join(dir, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'kept');
    const error = thrown(() => saveCheckpoint(path, CHECKPOINT));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.message).toMatch(new RegExp(`^${path}: cannot save \\(`));
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readFileSync(join(path, 'inside'), 'utf8')).toBe('kept');
    // A folder that does not exist: nothing is created.
    expect(() => saveCheckpoint(join(dir, 'no', 'x.ckpt'), CHECKPOINT)).toThrow(CheckpointError);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('replace the previous file with a new one, leaving nothing else in the folder', () => {
    const dir = scratchDir();
    const path = join(dir, 'run.ckpt');
    saveCheckpoint(path, CHECKPOINT);
    const next = { ...CHECKPOINT, tensors: record([['w', { shape: [1], data: Float32Array.of(9) }]]) };
    saveCheckpoint(path, next);
    expect(readdirSync(dir)).toEqual(['run.ckpt']);
    expect(loadCheckpoint(path)).toEqual(next);
  });
});

describe('a model restoring checkpoints and weights', () => {
  let model: ModelInstance;
  beforeAll(async () => {
    ({ model } = await buildAndOpen('test/fixtures/tiny-adam.ts', { backend: 'js', outDir: join('.cache', 'checkpoint-test', 'tiny-adam-js') }));
  });
  afterAll(() => model?.dispose());

  /** The same tensors with every value moved by `delta`. */
  const shifted = (tensors: Tensors, delta: number) =>
    record(Object.entries(tensors).map(([n, t]) => [n, { shape: t.shape, data: t.data.map((v) => v + delta) }] as const));

  it('refuses shapes that differ from the model\'s, missing and unexpected tensors, and then changes nothing', async () => {
    const before = await model.snapshot();
    const names = Object.keys(before);
    expect(names.length).toBeGreaterThan(model.artifact.params.length);
    const next = shifted(before, 1);
    // The last tensor restored is the one that is wrong, so a restore that set tensors as it
    // went would have changed the others.
    const last = [...names].reverse().find((n) => before[n].shape.length === 2)!;
    const [rows, cols] = before[last].shape;
    const refusals: [Tensors, string][] = [
      [{ ...next, [last]: { shape: [cols, rows], data: next[last].data } }, `"${last}" has shape [${cols}, ${rows}] in the checkpoint, model tiny-adam needs [${rows}, ${cols}]`],
      [{ ...next, [last]: { shape: [rows * cols], data: next[last].data } }, `"${last}" has shape [${rows * cols}] in the checkpoint`],
      [{ ...next, [last]: { shape: [rows, cols], data: next[last].data.subarray(1) } }, `"${last}" has ${rows * cols - 1} values in the checkpoint`],
      [record(Object.entries(next).filter(([n]) => n !== last)), `tensors of model tiny-adam missing from the checkpoint: "${last}"`],
      [{ ...next, extra: { shape: [1], data: Float32Array.of(1) } }, 'tensors in the checkpoint that model tiny-adam does not have: "extra"'],
    ];
    for (const [tensors, message] of refusals) {
      expect(() => model.restore(tensors)).toThrow(message);
      expect(await model.snapshot()).toEqual(before);
    }
    model.restore(next);
    expect(await model.snapshot()).toEqual(next);
  });

  it('saves and loads weights alone, leaving the optimizer state as it is', async () => {
    const full = await model.snapshot();
    const params = model.artifact.params.map((p) => p.name);
    const weights = await model.weights();
    expect(Object.keys(weights)).toEqual(params);
    const path = join(scratchDir(), 'tiny.weights');
    saveCheckpoint(path, { kind: 'weights', model: 'tiny-adam', tensors: shifted(weights, 2) });
    const loaded = loadCheckpoint(path);
    expect(loaded.kind).toBe('weights');
    expect(() => model.restore(loaded.tensors)).toThrow('tensors of model tiny-adam missing from the checkpoint');
    model.loadWeights(loaded.tensors);
    const after = await model.snapshot();
    for (const name of Object.keys(full)) {
      expect(after[name]).toEqual(params.includes(name) ? shifted(full, 2)[name] : full[name]);
    }
    // A whole checkpoint loads as weights too (its optimizer states are skipped); other
    // tensors and other shapes do not.
    model.loadWeights(full);
    expect(await model.snapshot()).toEqual(full);
    expect(() => model.loadWeights({ ...weights, stray: { shape: [], data: Float32Array.of(0) } })).toThrow(
      'tensors in the weights that model tiny-adam does not have: "stray"',
    );
    const [first] = params;
    expect(() => model.loadWeights({ ...weights, [first]: { shape: [1, weights[first].data.length], data: weights[first].data } })).toThrow(
      `"${first}" has shape [1, ${weights[first].data.length}] in the weights`,
    );
  });

  it('loads float64 weights written by another tool', async () => {
    const weights = await model.weights();
    const file = specWrite(
      Object.entries(weights).reverse().map(([name, t]) => [name, { dtype: 'F64', shape: [...t.shape], bytes: specBytes('F64', [...t.data].map((v) => v / 3)) }] as const),
    );
    const path = join(scratchDir(), 'foreign.safetensors');
    writeFileSync(path, file);
    const loaded = loadCheckpoint(path);
    expect(loaded.model).toBeUndefined();
    model.loadWeights(loaded.tensors);
    const after = await model.weights();
    for (const [name, t] of Object.entries(weights)) expect(after[name].data).toEqual(t.data.map((v) => Math.fround(v / 3)));
    model.loadWeights(weights);
  });
});
