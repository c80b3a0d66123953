/** The shared renderer base: literals, strided index arithmetic, loop plans, sanitising. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StridedView } from '../ir/layout.ts';
import { reductionLayout, simplifyView, stridesOf, viewIndex } from '../ir/layout.ts';
import type { MapKernel, ReduceKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import { shortestFloat32Digits } from '../compiler/codegen/render/language.ts';
import { indexExpr, rowLoad } from '../compiler/codegen/render/indexing.ts';
import { planMapLoop } from '../compiler/codegen/render/loops.ts';
import { reduceColumnParts, reduceColumns } from '../compiler/codegen/render/reductions.ts';
import { cFloatLiteral, cLanguage, renderC } from '../compiler/codegen/render/c.ts';
import { jsFloatLiteral, jsLanguage } from '../compiler/codegen/render/js.ts';
import { lineCommentText } from '../compiler/codegen/escape.ts';

describe('float literals', () => {
  it('writes C literals', () => {
    expect(cFloatLiteral(1)).toBe('1.0f');
    expect(cFloatLiteral(0.1)).toBe('0.1f');
    expect(cFloatLiteral(-2.5)).toBe('(-2.5f)');
    expect(cFloatLiteral(1e-45)).toBe('1e-45f');
    expect(cFloatLiteral(16777217)).toBe('16777216.0f');
    expect(cFloatLiteral(3e38)).toBe('3e+38f');
    expect(cFloatLiteral(-0)).toBe('(-0.0f)');
    expect(cFloatLiteral(Infinity)).toBe('INFINITY');
    expect(cFloatLiteral(-Infinity)).toBe('(-INFINITY)');
    expect(cFloatLiteral(NaN)).toBe('NAN');
  });

  it('writes JS literals as the exact float32 value', () => {
    expect(jsFloatLiteral(1)).toBe('1');
    expect(jsFloatLiteral(0.1)).toBe('0.10000000149011612');
    expect(jsFloatLiteral(-2)).toBe('(-2)');
    expect(jsFloatLiteral(-0)).toBe('(-0)');
    expect(jsFloatLiteral(-Infinity)).toBe('(-Infinity)');
  });

  it('round-trips every float32 (shortest digits, C and JS forms)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (f) => {
        const digits = shortestFloat32Digits(f);
        expect(Math.fround(Number(digits)) === Math.fround(f)).toBe(true); // -0 is its own case
        expect(digits.length).toBeLessThanOrEqual(String(Math.fround(f)).length);
        const js = jsFloatLiteral(f).replace(/^\((.*)\)$/, '$1');
        expect(Object.is(Number(js), Math.fround(f))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

/** A random view: an output shape and a stride per axis (0 = broadcast). */
const viewArb: fc.Arbitrary<StridedView> = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 40 })), {
    minLength: 0,
    maxLength: 4,
  })
  .map((axes) => ({ outShape: axes.map(([d]) => d), inStrides: axes.map(([, s]) => s) }));

function sizeOfView(view: StridedView): number {
  return view.outShape.reduce((a, b) => a * b, 1);
}

/** Evaluates a rendered JS index expression over named integer variables. */
function evalIndex(expression: string, vars: Record<string, number>): number {
  const names = Object.keys(vars);
  return new Function(...names, `return ${expression};`)(...names.map((n) => vars[n])) as number;
}

