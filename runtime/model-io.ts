/**
 * How a dataset's rows reach a model's inputs: which data input holds the features, which the
 * targets, how many rows each program takes, and how class indices become target values.
 * Pure functions over the artifact and the dataset, browser-safe.
 */
import type { Artifact, ArtifactProgram } from '../artifact/format.ts';
import type { Dataset } from './data/dataset.ts';
import { ModelRuntimeError } from './model.ts';
import { predictionName } from '../dsl/spec.ts';

/** A data input or prediction of one program: its name, rows per run and values per row. */
export interface RowsOf {
  readonly name: string;
  readonly rows: number;
  readonly width: number;
}

/** The inputs and outputs `fit`, `evaluate` and `predict` use. */
export interface ModelIO {
  /** The input `predict` reads (the features), as the predict program takes it. */
  readonly features: RowsOf;
  /** Every prediction of the predict program, in order. */
  readonly predictions: readonly RowsOf[];
  /** The features and the targets as the train program takes them (absent without one). */
  readonly train?: { readonly features: RowsOf; readonly target: RowsOf };
}

/** How targets are written into the model's target input. */
export type TargetEncoding =
  /** Values, yWidth per row, as they are. */
  | 'values'
  /** Class index c becomes a row with a 1 in column c. */
  | 'one-hot'
  /** Class index c becomes the value c (a target input one value wide). */
  | 'class-value';

function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

export function programNamed(artifact: Artifact, name: string): ArtifactProgram | undefined {
  return artifact.programs.find((p) => p.name === name);
}

/** A buffer of `program` as rows: its first axis, and the values of the others per row. */
function rowsOf(artifact: Artifact, name: string, buffer: number, what: string): RowsOf {
  const shape = artifact.buffers[buffer]?.shape ?? [];
  if (shape.length === 0) {
    throw new ModelRuntimeError(`${artifact.name}: ${what} "${name}" is a scalar, not one row per example`);
  }
  return { name, rows: shape[0], width: product(shape.slice(1)) };
}

function feedRows(artifact: Artifact, program: ArtifactProgram, name: string): RowsOf {
  const feed = program.feeds.find((f) => f.name === name)!;
  return rowsOf(artifact, name, feed.buffer, 'input');
}

/**
 * The model's features input (the one data input `predict` reads), its target input (the one
 * data input only training reads) and its predictions.
 */
export function modelIO(artifact: Artifact): ModelIO {
  const predict = programNamed(artifact, 'predict');
  if (!predict) throw new ModelRuntimeError(`${artifact.name} has no predict program`);
  const featureNames = artifact.predictData;
  if (featureNames.length !== 1) {
    throw new ModelRuntimeError(
      `${artifact.name}: predict reads ${featureNames.length} inputs (${featureNames.join(', ')}); ` +
        'fit, evaluate and predict take models with one features input',
    );
  }
  const features = feedRows(artifact, predict, featureNames[0]);
  const predictions = predict.outputs.map((o) => rowsOf(artifact, predictionName(o.name), o.buffer, 'prediction'));
  for (const p of predictions) {
    if (p.rows !== features.rows) {
      throw new ModelRuntimeError(
        `${artifact.name}: prediction "${p.name}" has ${p.rows} rows, the batch has ${features.rows}`,
      );
    }
  }
  const train = trainIO(artifact);
  return { features, predictions, ...(train ? { train } : {}) };
}

function trainIO(artifact: Artifact): ModelIO['train'] {
  const program = programNamed(artifact, 'train');
  if (!program) return undefined;
  const targets = artifact.data.filter((d) => !artifact.predictData.includes(d.name));
  if (targets.length !== 1) {
    throw new ModelRuntimeError(
      `${artifact.name}: training reads ${targets.length} target inputs ` +
        `(${targets.map((t) => t.name).join(', ') || 'none'}); fit takes models with one`,
    );
  }
  return {
    features: feedRows(artifact, program, artifact.predictData[0]),
    target: feedRows(artifact, program, targets[0].name),
  };
}

/**
 * The prediction metrics read: `name`, else the only one, else the one as wide as the target
 * (or, without a train program, the first).
 */
export function metricPrediction(artifact: Artifact, io: ModelIO, name?: string): RowsOf {
  const { predictions } = io;
  const target = io.train?.target;
  if (name !== undefined) {
    const named = predictions.find((p) => p.name === name);
    if (!named) {
      const known = predictions.map((p) => p.name).join(', ');
      throw new ModelRuntimeError(`${artifact.name} has no prediction "${name}" (known: ${known})`);
    }
    return named;
  }
  if (predictions.length === 1 || (target === undefined && predictions.length > 0)) return predictions[0];
  const matching = predictions.filter((p) => p.width === target?.width);
  if (matching.length === 1) return matching[0];
  throw new ModelRuntimeError(
    `${artifact.name} has ${predictions.length} predictions (${predictions.map((p) => p.name).join(', ')}): ` +
      'say which one metrics use with the `prediction` option (gradc train --prediction)',
  );
}

/** How `data`'s targets fill `target`, or an error that says why they cannot. */
export function targetEncoding(target: RowsOf, data: Dataset, what: string): TargetEncoding {
  if (data.classes !== undefined) {
    if (target.width === 1) return 'class-value';
    if (target.width >= data.classes) return 'one-hot';
    throw new ModelRuntimeError(
      `the ${what} has ${data.classes} classes, the model's target input "${target.name}" has ` +
        `${target.width} columns`,
    );
  }
  if (data.yWidth !== target.width) {
    throw new ModelRuntimeError(
      `the ${what} has ${data.yWidth} target values per example, the model's target input ` +
        `"${target.name}" takes ${target.width}`,
    );
  }
  return 'values';
}

/** The dataset's features must be as wide as the model's features input. */
export function checkFeatures(features: RowsOf, data: Dataset, what: string): void {
  if (data.xWidth !== features.width) {
    throw new ModelRuntimeError(
      `the ${what} has ${data.xWidth} features per example, the model's input "${features.name}" ` +
        `takes ${features.width}`,
    );
  }
}

/** Writes the features of `rows` (example indices) into `x`, zeros after them. */
export function fillFeatures(data: Dataset, rows: ArrayLike<number>, x: Float32Array): void {
  const w = data.xWidth;
  x.fill(0, rows.length * w);
  for (let r = 0; r < rows.length; r++) x.set(data.x.subarray(rows[r] * w, (rows[r] + 1) * w), r * w);
}

/** Writes the targets of `rows` into `y` in the given encoding, zeros after them. */
export function fillTargets(
  data: Dataset,
  rows: ArrayLike<number>,
  y: Float32Array,
  width: number,
  encoding: TargetEncoding,
): void {
  y.fill(0);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    switch (encoding) {
      case 'values':
        y.set(data.y.subarray(i * width, (i + 1) * width), r * width);
        break;
      case 'one-hot':
        y[r * width + data.y[i]] = 1;
        break;
      case 'class-value':
        y[r] = data.y[i];
        break;
    }
  }
}
