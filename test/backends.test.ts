/**
 * Backend equivalence: every graph of test/backend-corpus.ts is scheduled, rendered by the C
 * and the TypeScript renderers, run on the native and the JS backends, and each output is
 * compared with the float64 reference `evaluate` within a float32 forward error bound
 * (test/float32-bound.ts).
 *
 * All graphs are merged into one schedule (one program per graph), so gcc compiles one
 * library and the JS module is imported once.
 */
import { allocateStorages } from '../runtime/model.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strictDiagnostics } from './typecheck.ts';
import { printGraph } from '../ir/print.ts';
import { schedule } from '../compiler/schedule.ts';
import type { Program, ReduceKernel } from '../compiler/codegen/kernel-ir.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { viewIndex } from '../ir/layout.ts';
import { reduceColumns } from '../compiler/codegen/render/reductions.ts';
import { renderC } from '../compiler/codegen/render/c.ts';
import { renderJs } from '../compiler/codegen/render/js.ts';
import type { DeviceBuffer, HostBackend } from '../runtime/backend.ts';
import type { JsKernel } from '../artifact/kernels.ts';
import { createJsBackend } from '../runtime/backends/js.ts';
import {
  DEFAULT_FLAGS,
  NativeCompileError,
  compileSharedLibrary,
  createNativeBackend,
} from '../runtime/backends/native.ts';
import type { Case } from './backend-corpus.ts';
import { corpusFamilies, corpusFamilyOf, mergeSchedules, mismatches, programResults } from './backend-corpus.ts';
import { PRIM_KINDS } from '../ir/types.ts';

/** Runs `program` once on `backend`; returns its outputs by name. */
function runProgram(
  backend: HostBackend,
  buffers: readonly DeviceBuffer[],
  program: Program,
  feeds: Readonly<Record<string, Float32Array>>,
): Record<string, Float32Array> {
  for (const feed of program.feeds) backend.upload(buffers[feed.buffer], feeds[feed.name]);
  const launches = program.kernels.map((k) =>
    backend.bind(k.name, [...k.inputs, k.output].map((id) => buffers[id])),
  );
  for (const launch of launches) launch();
  const out: Record<string, Float32Array> = {};
  for (const io of programResults(program)) out[io.name] = backend.readBack(buffers[io.buffer]);
  return out;
}

const families = corpusFamilies();
const cases: Case[] = families.flatMap((f) => f.cases);
const merged = mergeSchedules(
  cases.map((c, i) => schedule([{ name: `g${i}`, graph: c.graph }], {})),
);
const cSource = renderC(merged, { modelName: 'backend-equivalence', buildId: 'test' });
const jsSource = renderJs(merged, { modelName: 'backend-equivalence', buildId: 'test' });
const temporaryDirs: string[] = [];

function temporaryDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirs.push(dir);
  return dir;
}

const jsDir = temporaryDir('gradc-js-');
const jsFile = join(jsDir, 'kernels.ts');

interface Target {
  backend: HostBackend;
  buffers: DeviceBuffer[];
}
const targets: Record<'native' | 'js', Target | undefined> = { native: undefined, js: undefined };

function allocateAll(backend: HostBackend): Target {
  return { backend, buffers: allocateStorages(merged.buffers, (size) => backend.allocate(size)) };
}

beforeAll(async () => {
  writeFileSync(jsFile, jsSource);
  const module = (await import(pathToFileURL(jsFile).href)) as {
    kernels: Record<string, JsKernel>;
  };
  targets.js = allocateAll(createJsBackend(module.kernels));
  const kernels = allKernels(merged).map((k) => ({ name: k.name, arity: k.inputs.length + 1 }));
  const flags = [...DEFAULT_FLAGS, '-Wall', '-Wextra', '-Werror'];
  targets.native = allocateAll(createNativeBackend({ cSource, kernels, flags }));
}, 120_000);

