/**
 * The reference experiment's grid: three tables (batch size, learning rate, optimizer), each a
 * list of runs of the MLP on MNIST. A run that several tables share (SGD, learning rate 0.01,
 * batch 600) is trained once. Pure.
 */
import type { ReportedTable } from './reference.ts';
import { DISSERTATION_BATCH_SIZE, DISSERTATION_LEARNING_RATE, DISSERTATION_OPTIMIZER } from './reference.ts';

/** The three tables. */
export type TableId = 'batch' | 'lr' | 'optimizer';
export const TABLE_IDS: readonly TableId[] = ['batch', 'lr', 'optimizer'];

/** The optimizers of the optimizer table. */
export type OptimizerId = 'sgd' | 'momentum' | 'nesterov' | 'adagrad' | 'rmsprop' | 'adam';

/** How the tables name the optimizers. */
export const OPTIMIZER_NAMES: Readonly<Record<OptimizerId, string>> = {
  sgd: 'SGD',
  momentum: 'Momentum (0.9)',
  nesterov: 'Nesterov (0.9)',
  adagrad: 'Adagrad',
  rmsprop: 'RMSProp (rho 0.9)',
  adam: 'Adam (0.9, 0.999)',
};

/** One training run: its id, batch size, optimizer and learning rate. */
export interface Run {
  readonly id: string;
  readonly batch: number;
  readonly optimizer: OptimizerId;
  readonly learningRate: number;
}

/** One row of a table: the dissertation's setting, what gradc ran for it, and the run. */
export interface TableRow {
  /** The setting as the dissertation's figures are keyed (`60`, `0.01`, `adam`). */
  readonly setting: string;
  /** The setting as gradc ran it (a batch size scaled to a smaller training set). */
  readonly label: string;
  readonly run: string;
}

/** One table of the experiment. */
export interface Table {
  readonly id: TableId;
  readonly title: string;
  /** What the first column holds. */
  readonly varies: string;
  /** What every run of the table shares. */
  readonly fixed: string;
  readonly rows: readonly TableRow[];
}

/** The tables asked for and the distinct runs they need, in the order they first appear. */
export interface Grid {
  readonly tables: readonly Table[];
  readonly runs: readonly Run[];
}

/** The dissertation's training set and the settings its tables vary. */
export const MNIST_TRAINING_EXAMPLES = 60_000;
export const BATCH_SIZES: readonly number[] = [60, 600, 6000, 60_000];
export const LEARNING_RATES: readonly number[] = [1, 0.1, 0.01, 0.001];
export const OPTIMIZERS: readonly OptimizerId[] = ['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'];
/** What a table does not vary: SGD, learning rate 0.01, batch 600. */
export const BASE_RUN = { batch: 600, optimizer: 'sgd', learningRate: 0.01 } as const;

/** The dissertation's figures for each table. */
export const REFERENCE: Readonly<Record<TableId, ReportedTable>> = {
  batch: DISSERTATION_BATCH_SIZE,
  lr: DISSERTATION_LEARNING_RATE,
  optimizer: DISSERTATION_OPTIMIZER,
};

/**
 * A batch size of the full training set scaled to `trainingExamples`, so that an epoch takes
 * as many steps on a subset as on all 60,000 images (at least 1).
 */
export function scaledBatch(batch: number, trainingExamples: number): number {
  return Math.max(1, Math.round((batch * trainingExamples) / MNIST_TRAINING_EXAMPLES));
}

/** A run's id, from what it trains with: `sgd-b600-lr0.01`. */
export function runId(run: Omit<Run, 'id'>): string {
  return `${run.optimizer}-b${run.batch}-lr${run.learningRate}`;
}

function run(batch: number, optimizer: OptimizerId, learningRate: number): Run {
  return { id: runId({ batch, optimizer, learningRate }), batch, optimizer, learningRate };
}

function tableOf(id: TableId, batchFor: (batch: number) => number): { table: Table; runs: Run[] } {
  const base = batchFor(BASE_RUN.batch);
  const rows: (Omit<TableRow, 'run'> & { of: Run })[] =
    id === 'batch'
      ? BATCH_SIZES.map((b) => ({ setting: String(b), label: String(batchFor(b)), of: run(batchFor(b), 'sgd', BASE_RUN.learningRate) }))
      : id === 'lr'
        ? LEARNING_RATES.map((lr) => ({ setting: String(lr), label: String(lr), of: run(base, 'sgd', lr) }))
        : OPTIMIZERS.map((o) => ({ setting: o, label: OPTIMIZER_NAMES[o], of: run(base, o, BASE_RUN.learningRate) }));
  const table: Table = {
    id,
    title: { batch: 'Batch size', lr: 'Learning rate', optimizer: 'Optimizer' }[id],
    varies: { batch: 'batch size', lr: 'learning rate', optimizer: 'optimizer' }[id],
    fixed: {
      batch: `SGD, learning rate ${BASE_RUN.learningRate}`,
      lr: `SGD, batch ${base}`,
      optimizer: `learning rate ${BASE_RUN.learningRate}, batch ${base}`,
    }[id],
    rows: rows.map(({ setting, label, of }) => ({ setting, label, run: of.id })),
  };
  return { table, runs: rows.map((r) => r.of) };
}

/**
 * The tables `only` names (all three by default) for a training set of `trainingExamples`
 * images, and their runs, each once.
 */
export function experimentGrid(only: readonly TableId[], trainingExamples: number): Grid {
  const batchFor = (batch: number) => scaledBatch(batch, trainingExamples);
  const tables: Table[] = [];
  const runs = new Map<string, Run>();
  for (const id of TABLE_IDS.filter((t) => only.includes(t))) {
    const { table, runs: needed } = tableOf(id, batchFor);
    tables.push(table);
    for (const r of needed) if (!runs.has(r.id)) runs.set(r.id, r);
  }
  return { tables, runs: [...runs.values()] };
}
