/**
 * Epilogue fusion: elementwise work on a matrix product's or a reduction's output runs in that
 * kernel, where the result is stored, instead of in a map kernel that reads it back from memory
 * (a dense layer's bias and activation, the activation's derivative mask on a backward product,
 * a plain optimizer step on a weight or bias gradient, the negation after a row sum).
 *
 * A map kernel M fuses into the product or reduction K whose output P it reads when P is a
 * temporary that no other kernel reads and no program output, M reads P only at its own element
 * (an identity load), M reads nothing through a window, K is not a split product and has no
 * epilogue yet, and the fused kernel stays within MAX_KERNEL_INPUTS. A split reduction's
 * partial reduce never qualifies (the total reduce reads its slices, and M could only read them
 * at another size); its total, a short reduce over the slices, does, as does the reduce that
 * adds a split product's slices. The fused kernel runs at K's place when everything M reads is
 * written before K (so K's operands live no longer than before), else at M's: every buffer is
 * written once before the parameter copies, so moving K later reads the same values.
 */
import { readsOnlyAtItsElement } from './in-place.ts';
import type { EpilogueKernel, Expr, Kernel, MapKernel } from './codegen/kernel-ir.ts';
import { MAX_KERNEL_INPUTS, exprNodes, foldExpr, withArgs, withIdentity } from './codegen/kernel-ir.ts';

/** The product or reduction a map kernel can take as its epilogue's value, and which of its inputs it is. */
interface Candidate {
  readonly producer: number;
  readonly input: number;
}

/**
 * The elements `kernel` writes when it can take an epilogue: an unsplit product without one
 * (m·n) or a reduction without one (its outputs); else undefined.
 */
function epilogueSize(kernel: Kernel): number | undefined {
  if (kernel.kind === 'matmul') return kernel.kSlices > 1 || kernel.epilogue ? undefined : kernel.m * kernel.n;
  if (kernel.kind === 'reduce') return kernel.epilogue ? undefined : kernel.outSize;
  return undefined;
}

/** The product or reduction of `kernels` whose output `map` can fuse, if any. */
function candidateOf(kernels: readonly Kernel[], at: number, keep: ReadonlySet<number>): Candidate | undefined {
  const map = kernels[at] as MapKernel;
  // A row kernel reads whole rows of what it reads, not one element.
  if (map.rows || exprNodes(map.expr).some((e) => e.op === 'load' && e.window)) return undefined;
  for (const [input, buffer] of map.inputs.entries()) {
    const producer = kernels.findIndex((k) => k.output === buffer);
    if (producer < 0 || producer > at || epilogueSize(kernels[producer]) !== map.size) continue;
    if (keep.has(buffer) || !readsOnlyAtItsElement(map.expr, input)) continue;
    // Only the map reads it: a partial reduce's slices, which its total reads, never qualify.
    const readers = kernels.filter((other) => other.inputs.includes(buffer));
    if (readers.length !== 1) continue;
    return { producer, input };
  }
  return undefined;
}

/**
 * `producer` with `map` as its epilogue, writing `map`'s output. Its inputs are the producer's
 * (a product's two operands, a reduction's reduced input) then `map`'s other inputs (those it
 * shares are not repeated); the epilogue's loads of the producer's output read input number
 * `inputs.length`, the value where it is stored (the kernel IR's convention), or undefined past
 * MAX_KERNEL_INPUTS.
 */
function withEpilogue<K extends EpilogueKernel>(producer: K, map: MapKernel, input: number): K | undefined {
  const inputs = [...producer.inputs];
  for (const [i, buffer] of map.inputs.entries()) if (i !== input && !inputs.includes(buffer)) inputs.push(buffer);
  if (inputs.length > MAX_KERNEL_INPUTS) return undefined;
  const renumber = (i: number) => (i === input ? inputs.length : inputs.indexOf(map.inputs[i]));
  const epilogue = foldExpr<Expr>(map.expr, (e, args) =>
    e.op === 'load' ? (e.input === input ? { op: 'load', input: inputs.length } : { ...e, input: renumber(e.input) }) : withArgs(e, args),
  );
  return { ...producer, inputs, output: map.output, epilogue, sources: [...producer.sources, ...map.sources] };
}

/**
 * Kernels renumbered after fusion took some out: each kernel computing part of the graph gets
 * its index in the program as its position, and the name made of it (`train_005_matmul` →
 * `train_004_matmul`).
 */
export function renumbered(kernels: readonly Kernel[]): Kernel[] {
  return kernels.map((k, i) => (k.identity?.role === 'compute' ? withIdentity(k, { ...k.identity, position: i }) : k));
}

/**
 * A program's kernels (before its parameter copies) with map kernels fused into the products
 * and reductions they read as epilogues, where that is safe; `keep` are buffers read after the
 * program.
 */
export function fuseEpilogues(kernels: readonly Kernel[], keep: ReadonlySet<number>): Kernel[] {
  let list = [...kernels];
  for (let at = 0; at < list.length; at++) {
    if (list[at].kind !== 'map') continue;
    const candidate = candidateOf(list, at, keep);
    if (!candidate) continue;
    const fused = withEpilogue(list[candidate.producer] as EpilogueKernel, list[at] as MapKernel, candidate.input);
    if (!fused) continue;
    // At the producer's place when everything the map reads is ready by then (its operands stay
    // alive no longer than before), else at the map's.
    const ready = (buffer: number) => list.findIndex((k) => k.output === buffer);
    const early = list[at].inputs.every((buffer) => ready(buffer) <= candidate.producer);
    const place = early ? candidate.producer : at;
    list = list.flatMap((k, i) => (i === place ? [fused] : i === candidate.producer || i === at ? [] : [k]));
    at--;
  }
  return list;
}
