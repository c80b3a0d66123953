/**
 * What an experiment records (docs/experiments/results.json): how it ran, on what machine, its
 * tables and every run's epochs. Types and small pure functions, plus the machine's description.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { EpochRecord } from '../../runtime/fit.ts';
import type { Run, Table } from './grid.ts';

/** One epoch of a run: training loss, test loss and accuracy after it, training time. */
export interface EpochResult {
  readonly epoch: number;
  /** Mean training loss over the epoch's steps. */
  readonly trainLoss: number;
  readonly testLoss: number;
  readonly testAccuracy: number;
  /** Wall time of the epoch's training steps, without the evaluation. */
  readonly seconds: number;
}

/** A run's epochs; `diverged` says why a run stopped before its last epoch. */
export interface RunResult extends Run {
  readonly epochs: readonly EpochResult[];
  /** Wall time of all its training steps, without evaluation and building. */
  readonly trainingSeconds: number;
  readonly diverged?: string;
}

/** The machine an experiment ran on. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly gradc: string;
  /** When the experiment started, ISO 8601. */
  readonly date: string;
}

/** How an experiment ran. */
export interface Setup {
  readonly backend: string;
  readonly epochs: number;
  readonly seed: number;
  readonly trainingExamples: number;
  readonly testExamples: number;
  /** `--quick`: the smaller grid. */
  readonly quick: boolean;
}

/** Everything results.json holds. */
export interface ExperimentResults {
  readonly setup: Setup;
  readonly machine: Machine;
  readonly tables: readonly Table[];
  readonly runs: readonly RunResult[];
}

/** An epoch as the experiment records it, from `fit`'s record (evaluated on the test set). */
export function epochResult(record: EpochRecord): EpochResult {
  const test = record.validation;
  if (test?.loss === undefined || test.accuracy === undefined) {
    throw new Error(`epoch ${record.epoch} has no test loss and accuracy`);
  }
  return { epoch: record.epoch, trainLoss: record.loss, testLoss: test.loss, testAccuracy: test.accuracy, seconds: record.seconds };
}

/** A run's result from its epochs. */
export function runResult(run: Run, epochs: readonly EpochResult[], diverged?: string): RunResult {
  const trainingSeconds = epochs.reduce((sum, e) => sum + e.seconds, 0);
  return { ...run, epochs, trainingSeconds, ...(diverged !== undefined ? { diverged } : {}) };
}

/** The CPU's model name from the text of /proc/cpuinfo, if it names one. */
export function cpuModelOf(cpuinfo: string): string | undefined {
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim();
}

/** This machine: CPU model (from /proc/cpuinfo where there is one), cores, Node and gradc versions. */
export function describeMachine(gradc: string, date: Date): Machine {
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // Not Linux: Node's own description below.
  }
  return {
    cpu: cpuModelOf(cpuinfo) ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    gradc,
    date: date.toISOString(),
  };
}