describe('strided index arithmetic', () => {
  it('simplifies views', () => {
    expect(simplifyView({ outShape: [2, 3, 4], inStrides: [0, 4, 1] })).toEqual([
      { size: 2, stride: 0 },
      { size: 12, stride: 1 },
    ]);
    expect(simplifyView({ outShape: [600, 250], inStrides: [0, 1] })).toEqual([
      { size: 600, stride: 0 },
      { size: 250, stride: 1 },
    ]);
    expect(simplifyView({ outShape: [1, 5, 1], inStrides: [7, 1, 9] })).toEqual([
      { size: 5, stride: 1 },
    ]);
  });

  it('bakes constants into C and JS index expressions', () => {
    const bias = simplifyView({ outShape: [600, 250], inStrides: [0, 1] });
    expect(indexExpr(cLanguage(), bias, 'i')).toBe('i % 250');
    const transposed = simplifyView({ outShape: [4, 3], inStrides: [1, 4] });
    expect(indexExpr(cLanguage(), transposed, 'i')).toBe('(i / 3) + (i % 3) * 4');
    expect(indexExpr(jsLanguage(), transposed, 'i')).toBe('((i / 3) | 0) + (i % 3) * 4');
    expect(indexExpr(cLanguage(), [], 'i')).toBe('0');
  });

  it('reads what viewIndex reads, for every element of random views', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        const axes = simplifyView(view);
        const expression = indexExpr(jsLanguage(), axes, 'i');
        for (let i = 0; i < sizeOfView(view); i++) {
          expect(evalIndex(expression, { i })).toBe(viewIndex(view, i));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('splits a view into a per-row base plus a column stride', () => {
    fc.assert(
      fc.property(viewArb, fc.integer({ min: 1, max: 4 }), (view, divisor) => {
        const axes = simplifyView(view);
        if (axes.length === 0) return;
        const last = axes[axes.length - 1].size;
        const cols = last % divisor === 0 ? last / divisor : last;
        const { base, innerStride } = rowLoad(jsLanguage(), axes, cols);
        for (let i = 0; i < sizeOfView(view); i++) {
          const o = Math.floor(i / cols);
          const j = i % cols;
          expect(evalIndex(base, { o }) + j * innerStride).toBe(viewIndex(view, i));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('plans rows for broadcast loads and a flat loop otherwise', () => {
    const kernel = (view?: StridedView): MapKernel => ({
      kind: 'map',
      name: 'k',
      inputs: [0, 1],
      output: 2,
      size: 150000,
      sources: [],
      expr: {
        op: 'apply',
        kind: 'add',
        args: [
          { op: 'load', input: 0 },
          view ? { op: 'load', input: 1, view } : { op: 'load', input: 1 },
        ],
      },
    });
    const bias = { outShape: [600, 250], inStrides: [0, 1] };
    expect(planMapLoop(kernel(bias))).toEqual({ kind: 'rows', rows: 600, cols: 250 });
    expect(planMapLoop(kernel())).toEqual({ kind: 'flat', size: 150000 });
    expect(stridesOf([600, 250])).toEqual([250, 1]);
  });
});

describe('reductions over adjacent outputs', () => {
  /** `op` over `axes` of a buffer of `inShape`, as the schedule lowers it. */
  function reduceKernel(op: ReduceKernel['op'], inShape: number[], axes: number[]): ReduceKernel {
    const { outView, redView, reduceSize } = reductionLayout(inShape, axes);
    const outSize = inShape.reduce((a, b) => a * b, 1) / reduceSize;
    return {
      kind: 'reduce', name: 'k', op, inputs: [0], output: 1, sources: [], outSize, reduceSize, outView, redView,
    };
  }
  const pooling = reduceKernel('max', [128, 13, 13, 2, 2, 32], [3, 4]);

  it('go in rows of the innermost output axis when it has 8 elements or more', () => {
    expect(reduceColumns(pooling)).toEqual({ rows: 21632, cols: 32 });
    expect(reduceColumns(reduceKernel('sum', [600, 250], [0]))).toEqual({ rows: 1, cols: 250 });
    expect(reduceColumns(reduceKernel('sum', [44, 288, 64], [0]))).toEqual({ rows: 1, cols: 18432 });
    expect(reduceColumns(reduceKernel('max', [600, 10], [1]))).toBeUndefined();
    expect(reduceColumns(reduceKernel('max', [2, 3, 3, 2, 2, 3], [3, 4]))).toBeUndefined();
    expect(reduceColumns(reduceKernel('sum', [600, 250], [0, 1]))).toBeUndefined();
  });

  it('read a row\'s elements at a base plus the step plus the column', () => {
    expect(reduceColumnParts(cLanguage(), pooling, 32)).toEqual({
      base: 'ob * 128',
      init: '(-INFINITY)',
      step: 'gradc_maximum(acc[j], in0[base + r * 32 + j])',
    });
    expect(reduceColumnParts(cLanguage(), reduceKernel('sum', [600, 250], [0]), 250)).toEqual({
      base: '0',
      init: '0.0f',
      step: 'acc[j] + in0[base + r * 250 + j]',
    });
  });

  it('render in C as a vector loop over a row inside the loop over steps', () => {
    const schedule: Schedule = {
      buffers: [
        { id: 0, name: 'x', shape: [128, 13, 13, 2, 2, 32], size: 2768896, role: 'data', storage: 0 },
        { id: 1, name: 'y', shape: [128, 13, 13, 32], size: 692224, role: 'temp', storage: 1 },
        { id: 2, name: 'z', shape: [600, 10], size: 6000, role: 'data', storage: 2 },
        { id: 3, name: 'w', shape: [600], size: 600, role: 'temp', storage: 3 },
      ],
      programs: [
        {
          name: 'p',
          feeds: [],
          outputs: [],
          kernels: [
            { ...pooling, name: 'pool' },
            { ...reduceKernel('max', [600, 10], [1]), name: 'row_max', inputs: [2], output: 3 },
          ],
        },
      ],
    };
    const source = renderC(schedule, { modelName: 'm', buildId: 'test' });
    const pool = source.slice(source.indexOf('void pool('), source.indexOf('void row_max('));
    expect(pool).toContain([
      '  #pragma omp parallel for',
      '  for (int ob = 0; ob < 21632; ob++) {',
      '    const int base = ob * 128;',
      '    float *const acc = out + ob * 32;',
    ].join('\n'));
    expect(pool).toContain([
      '    for (int r = 0; r < 4; r++) {',
      '      #pragma omp simd',
      '      for (int j = 0; j < 32; j++) {',
      '        acc[j] = gradc_maximum(acc[j], in0[base + r * 32 + j]);',
    ].join('\n'));
    const rowMax = source.slice(source.indexOf('void row_max('));
    expect(rowMax).toContain('acc = gradc_maximum(acc, in0[base + r]);');
  });
});

describe('sanitising', () => {
  it('keeps comments on one line and unterminated', () => {
    expect(lineCommentText('a\nb */ c\\')).toBe('a b * / c');
  });

  it('refuses kernel names that are not identifiers', () => {
    const schedule: Schedule = {
      buffers: [{ id: 0, name: 'x', shape: [1], size: 1, role: 'temp', storage: 0 }],
      programs: [
        {
          name: 'p',
          feeds: [],
          outputs: [],
          kernels: [
            {
              kind: 'map',
              name: 'bad name(); system("x")',
              inputs: [],
              output: 0,
              size: 1,
              sources: [],
              expr: { op: 'const', value: 1 },
            },
          ],
        },
      ],
    };
    expect(() => renderC(schedule, { modelName: 'm', buildId: 'test' })).toThrow(/not an identifier/);
  });
});
