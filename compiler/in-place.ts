/**
 * In-place updates. The scheduler computes a parameter's or state's new value into a temporary
 * and copies it back at the end of the step, so that no kernel reads a half-updated value. When
 * the kernel computing the new value is elementwise, reads the old value only at the element
 * it writes, and no later kernel reads the old value, it can write the parameter directly: the
 * copy kernel and the temporary go away, and later readers of the new value read the parameter.
 *
 * SGD, momentum and Adam updates all qualify; a swap (`update:a = c`, `update:c = a`) does not,
 * because the other copy reads the old value later.
 */
import { isIdentityAxes, simplifyView } from './ir/layout.ts';
import type { Expr, Kernel, MapKernel } from './codegen/kernel-ir.ts';
import { exprNodes, foldExpr, withArgs } from './codegen/kernel-ir.ts';

/** The loads of input `input` in `expr`. */
function loadsOfInput(expr: Expr, input: number): Expr[] {
  return exprNodes(expr).filter((e) => e.op === 'load' && e.input === input);
}

/** Input numbers renumbered by `renumber`. */
function renumbered(expr: Expr, renumber: (input: number) => number): Expr {
  return foldExpr<Expr>(expr, (e, args) => (e.op === 'load' ? { ...e, input: renumber(e.input) } : withArgs(e, args)));
}

/**
 * `kernel` writing `target` itself; its loads of `target` (if any) read the output buffer, which
 * the kernel IR writes as input number `inputs.length`.
 */
function writingInPlace(kernel: MapKernel, target: number, copy: Kernel): MapKernel {
  const old = kernel.inputs.indexOf(target);
  const inputs = kernel.inputs.filter((b) => b !== target);
  const renumber = (input: number) => (input === old ? inputs.length : input > old && old >= 0 ? input - 1 : input);
  return {
    ...kernel,
    inputs,
    output: target,
    expr: old < 0 ? kernel.expr : renumbered(kernel.expr, renumber),
    sources: [...kernel.sources, ...copy.sources.map((s) => `${s}, in place`)],
  };
}

/**
 * `kernels` (a program, its copy kernels last) with every copy named in `copies` folded into the
 * kernel that computes its source, where that is safe; `outputs` are buffers the caller reads
 * after the program, which must stay as they are.
 */
export function updateInPlace(
  kernels: readonly Kernel[],
  copies: ReadonlySet<string>,
  outputs: ReadonlySet<number>,
): Kernel[] {
  let list = [...kernels];
  // The temporaries the copies read. A fold can redirect a later copy to read a parameter (two
  // updates sharing one new value): that copy must stay a copy.
  const temps = new Set(list.filter((k) => copies.has(k.name)).map((k) => k.inputs[0]));
  for (const name of copies) {
    const c = list.findIndex((k) => k.name === name);
    const [temp] = list[c].inputs;
    const target = list[c].output;
    const p = list.findIndex((k) => k.output === temp);
    const producer = list[p];
    if (!temps.has(temp) || p < 0 || p > c || producer.kind !== 'map' || outputs.has(temp)) continue;
    const writesTarget = list.some((k, i) => i !== c && k.output === target);
    const readsOldLater = list.some((k, i) => i > p && i !== c && k.inputs.includes(target));
    const old = producer.inputs.indexOf(target);
    const aligned =
      old < 0 ||
      loadsOfInput(producer.expr, old).every((e) => e.op === 'load' && !e.window && (!e.view || isIdentityAxes(simplifyView(e.view))));
    if (writesTarget || readsOldLater || !aligned) continue;
    const updated = writingInPlace(producer, target, list[c]);
    const redirect = (k: Kernel): Kernel => ({ ...k, inputs: k.inputs.map((b) => (b === temp ? target : b)) });
    list = list.flatMap((k, i) => (i === c ? [] : i === p ? [updated] : i > p ? [redirect(k)] : [k]));
  }
  return list;
}
