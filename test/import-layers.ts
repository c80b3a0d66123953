/**
 * gradc's source folders as layers, and which layers each may import: imports flow one way,
 * from the graph IR up to the command line. Pure functions over file texts, so that a test can
 * plant a violation in memory and see it reported.
 */
import { posix } from 'node:path';
import ts from 'typescript';

/** A folder of gradc's sources that the import direction applies to. */
export type Layer = 'ir' | 'dsl' | 'artifact' | 'compiler' | 'runtime' | 'cli';

/**
 * The layers each layer may import besides itself. `compiler` and `runtime` are side by side:
 * neither imports the other; only `cli` sees both.
 */
export const MAY_IMPORT: Readonly<Record<Layer, readonly Layer[]>> = {
  ir: [],
  dsl: ['ir'],
  artifact: ['ir', 'dsl'],
  compiler: ['ir', 'dsl', 'artifact'],
  runtime: ['ir', 'dsl', 'artifact'],
  cli: ['ir', 'dsl', 'artifact', 'compiler', 'runtime'],
};

export const LAYERS = Object.keys(MAY_IMPORT) as readonly Layer[];

/** A source file: its path from the repository root, with `/`, and its text. */
export interface SourceText {
  readonly path: string;
  readonly text: string;
}

/** An import that goes against the direction: who imports what, by which specifier. */
export interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly from: Layer;
  /** The layer imported, or the path imported when it lies outside every layer. */
  readonly to: string;
}

/**
 * The module specifiers a TypeScript file names: static imports and re-exports (type-only ones
 * too) and `import('...')` with a literal specifier. Comments, strings and template literals
 * (generated code the renderers write) are not imports.
 */
export function importSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
}

/** The layer a path from the repository root lies in, or undefined. */
export function layerOf(path: string): Layer | undefined {
  const top = path.split('/')[0];
  return (LAYERS as readonly string[]).includes(top) ? (top as Layer) : undefined;
}

/**
 * The path from the repository root that `specifier`, imported by `file`, names: a relative
 * specifier resolved against the file's folder, gradc's own package name (`gradc`,
 * `gradc/runtime`, ...) through `entries`; undefined for another package or a Node module.
 */
export function importedPath(
  file: string,
  specifier: string,
  entries: Readonly<Record<string, string>>,
): string | undefined {
  if (specifier.startsWith('.')) return posix.normalize(posix.join(posix.dirname(file), specifier));
  return Object.hasOwn(entries, specifier) ? entries[specifier] : undefined;
}

/**
 * Every import of `files` against the direction: into a layer its own layer may not import,
 * or out of the layers altogether (tests, scripts, benchmarks).
 */
export function layerViolations(
  files: readonly SourceText[],
  entries: Readonly<Record<string, string>> = {},
): Violation[] {
  return files.flatMap((file) => {
    const from = layerOf(file.path);
    if (from === undefined) return [];
    return importSpecifiers(file.text).flatMap((specifier): Violation[] => {
      const path = importedPath(file.path, specifier, entries);
      if (path === undefined) return [];
      const to = layerOf(path);
      if (to === from || (to !== undefined && MAY_IMPORT[from].includes(to))) return [];
      return [{ file: file.path, specifier, from, to: to ?? path }];
    });
  });
}

/** One line: `compiler/a.ts imports runtime (../runtime/b.ts); compiler may import ir, dsl, artifact`. */
export function describeViolation(v: Violation): string {
  const allowed = MAY_IMPORT[v.from].join(', ') || 'no other layer';
  return `${v.file} imports ${v.to} (${v.specifier}); ${v.from} may import ${allowed}`;
}

/**
 * gradc's own package names and the source file each stands for: the `gradc-source` condition
 * of package.json's `exports` (`.` is `gradc`, `./runtime` is `gradc/runtime`).
 */
export function packageEntries(name: string, exports: Readonly<Record<string, unknown>>): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [key, value] of Object.entries(exports)) {
    const source = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['gradc-source'] : undefined;
    if (typeof source !== 'string') continue;
    entries[key === '.' ? name : `${name}/${key.slice(2)}`] = posix.normalize(source);
  }
  return entries;
}
