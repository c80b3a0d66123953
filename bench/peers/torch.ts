// Runs the PyTorch peer (bench/peers/torch_train.py: the MLP or the CNN) with Debian's Python,
// which has PyTorch from the python3-torch package (another python3 may come first on PATH).
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { StepCounts } from '../harness.ts';

export const DEBIAN_PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./torch_train.py', import.meta.url));
const INSTALL_HINT = 'bash scripts/setup-bench.sh (Debian packages python3-torch and libopenblas0-pthread)';

/** One measurement of the peer at one thread count. */
export interface TorchRun {
  readonly threads: number;
  readonly samplesPerSecond: number;
  readonly finalLoss: number;
  readonly torch: string;
}

/** Why the PyTorch peer cannot run with `python`, with how to install it; undefined when it can. */
export function torchMissing(python = DEBIAN_PYTHON): string | undefined {
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error) return `${python} is missing (${probe.error.message}); install Python and PyTorch: ${INSTALL_HINT}`;
  if (probe.status !== 0) return `${python} cannot import torch; install it: ${INSTALL_HINT}`;
  return undefined;
}

/** Thread counts worth trying on `cores` cores: the powers of two below it, and it. */
export function threadCandidates(cores: number): number[] {
  const counts: number[] = [];
  for (let t = 1; t < cores; t *= 2) counts.push(t);
  return [...counts, Math.max(cores, 1)];
}

/** The thread count of the fastest run. */
export function fastestThreads(runs: readonly TorchRun[]): number {
  return runs.reduce((best, run) => (run.samplesPerSecond > best.samplesPerSecond ? run : best)).threads;
}

export function parseTorchRuns(stdout: string): TorchRun[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as TorchRun);
}

/** Trains `net` with PyTorch at `batch`, once per thread count, in one Python process. */
export async function runTorch(
  net: 'mlp' | 'cnn',
  batch: number,
  counts: StepCounts,
  threads: readonly number[],
): Promise<TorchRun[]> {
  const args = [
    SCRIPT, '--net', net, '--batch', `${batch}`, '--warmup', `${counts.warmup}`, '--steps', `${counts.steps}`,
    '--threads', threads.join(','),
  ];
  const { stdout } = await promisify(execFile)(DEBIAN_PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  const runs = parseTorchRuns(stdout);
  if (runs.length !== threads.length) throw new Error(`torch_train.py printed ${runs.length} results for ${threads.length} thread counts`);
  return runs;
}
