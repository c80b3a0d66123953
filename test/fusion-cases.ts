/**
 * Random products with elementwise work after them, for checking that fused and unfused builds
 * give the same numbers (compiler/fuse.ts): a fast-check recipe (sizes, transpositions, a chain
 * of up to four steps over the product with a bias, a column, a full operand, tanh, ReLU, a
 * square, a leaky ReLU) decoded into a graph, sampled with a fixed seed so every run and every
 * backend sees the same cases.
 */
import fc from 'fast-check';
import { schedule } from '../compiler/schedule.ts';
import type { Schedule } from '../compiler/codegen/kernel-ir.ts';
import type { NodeId, Shape } from '../ir/types.ts';
import type { Case, CaseInputs, ScheduleTarget } from './backend-corpus.ts';
import { makeCase, mergeSchedules, runScheduleProgram } from './backend-corpus.ts';

interface Recipe {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly steps: readonly number[];
  /** Also an output: the product, which then stays a kernel of its own. */
  readonly productOut: boolean;
}

const STEP_KINDS = 7;

const recipeArb: fc.Arbitrary<Recipe> = fc.record({
  m: fc.integer({ min: 1, max: 40 }),
  n: fc.integer({ min: 1, max: 40 }),
  k: fc.integer({ min: 1, max: 40 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  steps: fc.array(fc.nat(STEP_KINDS - 1), { minLength: 1, maxLength: 4 }),
  productOut: fc.boolean(),
});

/** The shapes of a chain's operands: a bias, a scale (a column or a scalar), a full operand. */
interface OperandShapes {
  readonly bias: Shape;
  readonly scale: Shape;
  readonly full: Shape;
}

/**
 * Step `step` of a chain (the `i`-th) applied to `v`: add a bias, multiply by a scale, subtract
 * from a full operand, tanh, ReLU, square, leaky ReLU.
 */
function elementwiseStep({ b, input }: CaseInputs, v: NodeId, step: number, i: number, shapes: OperandShapes): NodeId {
  switch (step) {
    case 0:
      return b.add(v, input(`bias${i}`, shapes.bias));
    case 1:
      return b.mul(v, input(`scale${i}`, shapes.scale));
    case 2:
      return b.sub(input(`full${i}`, shapes.full), v);
    case 3:
      return b.tanh(v);
    case 4:
      return b.maximum(v, b.fill(0, []));
    case 5:
      return b.mul(v, v);
    default:
      return b.where(b.less(v, b.fill(0, [])), b.mul(v, b.fill(Math.fround(0.1), [])), v);
  }
}

function build(recipe: Recipe, t: CaseInputs): Record<string, NodeId> {
  const { b, input } = t;
  const { m, n, k, transA, transB } = recipe;
  const p = b.matmul(input('a', transA ? [k, m] : [m, k]), input('b', transB ? [n, k] : [k, n]), transA, transB);
  const v = recipe.steps.reduce(
    (value, step, s) => elementwiseStep(t, value, step, s, { bias: [n], scale: [m, 1], full: [m, n] }),
    p,
  );
  return recipe.productOut ? { y: v, p } : { y: v };
}

/**
 * A reduction with elementwise work after it: sum or max of an [r, c] input over its rows
 * (axis 1), its columns (axis 0, outputs adjacent) or both, then a chain of up to four steps over
 * the result with a bias, a scalar, a full operand, tanh, ReLU, a square, a leaky ReLU. Rows up
 * to 300 long reach whole warps and workgroup trees.
 */
interface ReductionRecipe {
  readonly rows: number;
  readonly cols: number;
  readonly op: 'sum' | 'max';
  /** 0: over each row; 1: over each column; 2: over both. */
  readonly axes: 0 | 1 | 2;
  readonly steps: readonly number[];
  /** Also an output: the reduction's result, which then stays unfused. */
  readonly resultOut: boolean;
}

const reductionRecipeArb: fc.Arbitrary<ReductionRecipe> = fc.record({
  rows: fc.integer({ min: 1, max: 300 }),
  cols: fc.integer({ min: 1, max: 40 }),
  op: fc.constantFrom<'sum' | 'max'>('sum', 'max'),
  axes: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  steps: fc.array(fc.nat(STEP_KINDS - 1), { minLength: 1, maxLength: 4 }),
  resultOut: fc.boolean(),
});

function buildReduction(recipe: ReductionRecipe, t: CaseInputs): Record<string, NodeId> {
  const { b, input } = t;
  const { rows, cols, op } = recipe;
  const axes = [[1], [0], [0, 1]][recipe.axes];
  const x = input('x', [rows, cols]);
  const s = op === 'sum' ? b.sum(x, axes) : b.reduceMax(x, axes);
  const shape = [[rows], [cols], []][recipe.axes];
  const v = recipe.steps.reduce((value, step, i) => elementwiseStep(t, value, step, i, { bias: shape, scale: [], full: shape }), s);
  return recipe.resultOut ? { y: v, s } : { y: v };
}

/** `count` sampled reduction recipes as corpus cases. */
export function reductionFusionCases(count: number): Case[] {
  return fc
    .sample(reductionRecipeArb, { seed: 20261203, numRuns: count })
    .map((recipe, i) => makeCase(`reduction fusion ${i}: ${JSON.stringify(recipe)}`, (t) => buildReduction(recipe, t)));
}

/** `count` sampled recipes as corpus cases. */
export function fusionCases(count: number): Case[] {
  return fc
    .sample(recipeArb, { seed: 20261202, numRuns: count })
    .map((recipe, i) => makeCase(`fusion ${i}: ${JSON.stringify(recipe)}`, (t) => build(recipe, t)));
}

/** The cases scheduled one program each, fused or not, merged into one schedule. */
export function fusionSchedule(cases: readonly Case[], fuse: boolean): Schedule {
  return mergeSchedules(cases.map((c, i) => schedule([{ name: `g${i}`, graph: c.graph }], {}, [], { fuse })));
}

/**
 * The cases run fused and unfused on targets `open` makes (a device backend each): the names
 * of the outputs whose bits differ, `case: output`. Disposes of both targets.
 */
export async function fusedUnfusedDifferences(
  cases: readonly Case[],
  open: (sched: Schedule) => Promise<ScheduleTarget>,
): Promise<string[]> {
  const fused = fusionSchedule(cases, true);
  const unfused = fusionSchedule(cases, false);
  const [a, b] = await Promise.all([open(fused), open(unfused)]);
  try {
    const differences: string[] = [];
    for (const [i, c] of cases.entries()) {
      const got = await runScheduleProgram(a, fused.programs[i], i, c.feeds);
      const want = await runScheduleProgram(b, unfused.programs[i], i, c.feeds);
      for (const [name, values] of Object.entries(want)) {
        if (!Buffer.from(got[name].buffer).equals(Buffer.from(values.buffer))) differences.push(`${c.name}: ${name}`);
      }
    }
    return differences;
  } finally {
    a.backend.dispose();
    b.backend.dispose();
  }
}
