/**
 * Which kernel the WGSL renderer gives a matrix product (compiler/codegen/render/wgsl.ts,
 * `planWgslMatmul`): one invocation per output for small products, the blocked kernel (64 x 64
 * tiles, 4 x 4 contiguous outputs per invocation read as vec4) from BLOCKED_MATMUL_MIN rows and
 * columns, the tiled kernel (register blocks strided by 16) for narrower ones. A change of
 * threshold shows here as a changed row. No device is needed.
 */
import { describe, expect, it } from 'vitest';
import type { MatmulKernel } from '../compiler/codegen/kernel-ir.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { schedule } from '../compiler/schedule.ts';
import {
  BLOCKED_MATMUL_MIN,
  DIRECT_MATMUL_MAX_WORK,
  planWgslMatmul,
  renderWgslKernel,
} from '../compiler/codegen/render/wgsl.ts';
import { largeProductCases } from './backend-corpus.ts';

function product(m: number, n: number, k: number, kSlices = 1, transA = false, transB = false): MatmulKernel {
  const kernel = { kind: 'matmul', name: 'mm', inputs: [0, 1], output: 2, sources: [] } as const;
  return { ...kernel, m, n, k, transA, transB, kSlices };
}

type Row = readonly [string, MatmulKernel, string, readonly number[], readonly number[]];

/** [what, product, form, [blockM, blockN], workgroups]. */
const ROWS: readonly Row[] = [
  ['a tiny product', product(5, 7, 3), 'direct', [1, 1], [1, 1, 1]],
  ['2^18 multiply-adds', product(64, 64, 64), 'direct', [1, 1], [16, 1, 1]],
  ['one step of k past 2^18', product(64, 64, 65), 'blocked', [4, 4], [1, 1, 1]],
  ['the MLP: x·W1', product(600, 250, 784), 'blocked', [4, 4], [4, 10, 1]],
  ['the MLP: xᵀ·dh', product(784, 250, 600, 1, true), 'blocked', [4, 4], [4, 13, 1]],
  ['the MLP: dh·W1ᵀ', product(600, 784, 250, 1, false, true), 'blocked', [4, 4], [13, 10, 1]],
  ['the MLP: h·W2', product(600, 250, 250), 'blocked', [4, 4], [4, 10, 1]],
  ['the MLP: the output layer', product(600, 10, 250), 'tiled', [4, 1], [1, 10, 1]],
  ['the MLP: its weight gradient', product(250, 10, 600, 1, true), 'tiled', [4, 1], [1, 4, 1]],
  ['the MLP: its input gradient', product(600, 250, 10, 1, false, true), 'blocked', [4, 4], [4, 10, 1]],
  ['the MLP at batch 6000: dW1, split', product(784, 250, 6000, 6, true), 'blocked', [4, 4], [4, 13, 6]],
  ['33 rows', product(33, 300, 100), 'blocked', [4, 4], [5, 1, 1]],
  ['32 rows', product(32, 300, 100), 'tiled', [2, 4], [5, 1, 1]],
  ['32 columns', product(300, 32, 100), 'tiled', [4, 2], [1, 5, 1]],
  ['16 rows', product(16, 300, 100), 'tiled', [1, 4], [5, 1, 1]],
  ['a small product split', product(5, 7, 4096, 16), 'tiled', [1, 1], [1, 1, 16]],
];

describe('WGSL matrix product forms', () => {
  it('has the thresholds the rows below assume', () => {
    expect(DIRECT_MATMUL_MAX_WORK).toBe(2 ** 18);
    expect(BLOCKED_MATMUL_MIN).toBe(33);
  });

  it.each(ROWS)('%s', (_, kernel, form, [blockM, blockN], workgroups) => {
    const plan = planWgslMatmul(kernel);
    const got = [plan.form, plan.blockM, plan.blockN, plan.workgroups];
    expect(got).toEqual([form, blockM, blockN, workgroups]);
    expect([plan.tileM, plan.tileN]).toEqual(form === 'direct' ? [1, 256] : [16 * blockM, 16 * blockN]);
  });

  it('renders each form with its own template', () => {
    const texts = ROWS.map(([, kernel, form]) => {
      const code = renderWgslKernel({ buffers: [], programs: [] }, kernel).code;
      return [form, /array<vec4<f32>, 272>/.test(code), /@workgroup_size\(16, 16\)/.test(code)];
    });
    expect(texts).toEqual(ROWS.map(([, , form]) => [form, form === 'blocked', form !== 'direct']));
  });

  it('runs the tiled kernel instead where the blocked one is turned off', () => {
    const plan = planWgslMatmul(product(600, 250, 784), { blockedMatmulMin: Infinity });
    expect([plan.form, plan.blockM, plan.blockN, plan.workgroups]).toEqual(['tiled', 4, 4, [4, 10, 1]]);
  });

  it('refuses a grid past the workgroups a dimension allows', () => {
    expect(() => planWgslMatmul(product(70 * 64, 100, 100), { maxWorkgroupsPerDimension: 64 })).toThrow(
      /needs 2 x 70 x 1 workgroups, past 64 per dimension/,
    );
  });

  it("gives every product of the corpus's large family the blocked kernel", () => {
    const forms = largeProductCases().map((c) => {
      const kernels = allKernels(schedule([{ name: 'g', graph: c.graph }], {}));
      const products = kernels.filter((k): k is MatmulKernel => k.kind === 'matmul');
      return `${c.name}: ${products.map((k) => planWgslMatmul(k).form).join(', ')}`;
    });
    expect(forms.filter((f) => !f.endsWith(': blocked'))).toEqual([]);
  });
});
