/**
 * What `gradc build --explain` prints: each program's kernels (what each computes, the graph
 * nodes it fuses with their DSL lines, the bytes it reads and writes), totals per program, and
 * the memory plan (which temporaries share a storage). Pure functions over a schedule.
 */
import type { BufferDecl, Kernel, Program, Schedule } from './codegen/kernel-ir.ts';
import { exprNodes } from './codegen/kernel-ir.ts';
import { memoryReport } from './memory.ts';

/** Bytes a kernel moves in one launch. */
export interface Traffic {
  readonly read: number;
  readonly written: number;
}

/**
 * The bytes a kernel reads and writes, counting each buffer it touches once, whole (its
 * float32 size), as if caches served every repeated read: a broadcast bias counts its own size,
 * a split product its [S,m,n] partial products, an in-place update its output twice (read and
 * written). A lower bound of the memory traffic and the
 * measure fusion lowers: a value that stays in registers is counted nowhere.
 */
export function kernelTraffic(buffers: readonly BufferDecl[], kernel: Kernel): Traffic {
  const bytes = (id: number) => 4 * buffers[id].size;
  const inputs = [...new Set(kernel.inputs)].reduce((sum, id) => sum + bytes(id), 0);
  // An in-place update reads the old value from its output buffer (kernel-ir.ts, Expr and
  // MatmulKernel.inPlace).
  const inPlace =
    (kernel.kind === 'map' && exprNodes(kernel.expr).some((e) => e.op === 'load' && e.input === kernel.inputs.length)) ||
    (kernel.kind !== 'map' && !!kernel.inPlace);
  return { read: inputs + (inPlace ? bytes(kernel.output) : 0), written: bytes(kernel.output) };
}

/** A program's kernels by kind and the bytes they move per run. */
export interface ProgramSummary {
  readonly name: string;
  readonly kernels: number;
  readonly products: number;
  readonly reductions: number;
  /** Row kernels (maps with per-row values, compiler/rows.ts). */
  readonly rowKernels: number;
  /** Other maps. */
  readonly maps: number;
  readonly traffic: Traffic;
}

export function programSummary(buffers: readonly BufferDecl[], program: Program): ProgramSummary {
  const count = (kind: Kernel['kind']) => program.kernels.filter((k) => k.kind === kind).length;
  const traffic = program.kernels
    .map((k) => kernelTraffic(buffers, k))
    .reduce((a, b) => ({ read: a.read + b.read, written: a.written + b.written }), { read: 0, written: 0 });
  return {
    name: program.name,
    kernels: program.kernels.length,
    products: count('matmul'),
    reductions: count('reduce'),
    rowKernels: program.kernels.filter((k) => k.kind === 'map' && k.rows).length,
    maps: program.kernels.filter((k) => k.kind === 'map' && !k.rows).length,
    traffic,
  };
}

/** `1.88 MB`, `600 kB`, `40 B`: decimal units, three significant digits. */
export function formatBytes(bytes: number): string {
  const [unit, scale] = bytes >= 1e6 ? ['MB', 1e6] : bytes >= 1e3 ? ['kB', 1e3] : ['B', 1];
  return `${unit === 'B' ? bytes : (bytes / scale).toPrecision(3)} ${unit}`;
}

/** `3 products`, `1 product`. */
function counted(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * `train: 13 kernels (8 products, 4 reductions, 1 row kernel, 0 maps); per run reads 12.9 MB,
 * writes 3.49 MB`.
 */
export function summaryLine(summary: ProgramSummary): string {
  const { name, kernels, products, reductions, rowKernels, maps, traffic } = summary;
  const kinds = [
    counted(products, 'product', 'products'),
    counted(reductions, 'reduction', 'reductions'),
    counted(rowKernels, 'row kernel', 'row kernels'),
    counted(maps, 'map', 'maps'),
  ];
  return (
    `${name}: ${counted(kernels, 'kernel', 'kernels')} (${kinds.join(', ')}); ` +
    `per run reads ${formatBytes(traffic.read)}, writes ${formatBytes(traffic.written)}`
  );
}

/** What a kernel computes in a few words: `matmul 600x250x784`, `sum 250 x 600`, `map 150000`. */
function work(kernel: Kernel): string {
  switch (kernel.kind) {
    case 'matmul': {
      const split = kernel.kSlices > 1 ? ` in ${kernel.kSlices} slices` : '';
      const window = kernel.aWindow ? ', A through a window' : '';
      return `matmul ${kernel.m}x${kernel.n}x${kernel.k}${split}${window}`;
    }
    case 'reduce':
      return `${kernel.op} ${kernel.outSize} x ${kernel.reduceSize}`;
    case 'map':
      return kernel.rows ? `rows ${kernel.size / kernel.rows.perRow} x ${kernel.rows.width}` : `map ${kernel.size}`;
  }
}

/** The storages of the memory plan: each with its size and the temporaries that share it. */
function memoryPlanLines(schedule: Schedule): string[] {
  const byStorage = new Map<number, BufferDecl[]>();
  for (const buffer of schedule.buffers) {
    if (buffer.role !== 'temp') continue;
    byStorage.set(buffer.storage, [...(byStorage.get(buffer.storage) ?? []), buffer]);
  }
  return [...byStorage.entries()].map(([storage, shared]) => {
    const size = Math.max(...shared.map((b) => b.size));
    return `  storage ${storage} (${formatBytes(4 * size)}): ${shared.map((b) => b.name).join(', ')}`;
  });
}

/** The whole report, one line per string. */
export function explainSchedule(schedule: Schedule): string[] {
  const lines: string[] = [];
  for (const program of schedule.programs) {
    lines.push(summaryLine(programSummary(schedule.buffers, program)));
    for (const kernel of program.kernels) {
      const { read, written } = kernelTraffic(schedule.buffers, kernel);
      lines.push(`  ${kernel.name}  ${work(kernel)}  reads ${formatBytes(read)}, writes ${formatBytes(written)}`);
      lines.push(...kernel.sources.map((source) => `    ${source}`));
    }
  }
  lines.push(memoryReport(schedule), ...memoryPlanLines(schedule));
  return lines;
}
