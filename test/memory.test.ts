/** Memory planning: temporaries share storage only when their lifetimes are disjoint. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BufferDecl, Kernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import { compileModel } from '../compiler/compile.ts';
import { planMemory, storageBytes, temporaryLifetimes } from '../compiler/memory.ts';
import { schedule } from '../compiler/schedule.ts';
import { allocateStorages } from '../runtime/model.ts';
import { mergeSchedules, randomCases } from './backend-corpus.ts';

/** Every promise the plan makes, checked on `planned` (the plan of `original`). */
function checkPlan(original: Schedule, planned: Schedule): void {
  expect(planned.programs).toBe(original.programs);
  expect(planned.buffers.map(({ storage: _, ...b }) => b)).toEqual(original.buffers.map(({ storage: _, ...b }) => b));
  const storages = [...new Set(planned.buffers.map((b) => b.storage))].sort((a, b) => a - b);
  expect(storages).toEqual(storages.map((_, i) => i));
  const lifetimes = new Map(temporaryLifetimes(original).map((l) => [l.buffer, l]));
  const byStorage = new Map<number, BufferDecl[]>();
  for (const b of planned.buffers) byStorage.set(b.storage, [...(byStorage.get(b.storage) ?? []), b]);
  for (const members of byStorage.values()) {
    if (members.length === 1) continue;
    // Only plannable temporaries share, and never two that are alive at the same kernel.
    for (const b of members) expect(lifetimes.has(b.id), `${b.name} shares storage`).toBe(true);
    const spans = members.map((b) => lifetimes.get(b.id)!).sort((a, b) => a.first - b.first);
    for (let i = 1; i < spans.length; i++) expect(spans[i].first).toBeGreaterThan(spans[i - 1].last);
  }
  for (const k of planned.programs.flatMap((p) => p.kernels)) {
    const out = planned.buffers[k.output].storage;
    for (const id of k.inputs) expect(planned.buffers[id].storage, k.name).not.toBe(out);
  }
  expect(storageBytes(planned.buffers)).toBeLessThanOrEqual(storageBytes(original.buffers));
}

/** Kernels over temporaries: each writes a new buffer from some earlier ones. */
const syntheticSchedule = fc
  .array(fc.record({ size: fc.integer({ min: 1, max: 64 }), reads: fc.array(fc.nat(), { maxLength: 3 }) }), {
    minLength: 1,
    maxLength: 40,
  })
  .chain((steps) =>
    fc.array(fc.nat({ max: steps.length - 1 }), { maxLength: 2 }).map((outputPositions): Schedule => {
      const buffers: BufferDecl[] = steps.map((s, id) => ({
        id,
        name: `t${id}`,
        shape: [s.size],
        size: s.size,
        role: 'temp',
        storage: id,
      }));
      const kernels: Kernel[] = steps.map((s, id) => ({
        kind: 'map',
        name: `k${id}`,
        inputs: id === 0 ? [] : [...new Set(s.reads.map((r) => r % id))],
        output: id,
        size: s.size,
        expr: { op: 'const', value: 0 },
        sources: [],
      }));
      const half = Math.ceil(kernels.length / 2);
      const programs = [
        { name: 'a', kernels: kernels.slice(0, half), feeds: [], outputs: [] },
        {
          name: 'b',
          kernels: kernels.slice(half),
          feeds: [],
          outputs: outputPositions.map((p) => ({ name: `o${p}`, buffer: p })),
        },
      ];
      return { buffers, programs };
    }),
  );

describe('memory plan', () => {
  it('shares storage only between temporaries with disjoint lifetimes (random kernel lists)', () => {
    fc.assert(
      fc.property(syntheticSchedule, (original) => {
        const planned = planMemory(original);
        checkPlan(original, planned);
        for (const o of original.programs.flatMap((p) => p.outputs)) {
          const storage = planned.buffers[o.buffer].storage;
          expect(planned.buffers.filter((b) => b.storage === storage)).toHaveLength(1);
        }
      }),
    );
  });

  it('keeps its promises on the random graphs of the backend corpus, merged', () => {
    const parts = randomCases().map((c, i) => schedule([{ name: `g${i}`, graph: c.graph }], {}));
    const merged = mergeSchedules(parts);
    checkPlan({ ...merged, buffers: merged.buffers.map((b) => ({ ...b, storage: b.id })) }, merged);
  });

  it('keeps parameters, states, data and outputs apart and shrinks the reference MLP\'s temporaries', async () => {
    const { default: mlp } = await import('../examples/mnist-mlp.ts');
    const planned = compileModel(mlp.declare()).schedule;
    const original = { ...planned, buffers: planned.buffers.map((b) => ({ ...b, storage: b.id })) };
    checkPlan(original, planned);
    for (const b of planned.buffers.filter((d) => d.role !== 'temp')) {
      expect(planned.buffers.filter((d) => d.storage === b.storage), b.name).toHaveLength(1);
    }
    const temps = (s: Schedule) => storageBytes(s.buffers.filter((b) => b.role === 'temp'));
    // The largest set of temporaries alive at one kernel bounds any plan from below.
    const kernels = planned.programs.flatMap((p) => p.kernels);
    const lifetimes = temporaryLifetimes(planned);
    const peak = Math.max(
      ...kernels.map((_, at) =>
        lifetimes.filter((l) => l.first <= at && at <= l.last).reduce((n, l) => n + 4 * planned.buffers[l.buffer].size, 0),
      ),
    );
    expect(temps(planned)).toBeGreaterThanOrEqual(peak);
    expect(temps(planned)).toBeLessThan(temps(original) / 2.5);
    console.log(`MLP at batch 600: temporaries ${temps(original)} B -> ${temps(planned)} B (peak alive ${peak} B)`);
  });

  it('allocates one buffer per storage, at its largest size; refuses buffers without a storage', () => {
    const sizes: number[] = [];
    const got = allocateStorages(
      [
        { storage: 0, size: 3 },
        { storage: 1, size: 5 },
        { storage: 0, size: 7 },
      ],
      (size) => sizes.push(size) - 1,
    );
    expect(sizes).toEqual([7, 5]);
    expect(got).toEqual([0, 1, 0]);
    const old = [{ size: 4 }] as unknown as { storage: number; size: number }[];
    expect(() => allocateStorages(old, () => 0)).toThrow(/predates memory planning; build the model again/);
  });
});
