/**
 * Type-checks generated TypeScript on its own, under strict settings (unused locals and
 * parameters included, as the project's tsconfig checks generated/) and no ambient types.
 */
import ts from 'typescript';

/** The diagnostics of `files` (empty when they type-check). */
export function strictDiagnostics(files: readonly string[]): string[] {
  const program = ts.createProgram([...files], {
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
    skipLibCheck: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}
