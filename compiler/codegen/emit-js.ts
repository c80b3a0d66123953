/**
 * Generated TypeScript becomes what users import: a JavaScript module that plain Node, any
 * bundler and the browser load, and its declarations for TypeScript. Both are produced file by
 * file without a type checker (every export of generated code is explicitly typed), so the
 * output is a pure function of the text.
 */
import { ts } from 'ts-morph';

export interface EmittedModule {
  readonly js: string;
  readonly dts: string;
}

const COMPILER_OPTIONS = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  declaration: true,
  isolatedDeclarations: true,
  verbatimModuleSyntax: true,
  newLine: ts.NewLineKind.LineFeed,
  removeComments: false,
} satisfies ts.CompilerOptions;

/** `model.ts` text -> `model.js` and `model.d.ts` texts. */
export function emitJavaScript(fileName: string, source: string): EmittedModule {
  const js = ts.transpileModule(source, { fileName, compilerOptions: COMPILER_OPTIONS, reportDiagnostics: false });
  const dts = ts.transpileDeclaration(source, { fileName, compilerOptions: COMPILER_OPTIONS, reportDiagnostics: true });
  const problems = dts.diagnostics ?? [];
  if (problems.length > 0) {
    const text = problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ');
    throw new Error(`gradc: declarations of generated ${fileName} failed: ${text}`);
  }
  return { js: js.outputText, dts: dts.outputText };
}

/** `kernels-wgsl.ts` -> `kernels-wgsl`. */
export function moduleBaseName(fileName: string): string {
  return fileName.replace(/\.ts$/, '');
}
