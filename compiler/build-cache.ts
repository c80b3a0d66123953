/**
 * What a build depends on, so that an unchanged model is not built again: the model file and
 * the local files it imports (by content), gradc's version, and the build options. A build
 * folder records them in `.gradc-build.json` with the digests of the files it wrote; a build
 * whose record matches (and whose files are unchanged) is up to date. Light: checking needs
 * only node:fs and node:crypto, so `gradc build` on an unchanged model returns at once.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GradcError } from '../ir/errors.ts';
import { GRADC_VERSION } from './version.ts';
import { TARGETS } from './codegen/targets.ts';
import type { Target } from './codegen/targets.ts';
import { DEFAULT_CUDA_ARCHS, normalizeArchs } from '../artifact/cuda-compile.ts';

export const MANIFEST_FILE = '.gradc-build.json';

/** A file and the SHA-256 of its contents; paths relative to the build folder, with `/`. */
export interface FileDigest {
  readonly path: string;
  readonly sha256: string;
}

export interface BuildManifest {
  /** gradc's version (with a digest of its sources when run from them). */
  readonly gradc: string;
  /** The build options that change the output (targets, batch, seed, ...). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The model file and the local files it imports. */
  readonly inputs: readonly FileDigest[];
  /** The files the build wrote. */
  readonly outputs: readonly FileDigest[];
}

