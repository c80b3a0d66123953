/**
 * The machine's measured float32 FMA peak (bench/peak/fma.c: independent chains of vector FMAs
 * in registers on every thread), built with the C backend's compiler and flags, so the bench can
 * say what fraction of it a training step reaches. The probe runs in every round of the bench,
 * beside the contenders, so that a share of the peak compares figures measured at the same times.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_FLAGS } from '../runtime/backends/native.ts';

const SOURCE = fileURLToPath(new URL('./peak/fma.c', import.meta.url));

export interface FmaPeak {
  readonly gflops: number;
  readonly threads: number;
  /** float32 lanes per vector the compiler chose (8 with AVX2, 16 with AVX-512). */
  readonly lanes: number;
}

/** The built probe: `measure` runs it; `dispose` removes it. */
export interface FmaProbe {
  /** The best of `runs` runs on `threads` threads (default: every core). */
  measure(threads?: number, runs?: number): FmaPeak;
  dispose(): void;
}

/** Builds the probe with the C backend's flags (so with the kernels' vector width). */
export function buildFmaProbe(): FmaProbe {
  const dir = mkdtempSync(join(os.tmpdir(), 'gradc-peak-'));
  const binary = join(dir, 'fma');
  try {
    // A program, not a library; and contraction on, as the product's micro-kernel has it.
    const dropped = ['-shared', '-fPIC', '-ffp-contract=off'];
    const flags = DEFAULT_FLAGS.filter((flag) => !dropped.includes(flag));
    execFileSync(process.env.CC ?? 'cc', [...flags, SOURCE, '-o', binary]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    measure(threads = os.availableParallelism(), runs = 3) {
      const env = { ...process.env, OMP_NUM_THREADS: String(threads) };
      const results = Array.from({ length: runs }, () => JSON.parse(execFileSync(binary, { env, encoding: 'utf8' })) as FmaPeak);
      return results.reduce((best, r) => (r.gflops > best.gflops ? r : best));
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
