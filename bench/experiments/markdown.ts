/**
 * docs/experiments/README.md: the three tables beside the dissertation's figures, with the
 * charts and how the experiment ran. Pure; the same results give the same text.
 */
import type { Table } from './grid.ts';
import { REFERENCE } from './grid.ts';
import type { ReportedFigures } from './reference.ts';
import type { EpochResult, ExperimentResults, RunResult } from './results.ts';

/** A column of a markdown table: its header and how its cells align. */
export interface Column {
  readonly header: string;
  readonly align: 'left' | 'right';
}

/** A markdown table; a `|` inside a cell is escaped. */
export function markdownTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  const rule = columns.map((c) => (c.align === 'right' ? '---:' : '---'));
  return [line(columns.map((c) => c.header)), `|${rule.join('|')}|`, ...rows.map(line)].join('\n');
}

/** What a cell shows for a figure that is absent. */
export const NO_FIGURE = '–';

function reported(value: number | undefined): string {
  return value === undefined ? NO_FIGURE : String(value);
}

/** An accuracy as gradc's tables give it: four decimals. */
export function formatAccuracy(accuracy: number): string {
  return accuracy.toFixed(4);
}

/** A loss to three significant digits (exponent notation from 10^21 or under 10^-6). */
export function formatLoss(loss: number): string {
  return loss.toPrecision(3);
}

/** A duration in seconds to a tenth. */
export function formatSeconds(seconds: number): string {
  return seconds.toFixed(1);
}

function losses(epoch: EpochResult | undefined): string {
  return epoch ? `${formatLoss(epoch.trainLoss)} / ${formatLoss(epoch.testLoss)}` : NO_FIGURE;
}

/** The columns of every table: the setting, then each figure from the dissertation and from gradc. */
export function tableColumns(table: Table): Column[] {
  const right = (header: string): Column => ({ header, align: 'right' });
  return [
    { header: table.varies, align: 'left' },
    right('accuracy, first epoch: dissertation'),
    right('gradc'),
    right('accuracy, last epoch: dissertation'),
    right('gradc'),
    right('loss, first epoch: dissertation'),
    right('gradc train / test'),
    right('loss, last epoch: dissertation'),
    right('gradc train / test'),
    right('training time (s): dissertation'),
    right('gradc'),
  ];
}

/** The first cell of a row: the setting, and where the run diverged. */
function settingCell(label: string, run: RunResult | undefined): string {
  if (run?.diverged === undefined) return label;
  return `${label} (diverged in epoch ${run.epochs.length + 1})`;
}

/** One row: the dissertation's figures for the setting beside gradc's run (dashes for a run not trained). */
export function tableRow(label: string, figures: ReportedFigures, run: RunResult | undefined): string[] {
  const first = run?.epochs[0];
  const last = run?.epochs[run.epochs.length - 1];
  return [
    settingCell(label, run),
    reported(figures.accuracyFirstEpoch),
    first ? formatAccuracy(first.testAccuracy) : NO_FIGURE,
    reported(figures.accuracyLastEpoch),
    last ? formatAccuracy(last.testAccuracy) : NO_FIGURE,
    reported(figures.lossFirstEpoch),
    losses(first),
    reported(figures.lossLastEpoch),
    losses(last),
    reported(figures.trainingSeconds),
    run && last ? formatSeconds(run.trainingSeconds) : NO_FIGURE,
  ];
}

/** A table's section: heading, table, chart and where the dissertation's figures are. */
export function tableSection(table: Table, runs: readonly RunResult[]): string {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const reference = REFERENCE[table.id];
  const rows = table.rows.map((row) => tableRow(row.label, reference.rows[row.setting] ?? {}, byId.get(row.run)));
  return [
    `## ${table.title} (${table.fixed})`,
    '',
    markdownTable(tableColumns(table), rows),
    '',
    `The dissertation's figures: ${reference.source}.`,
    '',
    `![${table.title}: test accuracy and test loss per epoch](${table.id}.svg)`,
    '',
  ].join('\n');
}

/** 1st, 2nd, 3rd, 4th, 11th, 21st. */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** How the last epochs differ, when gradc trained other than 30. */
function lastEpochs(epochs: number): string {
  return epochs === 30 ? '' : ` (its last epoch is the 30th, gradc's the ${ordinal(epochs)})`;
}

/** The whole README of an experiment. */
export function experimentReadme(results: ExperimentResults): string {
  const { setup, machine } = results;
  const quick = setup.quick
    ? [
        '',
        `This is a quick run (\`--quick\`): ${setup.epochs} epochs on the first ${thousands(setup.trainingExamples)} ` +
          `training images, with every batch size scaled by the same fraction of 60,000 so that an epoch takes as many ` +
          `steps as on the full set. Its figures are not comparable with the dissertation's.`,
      ]
    : [];
  return [
    '# The reference experiment',
    '',
    '<!-- Written by `npm run experiments` from results.json. -->',
    '',
    `The MLP 784-250-250-10 of \`examples/mnist-mlp.ts\` (ReLU, softmax, categorical cross-entropy), trained by gradc ` +
      `on the ${setup.backend} backend with seed ${setup.seed}: ${setup.epochs} epochs on ${thousands(setup.trainingExamples)} ` +
      `MNIST training images, evaluated on ${thousands(setup.testExamples)} test images after each epoch. Beside it, what ` +
      'the dissertation "How to train a neural network" (A. Talwar, University of York, 2021) reports for the same ' +
      `settings, trained with Keras for 30 epochs${lastEpochs(setup.epochs)}.`,
    ...quick,
    '',
    "gradc's accuracy is on the test images; its loss is the mean training loss over the epoch's steps / the test " +
      "loss after the epoch; its training time is the wall time of the training steps of all epochs, without " +
      "building and evaluation. The dissertation's tables do not say on which images their accuracy and loss were " +
      'measured.',
    '',
    `Measured on: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, gradc ${machine.gradc}, ${machine.date}.`,
    '',
    ...results.tables.map((table) => tableSection(table, results.runs)),
  ].join('\n');
}
