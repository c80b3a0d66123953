// Datasets: examples as plain typed arrays, the form a training loop consumes, built from
// in-memory arrays, split for validation and cut into row ranges. Pure and browser-safe; CSV
// text is parsed by ./csv.ts, IDX bytes by ./idx-dataset.ts, files are read by ./files.ts.
import { createRng, shuffledIndices } from '../init.ts';
import { DataError } from './idx-parse.ts';

/**
 * `count` examples: features row-major, and targets as values or class indices.
 *
 * Plain data: a test or a user can build one by hand (`checkDataset` says what is wrong with
 * it). Every value of `x`, and of `y` when it holds values, is finite. The functions here never
 * write into a dataset's arrays; `datasetRows` returns views into them.
 */
export interface Dataset {
  readonly count: number;
  /** count x xWidth features, row-major. */
  readonly x: Float32Array;
  readonly xWidth: number;
  /**
   * Targets: a Float32Array of count x yWidth values (regression, or one-hot rows), or an
   * Int32Array of count class indices in 0..classes-1 (classification), then `classes` is the
   * number of classes.
   */
  readonly y: Float32Array | Int32Array;
  /** Values per example in `y`: 1 for class indices. */
  readonly yWidth: number;
  /** Set exactly when `y` holds class indices. */
  readonly classes?: number;
  /** The name of each class index, when the data had names (CSV): `classes` of them. */
  readonly classNames?: readonly string[];
  /** The name of each feature column (CSV): `xWidth` of them. */
  readonly featureNames?: readonly string[];
  /** The name of the target column (CSV). */
  readonly targetName?: string;
}

/** A dataset whose targets are class indices. */
export type ClassDataset = Dataset & { readonly y: Int32Array; readonly classes: number };

/** Whether the dataset's targets are class indices. */
export function isClassDataset(dataset: Dataset): dataset is ClassDataset {
  return dataset.classes !== undefined;
}

/** Flat numbers, or one array of numbers per example. */
export type ArrayRows = ArrayLike<number> | readonly ArrayLike<number>[];

/** In-memory arrays for `datasetFromArrays`: features, targets and optionally classes and names. */
export interface DatasetArrays {
  /** Features: flat row-major numbers (`count` rows), or one array per example. */
  readonly x: ArrayRows;
  /**
   * Targets: class indices when `classes` (or `classNames`) is given or `y` is an integer typed
   * array (Int32Array, Uint8Array, ...); otherwise values, flat (one per example unless `count`
   * says otherwise) or one array per example.
   */
  readonly y: ArrayRows;
  /** Number of examples; needed only when flat `x` and flat `y` have several values each. */
  readonly count?: number;
  /** Number of classes (default: the largest class index + 1). */
  readonly classes?: number;
  readonly classNames?: readonly string[];
  readonly featureNames?: readonly string[];
  readonly targetName?: string;
}

const WHERE = 'datasetFromArrays';

function isRows(values: ArrayRows): values is readonly ArrayLike<number>[] {
  return Array.isArray(values) && values.length > 0 && typeof values[0] === 'object';
}

const INTEGER_ARRAYS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
];

function isIntegerArray(values: ArrayRows): boolean {
  return INTEGER_ARRAYS.some((type) => values instanceof type);
}

/** Describes a value that cannot be a float32 feature or target, or undefined when it can. */
export function float32Problem(value: unknown): string | undefined {
  if (typeof value !== 'number') return `${JSON.stringify(value) ?? String(value)} (not a number)`;
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return String(value);
  if (!Number.isFinite(Math.fround(value))) return `${value} (outside the float32 range)`;
  return undefined;
}

/** The example count implied by x and y, checked against `count` when that is given. */
function resolveCount(arrays: DatasetArrays, labels: boolean): number {
  const { x, y } = arrays;
  const implied: [number, string][] = [];
  if (isRows(x)) implied.push([x.length, `x has ${x.length} rows`]);
  if (isRows(y)) implied.push([y.length, `y has ${y.length} rows`]);
  if (arrays.count !== undefined) {
    if (!Number.isInteger(arrays.count) || arrays.count <= 0) {
      throw new DataError(`${WHERE}: count must be a positive integer, got ${arrays.count}`);
    }
    implied.push([arrays.count, `count is ${arrays.count}`]);
  }
  if (implied.length === 0) {
    implied.push([y.length, labels ? `y has ${y.length} class indices` : `y has ${y.length} values`]);
  }
  const [count, why] = implied[0];
  for (const [other, otherWhy] of implied) {
    if (other !== count) throw new DataError(`${WHERE}: ${why} but ${otherWhy}`);
  }
  if (count === 0) throw new DataError(`${WHERE}: no examples (${why})`);
  return count;
}

