/**
 * Memory planning: temporaries whose lifetimes do not overlap share one allocation (a
 * "storage"). A temporary lives from the first kernel that writes it to the last kernel that
 * reads it; the programs of a schedule run one after another and a temporary never carries a
 * value from one run to the next, so the kernels of all programs are numbered in one sequence.
 * A kernel never reads and writes the same storage: its inputs' lifetimes end where its
 * output's begins, and lifetimes that meet at a kernel overlap.
 *
 * Buffers that hold values between runs or that the caller reads or writes (data,
 * parameters, states, hyperparameters, program outputs) keep a storage of their own.
 */
import type { BufferDecl, Schedule } from './codegen/kernel-ir.ts';

/** First and last kernel position (in the sequence of all programs' kernels) using a buffer. */
export interface Lifetime {
  readonly buffer: number;
  readonly first: number;
  readonly last: number;
}

/** The lifetimes of the temporaries that may share storage, in order of first use. */
export function temporaryLifetimes(schedule: Schedule): Lifetime[] {
  const pinned = new Set(schedule.programs.flatMap((p) => p.outputs.map((o) => o.buffer)));
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  schedule.programs
    .flatMap((p) => p.kernels)
    .forEach((kernel, position) => {
      for (const id of [...kernel.inputs, kernel.output]) {
        if (!first.has(id)) first.set(id, position);
        last.set(id, position);
      }
    });
  return schedule.buffers
    .filter((b) => b.role === 'temp' && !pinned.has(b.id) && first.has(b.id))
    .map((b) => ({ buffer: b.id, first: first.get(b.id)!, last: last.get(b.id)! }))
    .sort((a, b) => a.first - b.first || a.buffer - b.buffer);
}

interface Storage {
  readonly index: number;
  size: number;
  /** Position of the last kernel that uses the value it holds now. */
  busyUntil: number;
}

/** The first position in `sorted` whose element is not `before` the probe. */
function lowerBound<T>(sorted: readonly T[], before: (item: T) => boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(sorted[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A min-heap of storages by `busyUntil`: the next one to fall free on top. */
class BusyHeap {
  private readonly items: Storage[] = [];

  get top(): Storage | undefined {
    return this.items[0];
  }

  push(s: Storage): void {
    const items = this.items;
    let i = items.push(s) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].busyUntil <= s.busyUntil) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = s;
  }

  pop(): Storage {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && items[right].busyUntil < items[left].busyUntil ? right : left;
        if (items[child].busyUntil >= last.busyUntil) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

/**
 * Assigns every buffer a storage: temporaries in order of first use take the free storage
 * whose size fits best (the smallest that holds them, else the largest, which grows), or a new
 * one; every other buffer gets its own. Ties go to the storage made first. Storages are
 * numbered densely in order of first appearance in `schedule.buffers`.
 *
 * Lifetimes come in order of first use, so a storage that is free for one is free for every
 * later one until it is taken: busy storages wait in a heap by the end of their value's life,
 * free ones are kept sorted by (size, creation), and each choice is a binary search (taking a
 * storage out of the sorted list moves the ones after it), so planning the thousands of
 * temporaries of a deep chain's training step takes well under a second.
 */
export function planMemory(schedule: Schedule): Schedule {
  const storages: Storage[] = [];
  const busy = new BusyHeap();
  const free: Storage[] = [];
  const bySizeThenIndex = (s: Storage, size: number, index: number) =>
    s.size < size || (s.size === size && s.index < index);
  const storageOf = new Map<number, number>();
  for (const life of temporaryLifetimes(schedule)) {
    for (let s = busy.top; s !== undefined && s.busyUntil < life.first; s = busy.top) {
      busy.pop();
      free.splice(lowerBound(free, (f) => bySizeThenIndex(f, s.size, s.index)), 0, s);
    }
    const size = schedule.buffers[life.buffer].size;
    const fits = lowerBound(free, (f) => f.size < size);
    const largest = free.length === 0 ? -1 : lowerBound(free, (f) => f.size < free[free.length - 1].size);
    const at = fits < free.length ? fits : largest;
    let chosen: Storage;
    if (at >= 0) {
      chosen = free[at];
      free.splice(at, 1);
    } else {
      chosen = { index: storages.length, size: 0, busyUntil: -1 };
      storages.push(chosen);
    }
    chosen.size = Math.max(chosen.size, size);
    chosen.busyUntil = life.last;
    busy.push(chosen);
    storageOf.set(life.buffer, chosen.index);
  }
  // Dense numbering in order of each storage's first buffer.
  const renumber = new Map<string, number>();
  const buffers = schedule.buffers.map((b): BufferDecl => {
    const key = storageOf.has(b.id) ? `shared ${storageOf.get(b.id)}` : `own ${b.id}`;
    if (!renumber.has(key)) renumber.set(key, renumber.size);
    return { ...b, storage: renumber.get(key)! };
  });
  return { ...schedule, buffers };
}

/** Bytes of float32 storage a schedule allocates: each storage once, at its largest buffer. */
export function storageBytes(buffers: readonly Pick<BufferDecl, 'storage' | 'size' | 'role'>[], role?: BufferDecl['role']): number {
  const sizes = new Map<number, number>();
  for (const b of buffers) {
    if (role && b.role !== role) continue;
    sizes.set(b.storage, Math.max(sizes.get(b.storage) ?? 0, b.size));
  }
  return 4 * [...sizes.values()].reduce((a, b) => a + b, 0);
}

/**
 * One line for `gradc build --verbose`: `memory: temporaries 8.56 MB in 41 buffers -> 2.66 MB
 * in 9 storages; parameters and states 1.05 MB; data 1.91 MB` (the reference MLP).
 */
export function memoryReport(schedule: Schedule): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
  const temps = schedule.buffers.filter((b) => b.role === 'temp');
  const unplanned = 4 * temps.reduce((n, b) => n + b.size, 0);
  const storages = new Set(temps.map((b) => b.storage)).size;
  const persistent = schedule.buffers.filter((b) => b.role === 'param' || b.role === 'state');
  return (
    `memory: temporaries ${mb(unplanned)} in ${temps.length} buffers -> ` +
    `${mb(storageBytes(temps))} in ${storages} storages; ` +
    `parameters and states ${mb(storageBytes(persistent))}; data ${mb(storageBytes(schedule.buffers, 'data'))}`
  );
}
