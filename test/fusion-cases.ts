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

/**
 * Work on short rows (compiler/rows.ts): softmax, log-softmax, scaling by the row's sum of
 * squares, centring, and elementwise steps, in a chain over an [rows, width] input; then the
 * result alone, a cross-entropy-like loss (each row's sum of the result times labels, negated,
 * summed over the rows and scaled) or each row's sum. Widths up to 300 pass ROW_WIDTH_MAX, so
 * some groups stay unfused.
 */
interface RowRecipe {
  readonly rows: number;
  readonly width: number;
  readonly steps: readonly number[];
  /** 0: the result; 1: also a loss; 2: also each row's sum. */
  readonly ending: 0 | 1 | 2;
  /** Also an output: the value after the first step. */
  readonly firstOut: boolean;
}

const ROW_STEP_KINDS = 4;

const rowRecipeArb: fc.Arbitrary<RowRecipe> = fc.record({
  rows: fc.integer({ min: 1, max: 120 }),
  width: fc.oneof(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 300 })),
  steps: fc.array(fc.nat(ROW_STEP_KINDS + STEP_KINDS - 1), { minLength: 1, maxLength: 4 }),
  ending: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  firstOut: fc.boolean(),
});

/** Step `step` of a row chain over `v` [rows, width]: a row operation, else an elementwise step. */
function rowStep(t: CaseInputs, v: NodeId, step: number, i: number, { rows, width }: RowRecipe): NodeId {
  const { b } = t;
  switch (step) {
    case 0: {
      const e = b.exp(b.sub(v, b.reduceMax(v, [1], true)));
      return b.div(e, b.sum(e, [1], true));
    }
    case 1: {
      const d = b.sub(v, b.reduceMax(v, [1], true));
      return b.sub(d, b.log(b.sum(b.exp(d), [1], true)));
    }
    case 2:
      return b.div(v, b.add(b.sum(b.mul(v, v), [1], true), b.fill(1, [])));
    case 3:
      return b.sub(v, b.mul(b.sum(v, [1], true), b.fill(Math.fround(1 / width), [])));
    default:
      return elementwiseStep(t, v, step - ROW_STEP_KINDS, i, { bias: [width], scale: [rows, 1], full: [rows, width] });
  }
}

function buildRows(recipe: RowRecipe, t: CaseInputs): Record<string, NodeId> {
  const { b, input } = t;
  const { rows, width } = recipe;
  let first: NodeId | undefined;
  const y = recipe.steps.reduce((value, step, i) => {
    const next = rowStep(t, value, step, i, recipe);
    first ??= next;
    return next;
  }, input('x', [rows, width]));
  const outputs: Record<string, NodeId> = { y };
  if (recipe.firstOut && first !== undefined && first !== y) outputs.first = first;
  if (recipe.ending === 1) {
    const perRow = b.neg(b.sum(b.mul(y, input('labels', [rows, width])), [1]));
    outputs.loss = b.mul(b.sum(perRow, [0]), b.fill(Math.fround(1 / rows), []));
  }
  if (recipe.ending === 2) outputs.rowSums = b.sum(y, [1]);
  return outputs;
}

/** `count` sampled row recipes as corpus cases. */
export function rowFusionCases(count: number): Case[] {
  return fc
    .sample(rowRecipeArb, { seed: 20261204, numRuns: count })
    .map((recipe, i) => makeCase(`row fusion ${i}: ${JSON.stringify(recipe)}`, (t) => buildRows(recipe, t)));
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
