/** The shared renderer base: literals, strided index arithmetic, loop plans, sanitising. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StridedView } from '../compiler/ir/layout.ts';
import { simplifyView, stridesOf, viewIndex } from '../compiler/ir/layout.ts';
import type { MapKernel, Schedule } from '../compiler/codegen/kernel-ir.ts';
import {
  indexExpr,
  planMapLoop,
  rowLoad,
  shortestFloat32Digits,
} from '../compiler/codegen/render/c-style.ts';
import { C_LANGUAGE, cFloatLiteral, renderC } from '../compiler/codegen/render/c.ts';
import { JS_LANGUAGE, jsFloatLiteral } from '../compiler/codegen/render/js.ts';
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
    expect(indexExpr(C_LANGUAGE, bias, 'i')).toBe('i % 250');
    const transposed = simplifyView({ outShape: [4, 3], inStrides: [1, 4] });
    expect(indexExpr(C_LANGUAGE, transposed, 'i')).toBe('(i / 3) + (i % 3) * 4');
    expect(indexExpr(JS_LANGUAGE, transposed, 'i')).toBe('((i / 3) | 0) + (i % 3) * 4');
    expect(indexExpr(C_LANGUAGE, [], 'i')).toBe('0');
  });

  it('reads what viewIndex reads, for every element of random views', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        const axes = simplifyView(view);
        const expression = indexExpr(JS_LANGUAGE, axes, 'i');
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
        const { base, innerStride } = rowLoad(JS_LANGUAGE, axes, cols);
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
