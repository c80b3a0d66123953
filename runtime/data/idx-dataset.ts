// A pair of IDX files (images and labels, as MNIST, Fashion-MNIST and EMNIST ship them) to a
// Dataset. Pure and browser-safe: it takes bytes (runtime/data/files.ts reads and gunzips
// files in Node).
import { classIndices, checkClassCount } from './dataset.ts';
import type { Dataset } from './dataset.ts';
import { DataError, elementCount, isGzip, parseIdx } from './idx-parse.ts';
import type { IdxArray, IdxDtype } from './idx-parse.ts';

/** Where the two IDX files came from (for messages), the feature scale and the class count. */
export interface IdxDatasetOptions {
  /** Name the two files in messages (usually their paths). */
  readonly imagesSource: string;
  readonly labelsSource: string;
  /**
   * Features are the stored values divided by this: by default 255 for uint8 images (so pixels
   * fall in [0, 1]) and 1 (unchanged) for other types.
   */
  readonly scale?: number;
  /** Number of classes (default: the largest label + 1). */
  readonly classes?: number;
}

const ELEMENT_BYTES: Record<IdxDtype, number> = {
  uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8,
};

const INTEGER_DTYPES: readonly IdxDtype[] = ['uint8', 'int8', 'int16', 'int32'];

/** Byte offset of element `index` in an IDX file of this array's type and rank. */
function byteOffset(array: IdxArray, index: number): number {
  return 4 + 4 * array.shape.length + index * ELEMENT_BYTES[array.dtype];
}

/** The count is the first size of the header, at byte 4. */
const COUNT_OFFSET = 4;

/**
 * A dataset from parsed IDX arrays: the images' first axis counts the examples and the other
 * axes are flattened into the features (divided by `scale`); the labels are class indices, one
 * per example. Refuses, naming the source and the byte offset: mismatched counts, labels that
 * are not integers of rank 1, negative labels or labels outside `classes`, non-finite image
 * values, and an empty file.
 */
export function datasetFromIdxArrays(
  images: IdxArray,
  labels: IdxArray,
  options: IdxDatasetOptions,
): Dataset {
  const { imagesSource, labelsSource } = options;
  const scale = options.scale ?? (images.dtype === 'uint8' ? 255 : 1);
  if (!(Number.isFinite(scale) && scale > 0)) {
    throw new DataError(`${imagesSource}: scale must be a positive finite number, got ${scale}`);
  }
  checkClassCount(options.classes, labelsSource);
  if (images.shape.length < 1) {
    throw new DataError(`${imagesSource}: the images have no axes (a scalar IDX file); expected [count, ...]`);
  }
  if (!INTEGER_DTYPES.includes(labels.dtype) || labels.shape.length !== 1) {
    throw new DataError(
      `${labelsSource}: expected integer labels (uint8, int8, int16 or int32) of shape [count], ` +
        `found ${labels.dtype} [${labels.shape.join(',')}]`,
    );
  }
  const count = images.shape[0];
  if (labels.shape[0] !== count) {
    throw new DataError(
      `${imagesSource} holds ${count} images but ${labelsSource} holds ${labels.shape[0]} labels ` +
        `(the counts at byte ${COUNT_OFFSET} of each file differ)`,
    );
  }
  if (count === 0) {
    throw new DataError(`${imagesSource}: no examples (the count at byte ${COUNT_OFFSET} is 0)`);
  }
  const xWidth = elementCount(images.shape.slice(1));
  if (xWidth === 0) {
    throw new DataError(
      `${imagesSource}: images of shape [${images.shape.slice(1).join(',')}] hold no values`,
    );
  }
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) {
    const value = images.data[i] / scale;
    x[i] = value;
    if (!Number.isFinite(x[i])) {
      throw new DataError(
        `${imagesSource}: byte ${byteOffset(images, i)}: image ${Math.floor(i / xWidth)}, ` +
          `value ${i % xWidth} is ${images.data[i]}` +
          (Number.isFinite(images.data[i]) ? ` (${value} after scaling, outside the float32 range)` : ''),
      );
    }
  }
  const indices = classIndices(labels.data, options.classes,
    (i) => `${labelsSource}: byte ${byteOffset(labels, i)}: label ${i}`);
  return { count, x, xWidth, y: indices.y, yWidth: 1, classes: indices.classes };
}

/**
 * A dataset from the bytes of an images IDX file and a labels IDX file (not compressed: see
 * `loadIdxFiles` for gzip). See `datasetFromIdxArrays` for what it checks.
 */
export function datasetFromIdx(
  imagesBytes: Uint8Array,
  labelsBytes: Uint8Array,
  options: IdxDatasetOptions,
): Dataset {
  for (const [bytes, source] of [[imagesBytes, options.imagesSource], [labelsBytes, options.labelsSource]] as const) {
    if (isGzip(bytes)) {
      throw new DataError(
        `${source}: gzip-compressed: decompress it first (loadIdxFiles does in Node; in a ` +
          "browser, DecompressionStream('gzip'))",
      );
    }
  }
  return datasetFromIdxArrays(
    parseIdx(imagesBytes, options.imagesSource),
    parseIdx(labelsBytes, options.labelsSource),
    options,
  );
}
