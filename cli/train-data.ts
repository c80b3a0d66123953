/**
 * The data `gradc train` trains on: `--data file.csv` (with `--target column`), `--data
 * images.idx,labels.idx` (any IDX pair, raw or gzipped), or MNIST when no `--data` is given;
 * `--validation` in the same forms (a CSV is read like the training file: same columns, same
 * classes), or `--validation-split F` to hold out a fraction. `--train-limit`/`--test-limit`
 * keep the first N examples.
 */
import type { Dataset } from '../runtime/data/dataset.ts';
import { datasetRows } from '../runtime/data/dataset.ts';
import { loadCsvFile, loadIdxFiles } from '../runtime/data/files.ts';
import { loadMnist, mnistDataset } from '../runtime/data/mnist.ts';
import { UsageError } from './main.ts';

export interface TrainDataOptions {
  readonly data?: string | undefined;
  readonly target?: string | undefined;
  readonly validation?: string | undefined;
  readonly trainLimit?: number | undefined;
  readonly testLimit?: number | undefined;
}

export interface TrainData {
  readonly train: Dataset;
  readonly validation?: Dataset;
  /** For the first line of output: where the examples came from. */
  readonly description: string;
}

function limited(data: Dataset, limit: number | undefined): Dataset {
  return limit === undefined || limit >= data.count ? data : datasetRows(data, 0, limit);
}

/**
 * `a.csv` or `images,labels` given to `option`: one dataset; `like` reads a CSV the way the
 * training file was (same columns, same classes).
 */
function loadFiles(option: string, spec: string, target: string | undefined, like: Dataset | undefined): Dataset {
  const parts = spec.split(',');
  if (parts.length === 2) return loadIdxFiles(parts[0], parts[1]);
  if (parts.length !== 1) {
    throw new UsageError(`${option} takes a CSV file or an IDX pair "images,labels", got "${spec}"`);
  }
  if (like) return loadCsvFile(spec, { like });
  if (target === undefined) throw new UsageError(`${option} ${spec}: say which column to predict with --target`);
  return loadCsvFile(spec, { target });
}

export function loadTrainData(options: TrainDataOptions): TrainData {
  if (options.data === undefined) {
    if (options.validation !== undefined || options.target !== undefined) {
      throw new UsageError('--validation and --target go with --data (without --data, gradc trains on MNIST)');
    }
    const mnist = loadMnist({ trainLimit: options.trainLimit, testLimit: options.testLimit });
    const train = mnistDataset(mnist.train);
    const validation = mnistDataset(mnist.test);
    return { train, validation, description: `MNIST ${train.count} train / ${validation.count} test images` };
  }
  const train = limited(loadFiles('--data', options.data, options.target, undefined), options.trainLimit);
  const validation = options.validation === undefined
    ? undefined
    : limited(loadFiles('--validation', options.validation, options.target, train.featureNames ? train : undefined), options.testLimit);
  const kind = train.classes !== undefined ? `${train.classes} classes` : `${train.yWidth} target value(s)`;
  return {
    train,
    ...(validation ? { validation } : {}),
    description: `${options.data}: ${train.count} examples, ${train.xWidth} features, ${kind}` +
      (validation ? `; validation ${validation.count} examples` : ''),
  };
}
