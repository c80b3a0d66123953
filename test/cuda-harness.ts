/**
 * What the CUDA equivalence tests share: graphs beyond test/backend-corpus.ts that exercise each
 * kernel shape of the CUDA renderer (every register block of the tiled product, each way of
 * spreading a reduction over threads), and running a merged schedule's programs on a CUDA
 * backend. test/cuda-emulated.test.ts runs them on the CPU emulator of CUDA's thread model
 * (test/cuda-emulator/), test-gpu/cuda-equivalence.test.ts on a GPU.
 */
import { schedule } from '../compiler/schedule.ts';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph } from '../ir/types.ts';
import type { ReduceKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { planCudaReduce } from '../compiler/codegen/render/cuda.ts';
import type { Case } from './backend-corpus.ts';
import type { ScheduleTarget } from './backend-corpus.ts';
import { makeCase, mergeSchedules, openScheduleTarget, runScheduleProgram } from './backend-corpus.ts';

const ALL_LAYOUTS = [[false, false], [false, true], [true, false], [true, true]] as const;

/**
 * Products with ragged tiles in every layout: blocked (131 x 197, 64 x 64 tiles) and tiled with
 * register blocks of 1, 2 and 4 rows and columns (4 past 1024), k not a multiple of 16, single
 * rows and columns.
 */
export function cudaMatmulCases(): Case[] {
  const sizes: [number, number, number, readonly (readonly [boolean, boolean])[]][] = [
    [131, 197, 45, ALL_LAYOUTS],
    [1100, 40, 20, [[false, false], [true, true]]],
    [17, 1030, 33, [[false, true], [true, false]]],
    [1, 300, 20, ALL_LAYOUTS],
    [300, 1, 20, ALL_LAYOUTS],
    [16, 16, 16, [[false, false]]],
  ];
  return sizes.flatMap(([m, n, k, layouts]) =>
    layouts.map(([transA, transB]) =>
      makeCase(`tiled matmul ${m}x${n}x${k} transA=${transA} transB=${transB}`, (t) => {
        const a = t.input('a', transA ? [k, m] : [m, k]);
        const b = t.input('b', transB ? [n, k] : [k, n]);
        return { y: t.b.matmul(a, b, transA, transB) };
      }),
    ),
  );
}

/**
 * Reductions in each form of planCudaReduce: serial; 32, 64, 128 and 256 threads per output, with
 * several outputs per block and a last block only partly used; columns of 32 and of fewer
 * outputs; one output over many elements. Sums and maxima.
 */
export function cudaReductionCases(): Case[] {
  const specs: [number[], number[]][] = [
    [[3000, 5], [1]],
    [[37, 200], [1]],
    [[9, 500], [1]],
    [[5, 1000], [1]],
    [[3, 5000], [1]],
    [[40, 1000], [0]],
    [[600, 10], [0]],
    [[50, 3], [0]],
    [[30, 4, 50], [0, 2]],
    [[40, 5, 6], [0, 2]],
    [[21000], [0]],
    [[70, 17], [1]],
  ];
  return specs.flatMap(([shape, axes]) =>
    (['sum', 'max'] as const).map((kind) =>
      makeCase(`${kind} [${shape}] axes [${axes}]`, ({ b, input }) => {
        const x = input('x', shape);
        return { y: kind === 'sum' ? b.sum(x, axes) : b.reduceMax(x, axes) };
      }),
    ),
  );
}

/** The reduction plans a schedule's kernels use, e.g. `warps 64`, `columns 16x16`, `serial`. */
export function reducePlans(merged: Schedule): Set<string> {
  const reductions = allKernels(merged).filter((k): k is ReduceKernel => k.kind === 'reduce');
  return new Set(
    reductions.map((k) => {
      const plan = planCudaReduce(k);
      if (plan.form === 'warps') return `warps ${plan.perOutput}`;
      if (plan.form === 'columns') return `columns ${plan.columns}x${plan.rows}`;
      return 'serial';
    }),
  );
}

/** Separately scheduled graphs side by side, one program per case. */
export function mergedSchedule(cases: readonly Case[]): Schedule {
  // Unplanned: each buffer its own allocation, so the emulator's guard pages catch overruns.
  return mergeSchedules(cases.map((c, i) => schedule([{ name: `g${i}`, graph: c.graph }], {})), false);
}

/** The corpus on a CUDA backend (emulated or real): see openScheduleTarget. */
export type CudaTarget = ScheduleTarget;
export const openCudaTarget = openScheduleTarget;
export const runCudaProgram = runScheduleProgram;

/** maximum, both reductions of a max and the comparisons over x, y in [2, 40]: for NaN checks. */
export function nanSemanticsGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 40]);
  const y = b.input('y', [2, 40]);
  return b.finish({
    max: b.maximum(x, y),
    rowMax: b.reduceMax(x, [1]),
    columnMax: b.reduceMax(x, [0]),
    less: b.less(x, y),
    equal: b.equal(x, y),
  });
}
