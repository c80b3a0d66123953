/**
 * Support functions (compiler/codegen/render/support.ts): a generated module defines one exactly
 * when its code calls it, as the emitters that write the calls record them: a maximum only in a
 * reduction's prologue or in a row kernel's per-row values still brings `gradc_maximum`, a
 * module without one has none; Philox brings its multiply-high where it needs one; a WGSL max
 * reduction, which starts from its first element, carries no `gradc_bits` for an unused -inf.
 */
import { describe, expect, it } from 'vitest';
import type { Expr, Kernel, MapKernel, ReduceKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import { schedule } from '../compiler/schedule.ts';
import { SupportNeeds, supportCode } from '../compiler/codegen/render/support.ts';
import { renderC } from '../compiler/codegen/render/c.ts';
import { renderJs } from '../compiler/codegen/render/js.ts';
import { renderWgslKernel } from '../compiler/codegen/render/wgsl.ts';
import { renderCuda } from '../compiler/codegen/render/cuda.ts';
import { corpusCases } from './backend-corpus.ts';
import { cudaReductionCases } from './cuda-harness.ts';

const META = { modelName: 'm', buildId: 'test' };

const x: Expr = { op: 'load', input: 0 };
const constant = (value: number): Expr => ({ op: 'const', value });
const apply = (kind: 'add' | 'sub' | 'maximum' | 'exp', ...args: Expr[]): Expr => ({ op: 'apply', kind, args });

const base = { inputs: [0], output: 1, sources: [] } as const;

/** Sums over rows of 10 of relu(x): the maximum is in the prologue only. */
const reluSum: ReduceKernel = {
  ...base,
  kind: 'reduce',
  name: 'relu_sum',
  op: 'sum',
  outSize: 6,
  reduceSize: 10,
  outView: { outShape: [6], inStrides: [10] },
  redView: { outShape: [10], inStrides: [1] },
  prologue: { expr: apply('maximum', x, constant(0)) },
};

/** x minus its row's max: the maximum is in the per-row values only. */
const rowShift: MapKernel = {
  ...base,
  kind: 'map',
  name: 'row_shift',
  size: 60,
  expr: apply('sub', x, { op: 'scalar', index: 0 }),
  rows: { width: 10, perRow: 10, scalars: [{ op: 'max', expr: x }] },
};

/** exp(x) + x: no support function. */
const plain: MapKernel = { ...base, kind: 'map', name: 'plain', size: 60, expr: apply('add', apply('exp', x), x) };

/** A uniform draw for each element. */
const draw: MapKernel = {
  ...base,
  kind: 'map',
  name: 'draw',
  size: 60,
  expr: { op: 'random', seed: 1, stream: 2, args: [constant(0)] },
};

/** max over rows of `width`, `outSize` of them. */
function rowMax(outSize: number, width: number): ReduceKernel {
  return {
    ...base,
    kind: 'reduce',
    name: 'row_max',
    op: 'max',
    outSize,
    reduceSize: width,
    outView: { outShape: [outSize], inStrides: [width] },
    redView: { outShape: [width], inStrides: [1] },
  };
}

function scheduleOf(...kernels: Kernel[]): Schedule {
  return { buffers: [], programs: [{ name: 'p', feeds: [], outputs: [], kernels }] };
}

/** The support functions `code` defines: `float gradc_x(` in C and CUDA, `function` in TypeScript, `fn` in WGSL. */
function defined(code: string): string[] {
  return [...code.matchAll(/(?:float|function|fn) (gradc_[a-z_]+)\(/g)].map((m) => m[1]).sort();
}

/** The support functions of `names` that `code` calls somewhere besides their definitions. */
function called(code: string, names: readonly string[]): string[] {
  return names
    .filter((name) => {
      const uses = code.split(`${name}(`).length - 1;
      return uses > (defined(code).includes(name) ? 1 : 0);
    })
    .sort();
}

const wgsl = (kernel: Kernel) => renderWgslKernel(scheduleOf(kernel), kernel).code;
const cuda = (...kernels: Kernel[]) => renderCuda(scheduleOf(...kernels), { ...META, archs: ['sm_80'] }).source;

describe('support functions', () => {
  it('are included with those they call, in table order, and only known ones', () => {
    const needs = new SupportNeeds();
    expect(needs.use('b')).toBe('b');
    const table = [
      { name: 'a', template: 'js/support-mulhi.hbs' },
      { name: 'b', template: 'js/support-philox.hbs', calls: ['a'] },
      { name: 'c', template: 'js/support-mulhi.hbs' },
    ];
    const code = supportCode(needs, table);
    expect(code.length).toBe(2);
    expect(code[0]).toContain('function gradc_mulhi(');
    expect(code[1]).toContain('function gradc_uniform(');
    expect(supportCode(new SupportNeeds(), table)).toEqual([]);
    needs.use('d');
    expect(() => supportCode(needs, table)).toThrow(/calls d, which is no support function/);
  });

  it('bring gradc_maximum to a WGSL kernel whose only maximum is in a prologue or a row kernel', () => {
    expect(defined(wgsl(reluSum))).toEqual(['gradc_is_nan', 'gradc_maximum']);
    // A row's max folds from -inf, which WGSL reads from its bits.
    expect(defined(wgsl(rowShift))).toEqual(['gradc_bits', 'gradc_is_nan', 'gradc_maximum']);
    expect(defined(wgsl(plain))).toEqual([]);
  });

  it('bring no gradc_bits to a WGSL max reduction, which starts from its first element', () => {
    const code = wgsl(rowMax(600, 10));
    expect(defined(code)).toEqual(['gradc_is_nan', 'gradc_maximum']);
    expect(defined(wgsl(rowMax(1, 1000)))).toEqual(['gradc_is_nan', 'gradc_maximum']);
    expect(defined(wgsl({ ...plain, expr: apply('maximum', x, constant(-Infinity)) }))).toEqual([
      'gradc_bits',
      'gradc_is_nan',
      'gradc_maximum',
    ]);
  });

  it('bring Philox and its multiply-high where a kernel draws', () => {
    expect(defined(wgsl(draw))).toEqual(['gradc_mulhi', 'gradc_uniform']);
    expect(defined(renderJs(scheduleOf(draw), META))).toEqual(['gradc_mulhi', 'gradc_uniform']);
    expect(defined(renderJs(scheduleOf(plain, rowShift, reluSum), META))).toEqual([]);
    expect(defined(renderC(scheduleOf(draw), META))).toContain('gradc_uniform');
    expect(defined(renderC(scheduleOf(plain), META))).not.toContain('gradc_uniform');
  });

  it('bring gradc_maximum to a CUDA file whose only maximum is in a prologue or a row kernel', () => {
    expect(defined(cuda(reluSum))).toEqual(['gradc_maximum']);
    expect(defined(cuda(rowShift))).toEqual(['gradc_maximum']);
    expect(defined(cuda(plain))).toEqual([]);
    expect(defined(cuda(plain, draw))).toEqual(['gradc_uniform']);
  });

  it("bring CUDA's warp reductions with the maximum the warp max calls", () => {
    expect(defined(cuda(rowMax(1, 1000)))).toEqual(['gradc_maximum', 'gradc_warp_max']);
    expect(defined(cuda({ ...rowMax(1, 1000), op: 'sum' }))).toEqual(['gradc_warp_sum']);
  });

  it('are defined exactly where called, on every target, over the backend corpus', () => {
    const names = ['gradc_bits', 'gradc_maximum', 'gradc_mulhi', 'gradc_stored', 'gradc_uniform', 'gradc_warp_max', 'gradc_warp_sum'];
    for (const c of [...corpusCases(), ...cudaReductionCases()]) {
      const s = schedule([{ name: 'p', graph: c.graph }], {});
      const modules = [
        renderJs(s, META),
        renderCuda(s, { ...META, archs: ['sm_80'] }).source,
        ...s.programs.flatMap((p) => p.kernels.map((k) => renderWgslKernel(s, k).code)),
      ];
      for (const code of modules) expect(defined(code).filter((n) => n !== 'gradc_is_nan'), c.name).toEqual(called(code, names));
      // C defines gradc_maximum in its fixed part; Philox only where a kernel draws.
      const cCode = renderC(s, META);
      expect(defined(cCode).includes('gradc_uniform'), c.name).toBe(called(cCode, ['gradc_uniform']).length > 0);
    }
  });
});
