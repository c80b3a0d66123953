/** The command line: help, user errors as one file:line:col line, build output. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function gradc(...args: string[]) {
  const result = spawnSync(process.execPath, ['bin/gradc.mjs', ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scratchDir(): string {
  return mkdtempSync(join('.cache', 'cli-test-'));
}

describe('gradc CLI', () => {
  it('prints usage for --help and exits 0', () => {
    const r = gradc('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/gradc build <model.ts>/);
    expect(r.stdout).toMatch(/gradc train <model.ts>/);
  });

  it('rejects an unknown option with a one-line message and no stack trace', () => {
    const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--frobnicate');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gradc: .*--frobnicate/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects an unknown target', () => {
    const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--target', 'js,fortran');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown target "fortran"/);
  });

  it('reports a missing model file', () => {
    const r = gradc('build', 'test/fixtures/nope.ts');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('gradc: cannot find model file test/fixtures/nope.ts\n');
  });

  it("points a shape mistake that tsc cannot see at the user's line", () => {
    const r = gradc('build', 'test/fixtures/bad-shape.ts', '--out', scratchDir());
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'gradc: test/fixtures/bad-shape.ts:15:20 matmul: matmul [8,784] x [250,10]: ' +
        'inner sizes differ (784 vs 250)\n',
    );
  });

  it('builds js and c artifacts and reports node counts with --verbose', () => {
    const out = scratchDir();
    const r = gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', out, '--verbose');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/train: simplify +\d+ -> \d+ nodes/);
    expect(r.stdout).toMatch(/train: \d+ kernels/);
    for (const f of ['model.ts', 'kernels.ts', 'kernels.c']) expect(existsSync(join(out, f))).toBe(true);
    expect(readFileSync(join(out, 'model.ts'), 'utf8')).toMatch(/export async function createTinyMlp/);
    const again = gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', out);
    expect(again.stdout).toMatch(/up to date .*kernels\.c/);
  });

  it('builds only the targets asked for', () => {
    const out = scratchDir();
    expect(gradc('build', 'test/fixtures/tiny-mlp.ts', '--out', out, '--target', 'js').code).toBe(0);
    expect(existsSync(join(out, 'kernels.ts'))).toBe(true);
    expect(existsSync(join(out, 'kernels.c'))).toBe(false);
  });
});
