/**
 * Imports flow one way (docs/DESIGN.md, Layers): each folder imports only those below it, from
 * the bottom ir/, dsl/, artifact/, then compiler/ and runtime/ side by side, then cli/. Every
 * .ts file of those folders is parsed and each import it makes (static, type-only, re-export,
 * or `import()` with a literal specifier) checked against the direction. The checker also runs
 * on planted violations, so a checker that finds nothing cannot pass.
 */
import { readFileSync, readdirSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { SourceText } from './import-layers.ts';
import {
  LAYERS, MAY_IMPORT, describeViolation, importSpecifiers, layerViolations, packageEntries,
} from './import-layers.ts';

/** Every .ts file under `dir`, as paths from the repository root with `/`. */
function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; exports: Record<string, unknown> };
const ENTRIES = packageEntries(manifest.name, manifest.exports);

describe('the import direction', () => {
  const files: SourceText[] = LAYERS.flatMap((layer) =>
    typeScriptFiles(layer).map((path) => ({ path, text: readFileSync(path, 'utf8') })),
  );

  it('holds in every file of ir/, dsl/, artifact/, compiler/, runtime/ and cli/', () => {
    for (const layer of LAYERS) {
      expect(files.filter((f) => f.path.startsWith(`${layer}/`)).length, `${layer}/ has files`).toBeGreaterThan(0);
    }
    expect(layerViolations(files, ENTRIES).map(describeViolation)).toEqual([]);
  });

  it('covers every folder the package is built from', () => {
    const text = readFileSync('tsconfig.build.json', 'utf8');
    const build = ts.parseConfigFileTextToJson('tsconfig.build.json', text).config as { include: string[] };
    expect([...build.include].sort()).toEqual([...LAYERS].sort());
  });

  it('knows gradc by its package names', () => {
    expect(ENTRIES).toMatchObject({
      gradc: 'dsl/index.ts',
      'gradc/runtime': 'runtime/index.ts',
      'gradc/compiler': 'compiler/index.ts',
    });
  });
});

describe('the import checker', () => {
  const check = (path: string, text: string) =>
    layerViolations([{ path, text }], ENTRIES).map(describeViolation);

  it('finds static, type-only, re-exported and dynamic imports, not those in comments or strings', () => {
    const text = [
      "import type { A } from './a.ts';",
      "import { b } from '../b.ts';",
      "export * from './c.ts';",
      "export type { D } from './d.ts';",
      "const e = await import('./e.ts');",
      "// import { f } from './f.ts';",
      "const g = `import { g } from './g.ts'`;",
      "const h = await import(name);",
    ].join('\n');
    expect(importSpecifiers(text)).toEqual(['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts']);
  });

  it('reports the compiler importing the runtime, statically or by type', () => {
    expect(check('compiler/build.ts', "import { fit } from '../runtime/fit.ts';")).toEqual([
      'compiler/build.ts imports runtime (../runtime/fit.ts); compiler may import ir, dsl, artifact',
    ]);
    expect(check('compiler/codegen/glue.ts', "import type { Backend } from '../../runtime/backend.ts';")).toHaveLength(1);
  });

  it('reports the runtime importing the compiler, and either importing the CLI', () => {
    expect(check('runtime/model.ts', "export { compileModel } from '../compiler/compile.ts';")).toHaveLength(1);
    expect(check('runtime/open.ts', "const cli = await import('../cli/main.ts');")).toHaveLength(1);
    expect(check('compiler/compile.ts', "import { run } from '../cli/main.ts';")).toHaveLength(1);
  });

  it('reports the DSL importing the compiler, the runtime or the CLI, by path or package name', () => {
    expect(check('dsl/model.ts', "import { GradcError } from '../compiler/errors.ts';")).toHaveLength(1);
    expect(check('dsl/model.ts', "import type { ModelInstance } from 'gradc/runtime';")).toEqual([
      'dsl/model.ts imports runtime (gradc/runtime); dsl may import ir',
    ]);
    expect(check('dsl/ops.ts', "import { buildAndOpen } from '../cli/build-and-open.ts';")).toHaveLength(1);
  });

  it('reports the IR importing anything of gradc, and any layer importing tests or scripts', () => {
    expect(check('ir/builder.ts', "import type { ModelSpec } from '../dsl/spec.ts';")).toEqual([
      'ir/builder.ts imports dsl (../dsl/spec.ts); ir may import no other layer',
    ]);
    expect(check('cli/main.ts', "import { EXAMPLES } from '../test/examples.ts';")).toEqual([
      'cli/main.ts imports test/examples.ts (../test/examples.ts); cli may import ir, dsl, artifact, compiler, runtime',
    ]);
  });

  it('accepts imports down the layers, within a layer, and of other packages', () => {
    const text = [
      "import type { ModelSpec } from '../dsl/spec.ts';",
      "import { GradcError } from '../ir/errors.ts';",
      "import { writeAtomically } from '../artifact/atomic-file.ts';",
      "import { schedule } from './schedule.ts';",
      "import { readFileSync } from 'node:fs';",
      "import { Project } from 'ts-morph';",
      "import type { Tensor } from 'gradc';",
    ].join('\n');
    expect(check('compiler/build.ts', text)).toEqual([]);
    expect(check('cli/train-command.ts', "import { fit } from '../runtime/fit.ts';\nimport { buildModel } from '../compiler/build.ts';")).toEqual([]);
    expect(MAY_IMPORT.compiler).not.toContain('runtime');
    expect(MAY_IMPORT.runtime).not.toContain('compiler');
  });
});
