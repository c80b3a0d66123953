/**
 * The C backend's matrix products against another revision's: the reference MLP's training
 * products (forward, weight gradients, input gradients) at one batch, each timed with the
 * support code of this tree and of `--against` revisions (templates/c/support.hbs as git has
 * it there), built with the C backend's flags and alternated in one process (bench/products/
 * driver.c), so both meet the same machine. Prints GFLOP/s per product (median of 21 rounds),
 * the products' summed time per build, and whether the results' checksums agree.
 *
 *   npm run bench:products -- --against fd6b4a4 [--batch 600]
 *
 * Whole products without the kernels' epilogues; at batch 6000 the training step splits the
 * weight gradients into slices, which this times whole.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_FLAGS } from '../runtime/backends/native.ts';
import { MLP_LAYERS } from './harness.ts';

const HERE = fileURLToPath(new URL('./products/', import.meta.url));
const SUPPORT = fileURLToPath(new URL('../templates/c/support.hbs', import.meta.url));

/** 0: A x B; 1: Aᵀ x B (A stored k x m); 2: A x Bᵀ (B stored n x k). */
type Layout = 0 | 1 | 2;

interface Product {
  readonly what: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly layout: Layout;
}

/** The MLP's training products at `batch`: forward, weight gradients, input gradients past the first layer. */
function mlpProducts(batch: number, layers: readonly number[] = MLP_LAYERS): Product[] {
  const products: Product[] = [];
  for (let l = 1; l < layers.length; l++) {
    const [inputs, outputs] = [layers[l - 1], layers[l]];
    products.push({ what: `forward ${l}`, m: batch, n: outputs, k: inputs, layout: 0 });
    products.push({ what: `weight gradient ${l}`, m: inputs, n: outputs, k: batch, layout: 1 });
    if (l > 1) products.push({ what: `input gradient ${l}`, m: batch, n: inputs, k: outputs, layout: 2 });
  }
  return products;
}

interface Timing {
  readonly build: number;
  readonly best: number;
  readonly median: number;
  readonly checksum: number;
}

function main(): void {
  const { values } = parseArgs({ options: { against: { type: 'string', multiple: true }, batch: { type: 'string', default: '600' } } });
  const revisions = values.against ?? [];
  if (revisions.length === 0) throw new Error('--against takes a git revision to compare with (repeatable)');
  const batch = Number(values.batch);
  if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`--batch takes a positive integer, got ${values.batch}`);
  const dir = mkdtempSync(join(os.tmpdir(), 'gradc-products-'));
  try {
    const cc = process.env.CC ?? 'cc';
    const names = ['this tree', ...revisions];
    const libraries = names.map((name, i) => {
      const support = join(dir, `support-${i}.c`);
      const text = i === 0 ? readFileSync(SUPPORT, 'utf8') : execFileSync('git', ['show', `${name}:templates/c/support.hbs`], { encoding: 'utf8' });
      writeFileSync(support, text);
      const library = join(dir, `product-${i}.so`);
      execFileSync(cc, [...DEFAULT_FLAGS, `-DSUPPORT="${support}"`, join(HERE, 'product.c'), '-o', library]);
      return library;
    });
    const driver = join(dir, 'driver');
    execFileSync(cc, ['-O2', '-fopenmp', join(HERE, 'driver.c'), '-o', driver, '-ldl']);
    const totals = names.map(() => 0);
    console.log(`MLP ${MLP_LAYERS.join('-')} training products at batch ${batch}, ${os.availableParallelism()} threads; GFLOP/s, median of 21 alternating rounds`);
    console.log(`| product | m x n x k | ${names.join(' | ')} | same checksum |`);
    console.log(`|---|---|${names.map(() => '---:|').join('')}---|`);
    for (const p of mlpProducts(batch)) {
      const out = execFileSync(driver, [p.m, p.n, p.k, p.layout, ...libraries].map(String), { encoding: 'utf8' });
      const timings = out.trim().split('\n').map((line) => JSON.parse(line) as Timing);
      timings.forEach((t, i) => (totals[i] += (2 * p.m * p.n * p.k) / (t.median * 1e9)));
      const same = timings.every((t) => t.checksum === timings[0].checksum);
      console.log(`| ${p.what} | ${p.m}x${p.n}x${p.k} | ${timings.map((t) => t.median.toFixed(1)).join(' | ')} | ${same ? 'yes' : 'no'} |`);
    }
    const ms = totals.map((t) => (t * 1e3).toFixed(3));
    console.log(`\nsummed time of the products (ms): ${names.map((name, i) => `${name} ${ms[i]}`).join(', ')}`);
    for (let i = 1; i < names.length; i++) console.log(`this tree is ${(totals[i] / totals[0]).toFixed(2)}x as fast as ${names[i]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