export function sha256(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function portable(path: string): string {
  return path.split(sep).join('/');
}

/** The digests of `paths` (absolute), named relative to `base`. */
export function digestFiles(paths: readonly string[], base: string): FileDigest[] {
  return relativeTo(base, digestPaths(paths));
}

/** The digests of `paths`, named as given. */
export function digestPaths(paths: readonly string[]): FileDigest[] {
  return paths.map((path) => ({ path, sha256: sha256(readFileSync(path)) }));
}

/** Digests taken with absolute paths, named relative to `base`. */
export function relativeTo(base: string, digests: readonly FileDigest[]): FileDigest[] {
  return digests.map((d) => ({ path: portable(relative(base, d.path)), sha256: d.sha256 }));
}

/** Whether every file still has its recorded digest. */
function unchanged(files: readonly FileDigest[], base: string): boolean {
  return files.every((f) => {
    const path = resolve(base, f.path);
    return existsSync(path) && statSync(path).isFile() && sha256(readFileSync(path)) === f.sha256;
  });
}

let stamp: string | undefined;

/**
 * gradc's identity for builds: its version, and when it runs from its TypeScript sources (a
 * checkout, where the version does not change with every edit) a digest of the sources a build
 * runs (the IR, the DSL, the compiler, the artifact format and nvcc's flags) and the templates
 * as well.
 */
export function gradcStamp(): string {
  if (stamp !== undefined) return stamp;
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return (stamp = GRADC_VERSION);
  const root = resolve(dirname(here), '..');
  const files = ['artifact', 'compiler', 'dsl', 'ir', 'templates'].flatMap((dir) => listFiles(join(root, dir))).sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${relative(root, file)}\0`).update(readFileSync(file));
  return (stamp = `${GRADC_VERSION}+${hash.digest('hex').slice(0, 12)}`);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

export function readManifest(dir: string): BuildManifest | undefined {
  try {
    const value = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as BuildManifest;
    return Array.isArray(value.inputs) && Array.isArray(value.outputs) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `outDir` must be a folder, or a path where one can be made (checked before anything is
 * loaded or compiled).
 */
export function checkOutDir(outDir: string): void {
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) {
    throw new GradcError(`--out ${outDir} is a file, not a folder`);
  }
  const system = ['/proc', '/sys', '/dev'].find((d) => outDir === d || outDir.startsWith(`${d}/`));
  if (system) throw new GradcError(`--out ${outDir} is inside ${system}, which holds no files`);
  // The folder is made where the nearest existing folder above it is: that must be a folder we
  // can write into.
  let existing = dirname(outDir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  if (!existsSync(outDir)) {
    if (!statSync(existing).isDirectory()) throw new GradcError(`--out ${outDir}: ${existing} is a file, not a folder`);
    try {
      accessSync(existing, constants.W_OK);
    } catch {
      throw new GradcError(`--out ${outDir}: the folder ${existing} is not writable`);
    }
  }
}

/** Whether `dir` holds a build of the same inputs, by the same gradc, with the same options. */
export function isUpToDate(dir: string, options: Readonly<Record<string, unknown>>): boolean {
  const manifest = readManifest(dir);
  return (
    manifest !== undefined &&
    manifest.gradc === gradcStamp() &&
    JSON.stringify(manifest.options) === JSON.stringify(options) &&
    unchanged(manifest.inputs, dir) &&
    unchanged(manifest.outputs, dir)
  );
}

export function manifestText(manifest: BuildManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** What of a build's options changes its output (`BuildOptions` of compiler/build.ts). */
export interface BuildKeyOptions {
  readonly targets: readonly Target[];
  readonly batch?: number | undefined;
  readonly seed?: number | undefined;
  readonly cudaArchs?: readonly string[] | undefined;
  readonly compileCuda?: boolean | undefined;
  readonly predictOnly?: boolean | undefined;
  readonly predictBatch?: number | undefined;
}

/** The options of a build that change its output, as recorded in the build folder. */
export function buildKey(file: string, outDir: string, options: BuildKeyOptions): Record<string, unknown> {
  return {
    model: portable(relative(outDir, resolve(file))),
    targets: TARGETS.filter((t) => options.targets.includes(t)),
    batch: options.batch ?? null,
    seed: options.seed ?? null,
    cudaArchs: options.targets.includes('cuda') ? normalizeArchs(options.cudaArchs ?? DEFAULT_CUDA_ARCHS) : [],
    compileCuda: options.targets.includes('cuda') && options.compileCuda !== false,
    predictOnly: options.predictOnly ?? false,
    predictBatch: options.predictBatch ?? null,
  };
}

/**
 * The folder a build of `file` without --out went to: the one folder under `generated/` whose
 * build record names `file`. (The model's name, which names the folder, is known only once
 * the model file is loaded.) When several do (the same model built with --out at other
 * batches), none: which one a build without --out writes is not known before loading, so the
 * build goes ahead rather than report the wrong folder up to date.
 */
export function defaultBuildFolder(file: string, root = 'generated'): string | undefined {
  if (!existsSync(root) || !statSync(root).isDirectory()) return undefined;
  const model = resolve(file);
  const recording = readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => resolve(root, entry.name))
    .filter((dir) => {
      const recorded = readManifest(dir)?.options.model;
      return typeof recorded === 'string' && resolve(dir, recorded) === model;
    });
  return recording.length === 1 ? recording[0] : undefined;
}

/** Text already in canonical form (a key, a bracket, a comma), fed to the hash as it is. */
class Token {
  constructor(readonly text: string) {}
}

/**
 * Feeds a plain value (objects, arrays, strings, numbers, booleans, null) into `hash` as a
 * canonical text, without recursion: a deep model's expression trees nest thousands deep.
 */
export function hashValue(hash: ReturnType<typeof createHash>, value: unknown): void {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next instanceof Token) {
      hash.update(next.text);
    } else if (Array.isArray(next)) {
      pending.push(new Token(']'));
      for (let i = next.length - 1; i >= 0; i--) pending.push(next[i], new Token(i === 0 ? '' : ','));
      hash.update('[');
    } else if (typeof next === 'object' && next !== null) {
      const entries = Object.entries(next).filter(([, v]) => v !== undefined);
      pending.push(new Token('}'));
      for (let i = entries.length - 1; i >= 0; i--) {
        pending.push(entries[i][1], new Token(`${i === 0 ? '' : ','}${JSON.stringify(entries[i][0])}:`));
      }
      hash.update('{');
    } else {
      hash.update(JSON.stringify(next) ?? 'null');
    }
  }
}

/** The model file and the local files its build in `folder` read (from the build record). */
export function recordedInputs(file: string, folder: string | undefined): string[] {
  const manifest = folder !== undefined ? readManifest(folder) : undefined;
  const inputs = manifest?.inputs.map((f) => resolve(folder!, f.path)) ?? [];
  return [...new Set([resolve(file), ...inputs])];
}
