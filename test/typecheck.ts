/**
 * Type-checks generated TypeScript on its own, under strict settings (unused locals and
 * parameters included, as the project's tsconfig checks generated/) and no ambient types.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The diagnostics of `files` (empty when they type-check). */
export function strictDiagnostics(
  files: readonly string[],
  extraOptions: ts.CompilerOptions = {},
): string[] {
  const program = ts.createProgram([...files], {
    ...extraOptions,
    strict: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    types: [],
    lib: ['lib.es2023.d.ts'],
    skipLibCheck: false,
    skipDefaultLibCheck: true,
    // Generated modules import gradc's runtime by package name; here, its sources.
    paths: { 'gradc/runtime': [fileURLToPath(new URL('../runtime/index.ts', import.meta.url))] },
  });
  // Diagnostics of the files checked (and global ones), not of gradc's own sources they import.
  const checked = new Set(files.map((f) => resolve(f)));
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || checked.has(resolve(d.file.fileName)))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}
