import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, parseIdx, readIdxFile } from '../runtime/data/idx.ts';
import type { IdxDtype } from '../runtime/data/idx.ts';
import { encodeIdx } from './idx-encode.ts';
import { defaultMnistDir, loadMnist, oneHot } from '../runtime/data/mnist.ts';

function expectDataError(action: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DataError);
  for (const fragment of fragments) expect((caught as Error).message).toContain(fragment);
}

const tempDir = mkdtempSync(join(tmpdir(), 'gradc-idx-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('parseIdx', () => {
  it('decodes a hand-built uint8 file', () => {
    const bytes = Uint8Array.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255]);
    const parsed = parseIdx(bytes, 'hand.idx');
    expect(parsed.dtype).toBe('uint8');
    expect(parsed.shape).toEqual([2, 3]);
    expect(parsed.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(parsed.data)).toEqual([1, 2, 3, 4, 5, 255]);
  });

  it('decodes every big-endian dtype', () => {
    const cases: [IdxDtype, number[], Function][] = [
      ['int8', [-128, -1, 0, 127], Int8Array],
      ['int16', [-32768, -2, 300, 32767], Int16Array],
      ['int32', [-2147483648, -5, 70000, 2147483647], Int32Array],
      ['float32', [-1.5, 0, 0.25, 2 ** 40], Float32Array],
      ['float64', [-Math.PI, 0, 1e-300, 1e300], Float64Array],
    ];
    for (const [dtype, values, arrayType] of cases) {
      const parsed = parseIdx(encodeIdx(dtype, [2, 2], values), `${dtype}.idx`);
      expect(parsed.dtype).toBe(dtype);
      expect(parsed.shape).toEqual([2, 2]);
      expect(parsed.data).toBeInstanceOf(arrayType);
      expect(Array.from(parsed.data)).toEqual(values);
    }
  });

  it('hand-checks big-endian byte order', () => {
    const bytes = Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
    expect(Array.from(parseIdx(bytes, 'short.idx').data)).toEqual([0x0102, -2]);
  });

  it('works on a view into a larger buffer and does not alias it', () => {
    const file = encodeIdx('uint8', [3], [7, 8, 9]);
    const padded = new Uint8Array(file.length + 10);
    padded.set(file, 5);
    const view = padded.subarray(5, 5 + file.length);
    const parsed = parseIdx(view, 'view.idx');
    expect(Array.from(parsed.data)).toEqual([7, 8, 9]);
    padded.fill(0);
    expect(Array.from(parsed.data)).toEqual([7, 8, 9]);
  });

  it('round-trips random shapes and uint8 data', () => {
    const shapeAndData = fc
      .array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 4 })
      .chain((shape) => {
        const count = shape.reduce((a, b) => a * b, 1);
        return fc.tuple(
          fc.constant(shape),
          fc.uint8Array({ minLength: count, maxLength: count }),
        );
      });
    fc.assert(
      fc.property(shapeAndData, ([shape, data]) => {
        const parsed = parseIdx(encodeIdx('uint8', shape, data), 'random.idx');
        expect(parsed.dtype).toBe('uint8');
        expect(parsed.shape).toEqual(shape);
        expect(parsed.data).toEqual(data);
      }),
    );
  });

  it('rejects every truncation of a valid file, naming the source', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<IdxDtype>('uint8', 'int16', 'float64'),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
        (dtype, shape) => {
          const count = shape.reduce((a, b) => a * b, 1);
          const file = encodeIdx(dtype, shape, new Array<number>(count).fill(1));
          for (let length = 0; length < file.length; length++) {
            expectDataError(() => parseIdx(file.subarray(0, length), 'cut.idx'), 'cut.idx');
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('explains a truncated header', () => {
    expectDataError(() => parseIdx(Uint8Array.from([0, 0]), 'a.idx'),
      'a.idx', 'too short for the IDX header', '2 bytes');
    expectDataError(() => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]), 'b.idx'),
      'b.idx', 'too short', '3 dimensions need 16');
  });

  it('explains truncated data with the shape and byte counts', () => {
    const file = encodeIdx('uint8', [60000, 28, 28], new Uint8Array(60000 * 28 * 28));
    expectDataError(() => parseIdx(file.subarray(0, 16 + 1000), 'train-images'),
      'train-images',
      'expected 47040000 bytes of data after the header for shape [60000,28,28], found 1000');
  });

  it('rejects trailing garbage', () => {
    const file = encodeIdx('uint8', [2], [1, 2]);
    const longer = new Uint8Array(file.length + 3);
    longer.set(file);
    expectDataError(() => parseIdx(longer, 'tail.idx'), 'tail.idx', 'trailing', '3 extra');
  });

  it('rejects a bad magic number', () => {
    expectDataError(() => parseIdx(Uint8Array.from([0x50, 0x4b, 3, 4]), 'zip.idx'),
      'zip.idx', 'bad IDX magic', '0x50 0x4b');
  });

  it('rejects an unknown type byte', () => {
    expectDataError(() => parseIdx(Uint8Array.from([0, 0, 0x0a, 0]), 'type.idx'),
      'type.idx', 'unknown IDX type byte 0x0a');
  });
});