/** Copies rows or flat values into a Float32Array of count x width, refusing bad values. */
function toFloat32(values: ArrayRows, count: number, name: 'x' | 'y'): { data: Float32Array; width: number } {
  if (isRows(values)) {
    const width = values[0].length;
    const data = new Float32Array(count * width);
    values.forEach((row, r) => {
      if (row === null || typeof row !== 'object' || typeof row.length !== 'number') {
        throw new DataError(`${WHERE}: ${name}[${r}] is not an array of numbers`);
      }
      if (row.length !== width) {
        throw new DataError(
          `${WHERE}: ${name}[${r}] has ${row.length} values but ${name}[0] has ${width}`,
        );
      }
      for (let c = 0; c < width; c++) {
        const problem = float32Problem(row[c]);
        if (problem !== undefined) throw new DataError(`${WHERE}: ${name}[${r}][${c}] is ${problem}`);
        data[r * width + c] = row[c];
      }
    });
    return { data, width };
  }
  if (values.length % count !== 0) {
    throw new DataError(
      `${WHERE}: ${name} has ${values.length} values, not a multiple of the ${count} examples`,
    );
  }
  const width = values.length / count;
  const data = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const problem = float32Problem(values[i]);
    if (problem !== undefined) {
      throw new DataError(
        `${WHERE}: ${name}[${Math.floor(i / width)}][${i % width}] (flat index ${i}) is ${problem}`,
      );
    }
    data[i] = values[i];
  }
  return { data, width };
}

const MAX_CLASSES = 2 ** 31 - 1;

/** Throws unless `classes` is undefined or a positive integer; `where` starts the message. */
export function checkClassCount(classes: number | undefined, where: string): void {
  if (classes !== undefined && (!Number.isInteger(classes) || classes < 1 || classes > MAX_CLASSES)) {
    throw new DataError(`${where}: classes must be a positive integer, got ${classes}`);
  }
}

/**
 * Checks class indices (integers in 0..classes-1; `where(i)` names index i in messages) and
 * returns them as an Int32Array with the number of classes (default: largest + 1).
 */
export function classIndices(
  labels: ArrayLike<number>,
  classes: number | undefined,
  where: (index: number) => string,
): { y: Int32Array; classes: number } {
  const y = new Int32Array(labels.length);
  let largest = -1;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= MAX_CLASSES) {
      throw new DataError(
        `${where(i)} is ${float32Problem(label) ?? label}, not a class index (an integer >= 0)`,
      );
    }
    if (classes !== undefined && label >= classes) {
      throw new DataError(`${where(i)} is ${label}, outside the ${classes} classes 0..${classes - 1}`);
    }
    y[i] = label;
    if (label > largest) largest = label;
  }
  return { y, classes: classes ?? largest + 1 };
}

function checkNames(
  names: readonly string[] | undefined,
  expected: number,
  what: 'featureNames' | 'classNames',
): void {
  if (names !== undefined && names.length !== expected) {
    const noun = what === 'featureNames' ? 'features' : 'classes';
    throw new DataError(`${WHERE}: ${what} has ${names.length} names for ${expected} ${noun}`);
  }
}

/**
 * A dataset from in-memory arrays (copied: the dataset owns its arrays). Refuses mismatched
 * lengths, ragged rows, non-finite or float32-overflowing values and bad class indices, naming
 * the row and column (`x[row][column]`, 0-based).
 */
export function datasetFromArrays(arrays: DatasetArrays): Dataset {
  const classes = arrays.classes ?? arrays.classNames?.length;
  const labels = classes !== undefined || isIntegerArray(arrays.y);
  if (labels && isRows(arrays.y)) {
    throw new DataError(
      `${WHERE}: y holds one array per example, but class indices (classes ${classes}) are one ` +
        'number per example',
    );
  }
  const count = resolveCount(arrays, labels);
  const x = toFloat32(arrays.x, count, 'x');
  if (x.width === 0) throw new DataError(`${WHERE}: x has no features (0 values per example)`);
  checkNames(arrays.featureNames, x.width, 'featureNames');
  const named = {
    ...(arrays.featureNames ? { featureNames: [...arrays.featureNames] } : {}),
    ...(arrays.targetName !== undefined ? { targetName: arrays.targetName } : {}),
  };
  if (labels) {
    if (arrays.y.length !== count) {
      throw new DataError(`${WHERE}: y has ${arrays.y.length} class indices for ${count} examples`);
    }
    checkClassCount(classes, WHERE);
    const indices = classIndices(arrays.y as ArrayLike<number>, classes,
      (i) => `${WHERE}: class index y[${i}]`);
    checkNames(arrays.classNames, indices.classes, 'classNames');
    return {
      count, x: x.data, xWidth: x.width, y: indices.y, yWidth: 1, classes: indices.classes,
      ...(arrays.classNames ? { classNames: [...arrays.classNames] } : {}),
      ...named,
    };
  }
  const y = toFloat32(arrays.y, count, 'y');
  if (y.width === 0) throw new DataError(`${WHERE}: y has no targets (0 values per example)`);
  return { count, x: x.data, xWidth: x.width, y: y.data, yWidth: y.width, ...named };
}

/**
 * Checks a dataset's invariants (sizes, array types, class indices in range, finite values,
 * name counts) and returns it; `what` names it in messages ("training data").
 */
