/** Builds a model definition held in memory (no model file) into a folder, for tests to open. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderArtifacts } from '../compiler/build.ts';
import { compileModel } from '../compiler/compile.ts';
import type { CompiledModel } from '../compiler/compile.ts';
import type { Target } from '../compiler/codegen/targets.ts';
import type { ModelDefinition } from '../dsl/index.ts';

/**
 * Compiles `definition` and writes its files for `targets` into `outDir`, which
 * `openBuiltModel(outDir, backend)` then opens; `sourceFile` is what the glue names as its source.
 */
export function buildDefinition(
  definition: ModelDefinition,
  outDir: string,
  targets: readonly Target[],
  sourceFile: string,
): CompiledModel {
  const compiled = compileModel(definition.declare());
  for (const [name, text] of Object.entries(renderArtifacts(compiled, targets, sourceFile))) {
    writeFileSync(join(outDir, name), text);
  }
  return compiled;
}