afterAll(() => {
  for (const target of Object.values(targets)) target?.backend.dispose();
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

describe.each(['native', 'js'] as const)('%s backend matches the float64 reference', (target) => {
  it.each(cases.map((c, i) => ({ c, i, name: c.name.slice(0, 90) })))('$name', ({ c, i }) => {
    const { backend, buffers } = targets[target]!;
    const got = runProgram(backend, buffers, merged.programs[i], c.feeds);
    const problems = mismatches(c, got);
    expect(problems, `${c.name}\n${printGraph(c.graph)}`).toEqual([]);
  });

  it('renders literals exactly (bit for bit)', () => {
    const { backend, buffers } = targets[target]!;
    cases.forEach((c, i) => {
      if (!c.name.startsWith('literal ')) return;
      const value = c.graph.nodes[c.graph.outputs.y].attrs.value as number;
      const got = runProgram(backend, buffers, merged.programs[i], c.feeds).y;
      expect(Object.is(got[0], Math.fround(value)), `${value} came back as ${got[0]}`).toBe(true);
    });
  });
});

describe('the corpus', () => {
  it('holds every primitive in the graphs of the family it names for it', () => {
    const missing = PRIM_KINDS.filter((kind) => {
      const { cases: held } = families.find((f) => f.family === corpusFamilyOf(kind))!;
      return !held.some((c) => c.graph.nodes.some((node) => node.kind === kind));
    });
    expect(missing).toEqual([]);
  });
});

// ---- C reductions a row of adjacent outputs at a time ----

describe('C reductions over adjacent outputs', () => {
  const columnCases = cases.flatMap((c, i) => (c.name.startsWith('columns: ') ? [{ c, i }] : []));

  function reduceKernels(i: number): ReduceKernel[] {
    return merged.programs[i].kernels.filter((k): k is ReduceKernel => k.kind === 'reduce');
  }

  /** Kernel `name`'s C function, from its signature to its closing brace. */
  function cFunction(name: string): string {
    const start = cSource.indexOf(`void ${name}(`);
    expect(start, name).toBeGreaterThanOrEqual(0);
    return cSource.slice(start, cSource.indexOf('\n}\n', start));
  }

  /** Small integers (every sum exact in float32) with a few NaNs (one read last) and infinities. */
  function awkwardValues(feed: Float32Array): Float32Array {
    const special = new Map([[3, Infinity], [5, NaN], [60, -Infinity], [100, NaN], [feed.length - 1, NaN]]);
    return feed.map((v, k) => special.get(k) ?? Math.floor(4 * v));
  }

  it('render a row at a time', () => {
    expect(columnCases.length).toBe(5);
    for (const { c, i } of columnCases) {
      const kernels = reduceKernels(i);
      expect(kernels.length, c.name).toBeGreaterThan(0);
      for (const kernel of kernels) {
        expect(reduceColumns(kernel), `${c.name}: ${kernel.name}`).toBeDefined();
        const code = cFunction(kernel.name);
        expect(code).toContain('for (int ob = 0; ob < ');
        expect(code).not.toContain('reduction(');
      }
    }
  });

  it('give the JS backend\'s results bit for bit, NaN and infinities included', () => {
    for (const { c, i } of columnCases) {
      const feeds = { x: awkwardValues(c.feeds.x) };
      const native = targets.native!;
      const js = targets.js!;
      const got = runProgram(native.backend, native.buffers, merged.programs[i], feeds).y;
      const want = runProgram(js.backend, js.buffers, merged.programs[i], feeds).y;
      expect(got.some(Number.isNaN), c.name).toBe(true);
      expect(got.some(Number.isFinite), c.name).toBe(true);
      expect(Array.from(got), c.name).toEqual(Array.from(want));
    }
  });

  it('add each output\'s elements in order, r ascending in float32', () => {
    for (const { c, i } of columnCases.filter(({ c }) => c.name.includes(' sum '))) {
      const [kernel] = reduceKernels(i);
      expect(kernel.inputs[0]).toBe(merged.programs[i].feeds.find((f) => f.name === 'x')?.buffer);
      const x = c.feeds.x;
      const want = Float32Array.from({ length: kernel.outSize }, (_, o) => {
        let acc = 0;
        for (let r = 0; r < kernel.reduceSize; r++) {
          acc = Math.fround(acc + x[viewIndex(kernel.outView, o) + viewIndex(kernel.redView, r)]);
        }
        return acc;
      });
      const native = targets.native!;
      const got = runProgram(native.backend, native.buffers, merged.programs[i], c.feeds).y;
      expect(Array.from(got), c.name).toEqual(Array.from(want));
    }
  });
});

// ---- the generated TypeScript, the C toolchain and errors ----

describe('generated TypeScript', () => {
  it('type-checks under strict settings', () => {
    expect(strictDiagnostics([jsFile])).toEqual([]);
  }, 60_000);

  it('is deterministic', () => {
    const again = renderJs(merged, { modelName: 'backend-equivalence', buildId: 'test' });
    expect(again).toBe(jsSource);
    expect(renderC(merged, { modelName: 'backend-equivalence', buildId: 'test' })).toBe(cSource);
  });
});

describe('backend errors', () => {
  const tinyKernel = 'void twice(const float *restrict in0, float *restrict out) {}';

  it('names an unknown kernel', () => {
    for (const target of ['native', 'js'] as const) {
      const { backend, buffers } = targets[target]!;
      expect(() => backend.bind('no_such_kernel', [buffers[0]])).toThrow(/"no_such_kernel"/);
    }
  });

  it('reports a compile failure with the C file and the compiler output', () => {
    const cacheDir = temporaryDir('gradc-cc-');
    const attempt = () => compileSharedLibrary({ cSource: 'this is not C;', cacheDir });
    expect(attempt).toThrow(NativeCompileError);
    expect(attempt).toThrow(/compiling .*\.c failed[\s\S]*error/);
  });

  it('reports a missing compiler', () => {
    const attempt = () => compileSharedLibrary({ cSource: tinyKernel, cc: 'gradc-no-such-cc' });
    expect(attempt).toThrow(/C compiler "gradc-no-such-cc" is not usable/);
  });

  it('reports a kernel the library lacks', () => {
    const cacheDir = temporaryDir('gradc-cc-');
    const attempt = () =>
      createNativeBackend({
        cSource: tinyKernel,
        cacheDir,
        kernels: [{ name: 'absent_kernel', arity: 2 }],
      });
    expect(attempt).toThrow(/no function "absent_kernel"/);
  });

  it('compiles once per source (cache hit returns the same library)', () => {
    const cacheDir = temporaryDir('gradc-cc-');
    const first = compileSharedLibrary({ cSource: tinyKernel, cacheDir });
    const started = performance.now();
    expect(compileSharedLibrary({ cSource: tinyKernel, cacheDir })).toBe(first);
    expect(performance.now() - started).toBeLessThan(150);
  });
});