export function checkDataset<D extends Dataset>(dataset: D, what = 'dataset'): D {
  const fail = (message: string): never => {
    throw new DataError(`${what}: ${message}`);
  };
  const { count, x, xWidth, y, yWidth, classes } = dataset;
  if (!Number.isInteger(count) || count < 0) fail(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(xWidth) || xWidth < 1) fail(`xWidth must be a positive integer, got ${xWidth}`);
  if (!(x instanceof Float32Array)) fail('x must be a Float32Array');
  if (x.length !== count * xWidth) {
    fail(`x has ${x.length} values, expected count x xWidth = ${count} x ${xWidth}`);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) fail(`x[${Math.floor(i / xWidth)}][${i % xWidth}] is ${x[i]}`);
  }
  if (classes !== undefined) {
    if (!(y instanceof Int32Array)) fail('y must be an Int32Array of class indices when classes is set');
    if (yWidth !== 1) fail(`yWidth must be 1 for class indices, got ${yWidth}`);
    if (y.length !== count) fail(`y has ${y.length} class indices for ${count} examples`);
    checkClassCount(classes, what);
    classIndices(y, classes, (i) => `${what}: class index y[${i}]`);
    if (dataset.classNames !== undefined && dataset.classNames.length !== classes) {
      fail(`classNames has ${dataset.classNames.length} names for ${classes} classes`);
    }
  } else {
    if (!(y instanceof Float32Array)) fail('y must be a Float32Array of values when classes is not set');
    if (dataset.classNames !== undefined) fail('classNames is set but classes is not');
    if (!Number.isInteger(yWidth) || yWidth < 1) fail(`yWidth must be a positive integer, got ${yWidth}`);
    if (y.length !== count * yWidth) {
      fail(`y has ${y.length} values, expected count x yWidth = ${count} x ${yWidth}`);
    }
    for (let i = 0; i < y.length; i++) {
      if (!Number.isFinite(y[i])) fail(`y[${Math.floor(i / yWidth)}][${i % yWidth}] is ${y[i]}`);
    }
  }
  if (dataset.featureNames !== undefined && dataset.featureNames.length !== xWidth) {
    fail(`featureNames has ${dataset.featureNames.length} names for ${xWidth} features`);
  }
  return dataset;
}

/** Everything but the arrays and the count: widths, classes and names. */
function metadata(dataset: Dataset): Omit<Dataset, 'count' | 'x' | 'y'> {
  const { count: _count, x: _x, y: _y, ...rest } = dataset;
  return rest;
}

/** Examples start..end-1, as views into the dataset's arrays (no copy). */
export function datasetRows<D extends Dataset>(dataset: D, start: number, end: number): D {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start ||
    end > dataset.count) {
    throw new DataError(
      `datasetRows: rows ${start}..${end} are not a range within the ${dataset.count} examples ` +
        '(need integers 0 <= start <= end <= count)',
    );
  }
  return {
    ...metadata(dataset),
    count: end - start,
    x: dataset.x.subarray(start * dataset.xWidth, end * dataset.xWidth),
    y: dataset.y.subarray(start * dataset.yWidth, end * dataset.yWidth),
  } as D;
}

/** The examples at `indices`, in that order, copied into new arrays. */
export function selectRows<D extends Dataset>(dataset: D, indices: ArrayLike<number>): D {
  const { xWidth, yWidth } = dataset;
  const x = new Float32Array(indices.length * xWidth);
  const y = dataset.y instanceof Int32Array
    ? new Int32Array(indices.length * yWidth)
    : new Float32Array(indices.length * yWidth);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    if (!Number.isInteger(i) || i < 0 || i >= dataset.count) {
      throw new DataError(
        `selectRows: index ${i} at position ${r} is not an example of the ${dataset.count}`,
      );
    }
    x.set(dataset.x.subarray(i * xWidth, (i + 1) * xWidth), r * xWidth);
    y.set(dataset.y.subarray(i * yWidth, (i + 1) * yWidth), r * yWidth);
  }
  return { ...metadata(dataset), count: indices.length, x, y } as D;
}

/**
 * Holds out round(count x fraction) examples, chosen by a seeded permutation, as `validation`;
 * the rest is `train`. Both keep the dataset's order; the same seed gives the same split.
 * Refuses a split that leaves either part empty.
 */
export function splitDataset<D extends Dataset>(
  dataset: D,
  fraction: number,
  seed: number,
): { train: D; validation: D } {
  if (!(fraction > 0 && fraction < 1)) {
    throw new DataError(`splitDataset: fraction must be between 0 and 1 (exclusive), got ${fraction}`);
  }
  if (!Number.isInteger(seed)) throw new DataError(`splitDataset: seed must be an integer, got ${seed}`);
  const held = Math.round(dataset.count * fraction);
  if (held === 0 || held === dataset.count) {
    throw new DataError(
      `splitDataset: a fraction of ${fraction} of ${dataset.count} examples leaves the ` +
        `${held === 0 ? 'validation' : 'training'} part empty`,
    );
  }
  const order = shuffledIndices(dataset.count, createRng(seed));
  const validation = order.slice(0, held).sort();
  const train = order.slice(held).sort();
  return { train: selectRows(dataset, train), validation: selectRows(dataset, validation) };
}