describe('readIdxFile', () => {
  it('reads raw and gzipped files alike', () => {
    const file = encodeIdx('int32', [2], [-7, 123456]);
    const rawPath = join(tempDir, 'raw-idx1');
    const gzPath = join(tempDir, 'gz-idx1.gz');
    writeFileSync(rawPath, file);
    writeFileSync(gzPath, gzipSync(file));
    expect(Array.from(readIdxFile(rawPath).data)).toEqual([-7, 123456]);
    expect(Array.from(readIdxFile(gzPath).data)).toEqual([-7, 123456]);
  });

  it('names the file and hints at npm install when missing', () => {
    const missing = join(tempDir, 'nope-idx3-ubyte');
    expectDataError(() => readIdxFile(missing), missing, 'not found', 'npm install');
  });

  it('names the file when the gzip stream is corrupt', () => {
    const path = join(tempDir, 'broken.gz');
    writeFileSync(path, Uint8Array.from([0x1f, 0x8b, 1, 2, 3]));
    expectDataError(() => readIdxFile(path), path, 'gzip');
  });
});

describe('real MNIST files', () => {
  const dir = defaultMnistDir();

  it('parse with the expected shapes', () => {
    const trainImages = readIdxFile(join(dir, 'train-images-idx3-ubyte'));
    expect(trainImages.dtype).toBe('uint8');
    expect(trainImages.shape).toEqual([60000, 28, 28]);
    const trainLabels = readIdxFile(join(dir, 'train-labels-idx1-ubyte'));
    expect(trainLabels.shape).toEqual([60000]);
    expect(trainLabels.data[0]).toBe(5);
    expect(readIdxFile(join(dir, 't10k-images-idx3-ubyte')).shape).toEqual([10000, 28, 28]);
    expect(readIdxFile(join(dir, 't10k-labels-idx1-ubyte')).shape).toEqual([10000]);
  });

  it('loadMnist returns normalized splits', () => {
    const mnist = loadMnist();
    expect(mnist.train.count).toBe(60000);
    expect(mnist.train.images.length).toBe(60000 * 784);
    expect(mnist.train.labels.length).toBe(60000);
    expect(mnist.train.labels[0]).toBe(5);
    expect(mnist.test.count).toBe(10000);
    expect(mnist.test.rows).toBe(28);
    expect(mnist.test.cols).toBe(28);
    let min = Infinity;
    let max = -Infinity;
    for (const pixel of mnist.test.images) {
      min = Math.min(min, pixel);
      max = Math.max(max, pixel);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  it('loadMnist honours limits', () => {
    const mnist = loadMnist({ trainLimit: 100, testLimit: 10 });
    expect(mnist.train.count).toBe(100);
    expect(mnist.train.images.length).toBe(100 * 784);
    expect(mnist.train.labels.length).toBe(100);
    expect(mnist.test.count).toBe(10);
    expect(mnist.train.labels[0]).toBe(5);
    expect(loadMnist({ trainLimit: 1e9, testLimit: 0 }).test.count).toBe(0);
    expectDataError(() => loadMnist({ trainLimit: -1 }), 'trainLimit');
  });
});

describe('loadMnist validation', () => {
  function writeMnistDir(name: string, trainLabels: number[]): string {
    const dir = join(tempDir, name);
    const images = (n: number) => encodeIdx('uint8', [n, 28, 28], new Uint8Array(n * 784));
    const labels = (values: number[]) => encodeIdx('uint8', [values.length], values);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), images(3));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(labels(trainLabels)));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(1));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels([9]));
    return dir;
  }

  it('loads a small custom directory, with a gzipped label file', () => {
    const mnist = loadMnist({ dir: writeMnistDir('ok', [0, 1, 2]) });
    expect(Array.from(mnist.train.labels)).toEqual([0, 1, 2]);
    expect(mnist.test.count).toBe(1);
  });

  it('rejects mismatched image and label counts', () => {
    expectDataError(() => loadMnist({ dir: writeMnistDir('count', [0, 1]) }),
      'train', '3 images', '2 labels');
  });

  it('rejects labels outside 0..9', () => {
    expectDataError(() => loadMnist({ dir: writeMnistDir('range', [0, 10, 2]) }),
      'train-labels-idx1-ubyte.gz', 'label 10 at index 1', '0..9');
  });

  it('names the missing file', () => {
    const dir = join(tempDir, 'empty');
    expectDataError(() => loadMnist({ dir }), join(dir, 'train-images-idx3-ubyte'), 'npm install');
  });
});

describe('oneHot', () => {
  it('places a single 1 per row', () => {
    expect(Array.from(oneHot(Uint8Array.from([2, 0]), 3))).toEqual([0, 0, 1, 1, 0, 0]);
  });

  it('rejects labels that do not fit', () => {
    expectDataError(() => oneHot(Uint8Array.from([3]), 3), 'label 3');
  });
});
