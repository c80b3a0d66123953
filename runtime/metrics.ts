/**
 * Metrics by task, accumulated over batches of predictions: accuracy for classification (the
 * largest of a row's values, or a single value above 0.5, against the class index), mean
 * squared and mean absolute error for regression. Browser-safe.
 */
import type { Dataset } from './data/dataset.ts';
import { ModelRuntimeError } from './model.ts';

/** The metrics `evaluate` computes: accuracy for classes, mean squared and absolute error for values. */
export type MetricName = 'accuracy' | 'mse' | 'mae';

/** Metric values by name; `loss` is the model's own loss. */
export interface Evaluation {
  readonly loss?: number;
  readonly accuracy?: number;
  readonly mse?: number;
  readonly mae?: number;
}

/** The metrics of a task: classes get accuracy, values get mean squared and absolute error. */
export function defaultMetrics(data: Dataset): MetricName[] {
  return data.classes !== undefined ? ['accuracy'] : ['mse', 'mae'];
}

/** The class a row of predictions names: its largest value, or (one value) whether it is > 0.5. */
export function predictedClass(row: ArrayLike<number>): number {
  if (row.length === 1) return row[0] > 0.5 ? 1 : 0;
  let best = 0;
  for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
  return best;
}

/** Sums for the metrics over the rows seen so far. */
export class MetricSums {
  private rows = 0;
  private correct = 0;
  private squared = 0;
  private absolute = 0;
  private values = 0;

  /** Refuses metrics the data cannot have, and predictions the targets cannot be compared with. */
  constructor(
    private readonly data: Dataset,
    private readonly names: readonly MetricName[],
    private readonly width: number,
  ) {
    for (const name of names) {
      if (name === 'accuracy' && data.classes === undefined) {
        throw new ModelRuntimeError('accuracy needs class targets (a dataset with classes)');
      }
      if (name !== 'accuracy' && data.classes !== undefined) {
        throw new ModelRuntimeError(`${name} needs value targets; the dataset holds classes`);
      }
    }
    if (data.classes === undefined && width !== data.yWidth) {
      throw new ModelRuntimeError(
        `the predictions have ${width} values per example, the targets ${data.yWidth}: ` +
          'they cannot be compared (name the prediction to compare with the `prediction` option)',
      );
    }
  }

  /** Adds the predictions (`width` values a row) for `examples`, one row each. */
  add(predictions: Float32Array, examples: ArrayLike<number>): void {
    const { data, width } = this;
    for (let r = 0; r < examples.length; r++) {
      const i = examples[r];
      const row = predictions.subarray(r * width, (r + 1) * width);
      if (data.classes !== undefined) {
        if (predictedClass(row) === data.y[i]) this.correct++;
      } else {
        for (let c = 0; c < width; c++) {
          const d = row[c] - data.y[i * width + c];
          this.squared += d * d;
          this.absolute += Math.abs(d);
        }
        this.values += width;
      }
      this.rows++;
    }
  }

  result(): Evaluation {
    const out: { -readonly [K in MetricName]?: number } = {};
    for (const name of this.names) {
      if (name === 'accuracy') out.accuracy = this.correct / this.rows;
      if (name === 'mse') out.mse = this.squared / this.values;
      if (name === 'mae') out.mae = this.absolute / this.values;
    }
    return out;
  }
}
