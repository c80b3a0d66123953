/** The command line of `npm run experiments`, parsed and checked. Pure. */
import { parseArgs } from 'node:util';
import { intOption, UsageError } from '../../cli/main.ts';
import type { BackendKind } from '../../artifact/kernels.ts';
import { BACKEND_KINDS } from '../../artifact/kernels.ts';
import type { TableId } from './grid.ts';
import { TABLE_IDS } from './grid.ts';

/** How an experiment runs. */
export interface ExperimentOptions {
  readonly backend: BackendKind;
  readonly epochs: number;
  readonly quick: boolean;
  readonly only: readonly TableId[];
  readonly outDir: string;
  /** How many of the training and test images to use (all when undefined). */
  readonly trainLimit: number | undefined;
  readonly testLimit: number | undefined;
  readonly help: boolean;
}

/** The dissertation's settings, and the quick run's. */
export const FULL_RUN = { epochs: 30, trainLimit: undefined, testLimit: undefined } as const;
export const QUICK_RUN = { epochs: 2, trainLimit: 6000, testLimit: 1000 } as const;
export const DEFAULT_OUT_DIR = 'docs/experiments';

export const USAGE = `npm run experiments -- [--backend c|js|webgpu|cuda] [--epochs N] [--quick]
                       [--only batch|lr|optimizer[,...]] [--out DIR]
                       [--train-limit N] [--test-limit N]

Trains the reference MLP on MNIST for the dissertation's three tables (batch size, learning
rate, optimizer), ${FULL_RUN.epochs} epochs each, and writes results.json, README.md and one chart
per table into --out (default ${DEFAULT_OUT_DIR}). --quick: ${QUICK_RUN.epochs} epochs on the first
${QUICK_RUN.trainLimit} training images (batch sizes scaled by the same fraction of 60000) and
${QUICK_RUN.testLimit} test images.`;

function tablesOption(value: string | undefined): TableId[] {
  if (value === undefined) return [...TABLE_IDS];
  const names = value.split(',').map((n) => n.trim());
  const unknown = names.find((n) => !(TABLE_IDS as readonly string[]).includes(n));
  if (unknown !== undefined || names.length === 0) {
    throw new UsageError(`--only takes ${TABLE_IDS.join(', ')} (comma-separated), got "${value}"`);
  }
  return TABLE_IDS.filter((t) => names.includes(t));
}

function backendOption(value: string | undefined): BackendKind {
  if (value === undefined) return 'c';
  if (!(BACKEND_KINDS as readonly string[]).includes(value)) {
    throw new UsageError(`--backend takes ${BACKEND_KINDS.join(', ')}, got "${value}"`);
  }
  return value as BackendKind;
}

/** The options of `argv`; a mistake is a UsageError naming the option. */
export function experimentOptions(argv: readonly string[]): ExperimentOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        backend: { type: 'string' },
        epochs: { type: 'string' },
        quick: { type: 'boolean' },
        only: { type: 'string' },
        out: { type: 'string' },
        'train-limit': { type: 'string' },
        'test-limit': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\s*\n\s*/g, ' '));
  }
  const quick = values.quick === true;
  const defaults = quick ? QUICK_RUN : FULL_RUN;
  return {
    backend: backendOption(values.backend),
    epochs: intOption(values.epochs, 'epochs') ?? defaults.epochs,
    quick,
    only: tablesOption(values.only),
    outDir: values.out ?? DEFAULT_OUT_DIR,
    trainLimit: intOption(values['train-limit'], 'train-limit') ?? defaults.trainLimit,
    testLimit: intOption(values['test-limit'], 'test-limit') ?? defaults.testLimit,
    help: values.help === true,
  };
}
