/**
 * In-place updates. The scheduler computes a parameter's or state's new value into a temporary
 * and copies it back at the end of the step, so that no kernel reads a half-updated value. When
 * the kernel computing the new value reads the old value only at the element it writes, and no
 * later kernel reads the old value, it can write the parameter directly: the copy kernel and
 * the temporary go away, and later readers of the new value read the parameter. That kernel is
 * either elementwise (a map kernel) or a matrix product whose epilogue computes the new value
 * (compiler/fuse.ts: SGD's `w - lr * (xᵀ · dz)`, where the gradient then never goes to memory);
 * a product's operands must not be the parameter, since every element of the product reads them.
 *
 * SGD, momentum and Adam updates all qualify; a swap (`update:a = c`, `update:c = a`) does not,
 * because the other copy reads the old value later.
 */
import { isIdentityAxes, simplifyView } from '../ir/layout.ts';
import type { Expr, Kernel, MapKernel, MatmulKernel, ReduceKernel } from './codegen/kernel-ir.ts';
import { assignedBy, exprNodes, foldExpr, withArgs } from './codegen/kernel-ir.ts';

/** The loads of input `input` in `expr`. */
function loadsOfInput(expr: Expr, input: number): Expr[] {
  return exprNodes(expr).filter((e) => e.op === 'load' && e.input === input);
}

/** Input numbers renumbered by `renumber`. */
function renumbered(expr: Expr, renumber: (input: number) => number): Expr {
  return foldExpr<Expr>(expr, (e, args) => (e.op === 'load' ? { ...e, input: renumber(e.input) } : withArgs(e, args)));
}

/**
 * `kernel` writing `target` itself. A map kernel's loads of `target` (if any) read the output
 * buffer, which the kernel IR writes as input number `inputs.length`; a product's epilogue's
 * loads of it read the output's old value, input number `inputs.length + 1` of an `inPlace`
 * product (its loads of the product, `inputs.length` before, keep that number).
 */
function writingInPlace(kernel: MapKernel | MatmulKernel | ReduceKernel, target: number, copy: Kernel): Kernel {
  const old = kernel.inputs.indexOf(target);
  const inputs = kernel.inputs.filter((b) => b !== target);
  const sources = [...kernel.sources, ...copy.sources.map((s) => `${s}, in place`)];
  const oldValue = kernel.kind === 'map' ? inputs.length : inputs.length + 1;
  const renumber = (input: number) => (input === old ? oldValue : input > old && old >= 0 ? input - 1 : input);
  if (kernel.kind === 'map') {
    return { ...kernel, inputs, output: target, expr: old < 0 ? kernel.expr : renumbered(kernel.expr, renumber), sources };
  }
  if (old < 0 || !kernel.epilogue) return { ...kernel, inputs, output: target, sources };
  const epilogue = renumbered(kernel.epilogue, renumber);
  if (kernel.kind === 'matmul') return { ...kernel, inputs, output: target, epilogue, inPlace: true, sources };
  // A reduction's prologue reads the inputs before and after the old value's place.
  const prologue = kernel.prologue && { ...kernel.prologue, expr: renumbered(kernel.prologue.expr, renumber) };
  return { ...kernel, inputs, output: target, epilogue, ...(prologue ? { prologue } : {}), inPlace: true, sources };
}

/**
 * The most outputs a reduction updating in place may have: the C target folds a row of outputs
 * in a local array instead of the output buffer, which holds the old values until the epilogue.
 */
export const REDUCE_IN_PLACE_MAX_OUTPUTS = 4096;

/** Whether every load of input `input` in `expr` reads it at the element itself. */
export function readsOnlyAtItsElement(expr: Expr, input: number): boolean {
  return loadsOfInput(expr, input).every((e) => e.op === 'load' && !e.window && (!e.view || isIdentityAxes(simplifyView(e.view))));
}

/**
 * Whether `producer` can write `target` in place of the temporary it computes: it reads
 * `target` only at the element it writes; a product (not split, whole in one kernel) reads it
 * only in its epilogue, not as an operand.
 */
function canWriteInPlace(producer: Kernel, target: number): producer is MapKernel | MatmulKernel | ReduceKernel {
  const old = producer.inputs.indexOf(target);
  if (producer.kind === 'map') return old < 0 || (!producer.rows && readsOnlyAtItsElement(producer.expr, old));
  if (producer.kind === 'reduce') {
    // A reduction whose epilogue computes the new value (a bias step): the reduced elements
    // must not read the old value, and a partial reduce of a split (no epilogue) never qualifies.
    if (!producer.epilogue || producer.inPlace || producer.outSize > REDUCE_IN_PLACE_MAX_OUTPUTS) return false;
    if (old < 0) return true;
    const readByElements = producer.prologue ? loadsOfInput(producer.prologue.expr, old).length > 0 || !!producer.prologue.rows : old === 0;
    return !readByElements && readsOnlyAtItsElement(producer.epilogue, old);
  }
  if (producer.kind !== 'matmul' || producer.kSlices > 1 || producer.inPlace) return false;
  if (old < 0) return true;
  return old >= 2 && !!producer.epilogue && readsOnlyAtItsElement(producer.epilogue, old);
}

/**
 * `kernels` (a program, its copy kernels last) with every copy (an `assign` kernel, which
 * records the parameter or state it writes) folded into the kernel that computes its source,
 * where that is safe; `outputs` are buffers the caller reads after the program, which must stay
 * as they are.
 */
export function updateInPlace(kernels: readonly Kernel[], outputs: ReadonlySet<number>): Kernel[] {
  let list = [...kernels];
  const copies = list.filter((k) => assignedBy(k) !== undefined);
  // The temporaries the copies read. A fold can redirect a later copy to read a parameter (two
  // updates sharing one new value): that copy must stay a copy.
  const temps = new Set(copies.map((k) => k.inputs[0]));
  for (const assigns of copies.map(assignedBy)) {
    const c = list.findIndex((k) => assignedBy(k) === assigns);
    const [temp] = list[c].inputs;
    const target = list[c].output;
    const p = list.findIndex((k) => k.output === temp);
    const producer = list[p];
    if (!temps.has(temp) || p < 0 || p > c || outputs.has(temp) || !canWriteInPlace(producer, target)) continue;
    const writesTarget = list.some((k, i) => i !== c && k.output === target);
    const readsOldLater = list.some((k, i) => i > p && i !== c && k.inputs.includes(target));
    if (writesTarget || readsOldLater) continue;
    const updated = writingInPlace(producer, target, list[c]);
    const redirect = (k: Kernel): Kernel => ({ ...k, inputs: k.inputs.map((b) => (b === temp ? target : b)) });
    list = list.flatMap((k, i) => (i === c ? [] : i === p ? [updated] : i > p ? [redirect(k)] : [k]));
  }
  return list;
}
