/**
 * Epilogue fusion: elementwise work on a matrix product's output runs in the product's kernel,
 * where the product is stored, instead of in a map kernel that reads it back from memory (a
 * dense layer's bias and activation, the activation's derivative mask on a backward product, a
 * plain optimizer step on a weight gradient).
 *
 * A map kernel M fuses into the product K whose output P it reads when P is a temporary that
 * no other kernel reads and no program output, M reads P only at its own element (an identity
 * load), M reads nothing through a window, K is not split into slices and has no epilogue yet,
 * and the fused kernel stays within MAX_KERNEL_INPUTS. The fused kernel runs at K's place when
 * everything M reads is written before K (so K's operands live no longer than before), else at
 * M's: every buffer is written once before the parameter copies, so moving K later reads the
 * same values.
 */
import { isIdentityAxes, simplifyView } from './ir/layout.ts';
import type { Expr, Kernel, MapKernel, MatmulKernel } from './codegen/kernel-ir.ts';
import { MAX_KERNEL_INPUTS, exprNodes, foldExpr, withArgs } from './codegen/kernel-ir.ts';

/** The product a map kernel can take as its epilogue's value, and which of its inputs it is. */
interface Candidate {
  readonly product: number;
  readonly input: number;
}

/** The loads of input `input` in `expr`. */
function loadsOf(expr: Expr, input: number): Expr[] {
  return exprNodes(expr).filter((e) => e.op === 'load' && e.input === input);
}

function readsOnlyAtItsElement(expr: Expr, input: number): boolean {
  return loadsOf(expr, input).every((e) => e.op === 'load' && !e.window && (!e.view || isIdentityAxes(simplifyView(e.view))));
}

/** The product of `kernels` whose output `map` can fuse, if any. */
function candidateOf(kernels: readonly Kernel[], at: number, keep: ReadonlySet<number>): Candidate | undefined {
  const map = kernels[at] as MapKernel;
  if (exprNodes(map.expr).some((e) => e.op === 'load' && e.window)) return undefined;
  for (const [input, buffer] of map.inputs.entries()) {
    const product = kernels.findIndex((k) => k.output === buffer);
    const k = kernels[product];
    if (product < 0 || product > at || k.kind !== 'matmul' || k.kSlices > 1 || k.epilogue) continue;
    if (keep.has(buffer) || k.m * k.n !== map.size || !readsOnlyAtItsElement(map.expr, input)) continue;
    const readers = kernels.filter((other) => other.inputs.includes(buffer));
    if (readers.length !== 1) continue;
    return { product, input };
  }
  return undefined;
}

/**
 * `product` with `map` as its epilogue, writing `map`'s output. Its inputs are the product's
 * two operands then `map`'s other inputs (operands it shares are not repeated); the epilogue's
 * loads of the product's output read input number `inputs.length`, the output itself, where
 * the product is stored (the kernel IR's convention), or undefined past MAX_KERNEL_INPUTS.
 */
function withEpilogue(product: MatmulKernel, map: MapKernel, input: number): MatmulKernel | undefined {
  const inputs = [...product.inputs];
  for (const [i, buffer] of map.inputs.entries()) if (i !== input && !inputs.includes(buffer)) inputs.push(buffer);
  if (inputs.length > MAX_KERNEL_INPUTS) return undefined;
  const renumber = (i: number) => (i === input ? inputs.length : inputs.indexOf(map.inputs[i]));
  const epilogue = foldExpr<Expr>(map.expr, (e, args) =>
    e.op === 'load' ? (e.input === input ? { op: 'load', input: inputs.length } : { ...e, input: renumber(e.input) }) : withArgs(e, args),
  );
  return { ...product, inputs, output: map.output, epilogue, sources: [...product.sources, ...map.sources] };
}

const KERNEL_NAME = /^(.*)_\d{3}_(\w+)$/;

/** Kernels renamed `<program>_<position>_<kind>` after fusion took some out. */
function renumbered(kernels: readonly Kernel[]): Kernel[] {
  return kernels.map((k, i) => {
    const match = KERNEL_NAME.exec(k.name);
    return match ? { ...k, name: `${match[1]}_${String(i).padStart(3, '0')}_${match[2]}` } : k;
  });
}

/**
 * A program's kernels (before its parameter copies) with map kernels fused into the products
 * they read as epilogues, where that is safe; `keep` are buffers read after the program.
 */
export function fuseEpilogues(kernels: readonly Kernel[], keep: ReadonlySet<number>): Kernel[] {
  let list = [...kernels];
  let fusedAny = false;
  for (let at = 0; at < list.length; at++) {
    if (list[at].kind !== 'map') continue;
    const candidate = candidateOf(list, at, keep);
    if (!candidate) continue;
    const fused = withEpilogue(list[candidate.product] as MatmulKernel, list[at] as MapKernel, candidate.input);
    if (!fused) continue;
    // At the product's place when everything the map reads is ready by then (its operands stay
    // alive no longer than before), else at the map's.
    const ready = (buffer: number) => list.findIndex((k) => k.output === buffer);
    const early = list[at].inputs.every((buffer) => ready(buffer) <= candidate.product);
    const place = early ? candidate.product : at;
    list = list.flatMap((k, i) => (i === place ? [fused] : i === candidate.product || i === at ? [] : [k]));
    at--;
    fusedAny = true;
  }
  return fusedAny ? renumbered(list) : list;
}
