/** `gradc build`: a model file in, the generated kernels and glue module out. */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModelDefinition } from '../dsl/model.ts';
import { isModelDefinition } from '../dsl/model.ts';
import { GradcError } from '../ir/errors.ts';
import { describeValue } from '../ir/limits.ts';
import type { CompileOptions, CompiledModel } from './compile.ts';
import type { ModelSpec } from '../dsl/spec.ts';
import { compileModel } from './compile.ts';
import { renderGlue, toArtifact } from './codegen/glue.ts';
import { emitJavaScript, moduleBaseName } from './codegen/emit-js.ts';
import {
  buildKey, checkOutDir, digestFiles, digestPaths, gradcStamp, relativeTo, hashValue, MANIFEST_FILE, manifestText, readManifest, sha256,
} from './build-cache.ts';
import { modelInputs } from './model-inputs.ts';
import { GRADC_VERSION } from './version.ts';
import { gradcCacheDir } from '../artifact/cache-dir.ts';
import { writeAtomically } from '../artifact/atomic-file.ts';
import { renderC } from './codegen/render/c.ts';
import { renderJs } from './codegen/render/js.ts';
import { renderWgsl } from './codegen/render/wgsl.ts';
import { CUDA_MODULE_FILE, CUDA_SOURCE_FILE, renderCuda } from './codegen/render/cuda.ts';
import type { Target } from './codegen/targets.ts';
import { TARGETS } from './codegen/targets.ts';
import {
  DEFAULT_CUDA_ARCHS,
  buildFatbin,
  cudaSourceHash,
  normalizeArchs,
} from '../artifact/cuda-compile.ts';

/** What `gradc build` builds: targets, folder, batch, seed, CUDA architectures, predict-only. */
export interface BuildOptions {
  readonly targets: readonly Target[];
  /** Output folder (default: generated/<model name> next to the working directory). */
  readonly outDir?: string;
  readonly batch?: number;
  readonly seed?: number;
  /** CUDA target: the GPU architectures nvcc compiles for (default sm_80 and sm_90). */
  readonly cudaArchs?: readonly string[];
  /**
   * CUDA target: run nvcc to write kernels.fatbin (default true). Without it only kernels.cu
   * and kernels-cuda.js are written, and the runtime compiles kernels.cu where nvcc is.
   */
  readonly compileCuda?: boolean;
  /**
   * Build the predict program alone (`--predict-only`): no train program, gradients,
   * optimizer state, training inputs or kernels other than predict's.
   */
  readonly predictOnly?: boolean;
  /**
   * The batch predict is compiled at (`--predict-batch N`): the model's `build(m, B)` runs
   * again with B = N for the predict program; the train program keeps the training batch.
   */
  readonly predictBatch?: number;
}

/** Options of renderArtifacts beyond the targets. */
export interface RenderOptions {
  /** Recorded in kernels-cuda.js (default DEFAULT_CUDA_ARCHS). */
  readonly cudaArchs?: readonly string[];
}

/** A build: the compiled model, its folder and the files written. */
export interface BuildResult {
  readonly compiled: CompiledModel;
  readonly outDir: string;
  /** Files written, up to date or removed, relative to the working directory. */
  readonly files: readonly { path: string; changed: boolean; removed?: boolean }[];
}

/** The `type` of the nearest package.json at or above `dir` ('commonjs' when there is none). */
function packageType(dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    const manifest = join(at, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type ?? 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (dirname(at) === at) return 'commonjs';
  }
}

/** The model file's absolute path, once it is known to be a TypeScript or JavaScript file. */
function checkModelFile(file: string): string {
  const path = resolve(file);
  if (!existsSync(path)) throw new GradcError(`cannot find model file ${file}`);
  if (!statSync(path).isFile()) throw new GradcError(`${file} is a directory, not a model file`);
  if (!/\.m?[tj]s$/.test(path)) {
    throw new GradcError(`${file}: a model file is TypeScript or JavaScript (.ts, .mts, .js or .mjs)`);
  }
  return path;
}

/**
 * Imports a model file. A JavaScript syntax error (the TypeScript hooks report their own with
 * `file:line:col`) becomes one line naming the file.
 */
async function importModelFile(path: string, file: string): Promise<unknown> {
  try {
    return await import(pathToFileURL(path).href);
  } catch (e) {
    if (e instanceof SyntaxError && !/^\S+:\d+:\d+: /.test(e.message)) {
      throw new GradcError(`${file} (or a file it imports): ${e.message}`);
    }
    throw e;
  }
}

/**
 * Imports a model file and returns its model definition: the default export, which must be a
 * model, or without one the only model exported.
 */
export async function loadModelDefinition(file: string): Promise<ModelDefinition> {
  const path = checkModelFile(file);
  const module = (await importModelFile(path, file)) as Record<string, unknown>;
  if (isModelDefinition(module.default)) return module.default;
  if ('default' in module) {
    throw new GradcError(
      `${file}: the default export is ${describeValue(module.default)}, not a model made by defineModel; ` +
        'export default defineModel({...})',
    );
  }
  const found = Object.values(module).filter(isModelDefinition);
  if (found.length === 1) return found[0];
  throw new GradcError(
    found.length === 0
      ? `${file}: no model found; export default defineModel({...})`
      : `${file}: ${found.length} models exported; export the one to build as default`,
  );
}

/**
 * Writes `text` unless the file already holds it (keeps timestamps of unchanged files), through
 * a temporary file and a rename, so a reader (a dev server, another build) never sees half a
 * file.
 */
async function writeIfChanged(path: string, text: string): Promise<boolean> {
  const old = existsSync(path) ? await readFile(path, 'utf8') : undefined;
  if (old === text) return false;
  await mkdir(dirname(path), { recursive: true });
  try {
    writeAtomically(path, text);
  } catch (e) {
    throw new GradcError(`${path}: ${(e as Error).message}`);
  }
  return true;
}

/**
 * The generated TypeScript modules are ES modules. Outside a package whose package.json says
 * `"type": "module"` (an `--out` folder in a temporary directory, a CommonJS project), Node
 * would load them as CommonJS and fail, so the folder gets a package.json of its own.
 * A package.json already in the folder is never touched: it must say `"type": "module"`.
 */
function moduleScopeFiles(outDir: string): Record<string, string> {
  if (existsSync(join(outDir, 'package.json'))) {
    if (packageType(outDir) === 'module') return {};
    throw new GradcError(
      `${join(outDir, 'package.json')} does not say "type": "module", and gradc writes ES ` +
        'modules: build into another folder (--out)',
    );
  }
  return packageType(dirname(outDir)) === 'module' ? {} : { 'package.json': '{ "type": "module" }\n' };
}

/**
 * The id of a build: a hash of gradc's version, the targets and everything the renderers take
 * (the schedule and the artifact). Every file of a build carries it; the runtime refuses kernel
 * files whose id differs from the glue module's. (gradc's version, not a digest of its
 * sources: an edit to the compiler that leaves a model's schedule alone keeps its id.)
 */
export function buildIdOf(compiled: CompiledModel, targets: readonly Target[], cudaArchs: readonly string[]): string {
  const hash = createHash('sha256');
  hashValue(hash, {
    gradc: GRADC_VERSION,
    targets: TARGETS.filter((t) => targets.includes(t)),
    cudaArchs: targets.includes('cuda') ? cudaArchs : [],
    artifact: toArtifact(compiled),
    // A kernel's identity is what its name is made of, and the name is hashed with the rest.
    schedule: {
      ...compiled.schedule,
      programs: compiled.schedule.programs.map((p) => ({
        ...p,
        kernels: p.kernels.map(({ identity: _identity, ...kernel }) => kernel),
      })),
    },
  });
  return hash.digest('hex').slice(0, 16);
}

/**
 * Renders every artifact file of a compiled model: name -> text. Generated TypeScript (the glue
 * module, the TypeScript, WGSL and CUDA kernel tables) is written as JavaScript modules with
 * their declarations; C and CUDA C as sources.
 */
export function renderArtifacts(
  compiled: CompiledModel,
  targets: readonly Target[],
  sourceFile: string,
  options: RenderOptions = {},
): Record<string, string> {
  const archs = normalizeArchs(options.cudaArchs ?? DEFAULT_CUDA_ARCHS);
  const buildId = buildIdOf(compiled, targets, archs);
  const meta = { modelName: compiled.spec.name, buildId };
  const modules: Record<string, string> = {};
  const files: Record<string, string> = {};
  if (targets.includes('js')) modules['kernels.ts'] = renderJs(compiled.schedule, meta);
  if (targets.includes('c')) files['kernels.c'] = renderC(compiled.schedule, meta);
  if (targets.includes('wgsl')) modules['kernels-wgsl.ts'] = renderWgsl(compiled.schedule, meta);
  if (targets.includes('cuda')) {
    const cuda = renderCuda(compiled.schedule, { ...meta, archs });
    files[CUDA_SOURCE_FILE] = cuda.source;
    modules[CUDA_MODULE_FILE] = cuda.module;
  }
  modules['model.ts'] = renderGlue(compiled, { targets, sourceFile, buildId });
  for (const [name, text] of Object.entries(modules)) {
    const { js, dts } = emitJavaScript(name, text);
    const base = moduleBaseName(name);
    files[`${base}.js`] = js;
    files[`${base}.d.ts`] = dts;
  }
  return files;
}

/** Files an earlier gradc build wrote here that this one does not: they would mislead. */
function staleFiles(outDir: string, written: ReadonlySet<string>): string[] {
  const previous = readManifest(outDir)?.outputs.map((f) => f.path) ?? [];
  // Builds from before the build record wrote these TypeScript modules.
  const legacy = ['model.ts', 'kernels.ts', 'kernels-wgsl.ts', 'kernels-cuda.ts'].filter((name) => {
    const path = join(outDir, name);
    return existsSync(path) && /^\/\/ gradc |Generated by gradc/m.test(readFileSync(path, 'utf8').slice(0, 400));
  });
  return [...previous, ...legacy].filter((name) => !written.has(name) && !name.includes('/'));
}

/**
 * The declarations of the predict and evaluate programs besides `spec`, the training one: in
 * predict mode (`m.training` false), the predict program's at `predictBatch`, the evaluate
 * program's at the training batch. A declaration that does not read `m.training` serves every
 * program at its batch, so it is run again only for another predict batch.
 */
export function programDeclarations(
  definition: ModelDefinition,
  spec: ModelSpec,
  predictBatch: number = spec.batch,
): Pick<CompileOptions, 'predictSpec' | 'evaluateSpec'> {
  const inPredictMode = (batch: number) => definition.declare({ batch, seed: spec.seed, training: false });
  const predictSpec = !spec.readsTraining && predictBatch === spec.batch ? spec : inPredictMode(predictBatch);
  const evaluateSpec = !spec.readsTraining ? spec : predictSpec.batch === spec.batch ? predictSpec : inPredictMode(spec.batch);
  return { predictSpec, evaluateSpec };
}

/**
 * The options of a build that change what is compiled: `--batch`, `--seed`, `--predict-only`,
 * `--predict-batch`.
 */
export type CompileBuildOptions = Pick<BuildOptions, 'batch' | 'seed' | 'predictOnly' | 'predictBatch'>;

/** The predict and evaluate declarations and the predict-only flag that `options` ask for. */
function predictOptions(definition: ModelDefinition, spec: ModelSpec, options: CompileBuildOptions): CompileOptions {
  const { predictBatch, predictOnly = false } = options;
  if (predictBatch !== undefined && !(Number.isSafeInteger(predictBatch) && predictBatch > 0)) {
    throw new GradcError(`the predict batch must be a positive integer, got ${predictBatch}`);
  }
  return { ...programDeclarations(definition, spec, predictBatch), predictOnly };
}

/**
 * Declares `definition` at the batch and seed `options` give (the model's own where they give
 * none) and compiles it, as `gradc build` does before rendering: `buildModel` and the tests of
 * the checked-in examples compile through here.
 */
export function compileDefinition(definition: ModelDefinition, options: CompileBuildOptions = {}): CompiledModel {
  const spec = definition.declare({
    ...(options.batch !== undefined ? { batch: options.batch } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  return compileModel(spec, predictOptions(definition, spec, options));
}

/**
 * Builds `file` into `outDir`: every file written through a temporary file and renamed (so a
 * reader never sees half a file), files of an earlier build that this one does not make
 * removed, and the build record (.gradc-build.json) written last.
 */
export async function buildModel(file: string, options: BuildOptions): Promise<BuildResult> {
  return buildDeclared(file, () => loadModelDefinition(file), options);
}

/**
 * Builds a model declared in code, `definition`, made by `defineModel` in `file` (or in a
 * file it imports), as `buildModel` builds a model file's default export: the record names
 * `file` and digests it with its local imports. For programs that declare models with
 * options (bench/experiments: one definition per optimizer and batch size).
 */
export async function buildDefinition(definition: ModelDefinition, file: string, options: BuildOptions): Promise<BuildResult> {
  return buildDeclared(file, async () => definition, options);
}

async function buildDeclared(file: string, load: () => Promise<ModelDefinition>, options: BuildOptions): Promise<BuildResult> {
  // A folder that cannot be written is refused before the model is loaded and compiled.
  if (options.outDir !== undefined) checkOutDir(resolve(options.outDir));
  // The inputs as they are before the build reads them: a file edited during the build makes
  // the record stale, so the next build sees the change.
  const inputs = digestPaths(modelInputs(checkModelFile(file)));
  const compiled = compileDefinition(await load(), options);
  const outDir = resolve(options.outDir ?? join('generated', compiled.spec.name));
  checkOutDir(outDir);
  const sourceFile = relative(process.cwd(), resolve(file)).split(sep).join('/');
  const cudaArchs = options.cudaArchs ?? DEFAULT_CUDA_ARCHS;
  const rendered = { ...moduleScopeFiles(outDir), ...renderArtifacts(compiled, options.targets, sourceFile, { cudaArchs }) };
  const files = [];
  for (const [name, text] of Object.entries(rendered)) {
    const path = join(outDir, name);
    files.push({ path: relative(process.cwd(), path), changed: await writeIfChanged(path, text) });
  }
  for (const name of staleFiles(outDir, new Set(Object.keys(rendered)))) {
    rmSync(join(outDir, name), { force: true });
    files.push({ path: relative(process.cwd(), join(outDir, name)), changed: true, removed: true });
  }
  const cudaSource = rendered[CUDA_SOURCE_FILE];
  if (cudaSource !== undefined && options.compileCuda !== false) {
    const build = { sourceHash: cudaSourceHash(cudaSource), archs: normalizeArchs(cudaArchs) };
    const fatbin = buildFatbin(join(outDir, CUDA_SOURCE_FILE), build);
    files.push({ path: relative(process.cwd(), fatbin.path), changed: fatbin.changed });
  }
  const manifest = manifestText({
    gradc: gradcStamp(),
    options: buildKey(file, outDir, options),
    inputs: relativeTo(outDir, inputs),
    outputs: digestFiles(Object.keys(rendered).sort().map((name) => join(outDir, name)), outDir),
  });
  await writeIfChanged(join(outDir, MANIFEST_FILE), manifest);
  return { compiled, outDir, files };
}

/**
 * Builds `file` into gradc's cache, in a folder named by a digest of everything the build
 * depends on (the model file's path and contents and those of its local imports, gradc, the
 * options). Two models never share a folder, and a folder is complete or absent: the build is
 * written into a temporary folder and renamed into place.
 */
export async function buildIntoCache(file: string, options: BuildOptions): Promise<{ outDir: string; upToDate: boolean }> {
  const inputs = digestPaths(modelInputs(checkModelFile(file)));
  const key = sha256(JSON.stringify({ gradc: gradcStamp(), file: resolve(file), inputs, options: buildKey(file, '/', options) }));
  const outDir = gradcCacheDir('builds', `${basename(file).replace(/[^A-Za-z0-9_.-]/g, '_')}-${key.slice(0, 16)}`);
  if (existsSync(join(outDir, MANIFEST_FILE))) return { outDir, upToDate: true };
  mkdirSync(dirname(outDir), { recursive: true });
  const temporary = `${outDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await buildModel(file, { ...options, outDir: temporary });
    try {
      renameSync(temporary, outDir);
    } catch (e) {
      // Another process built the same key first: its folder is the same build.
      if (!existsSync(join(outDir, MANIFEST_FILE))) throw e;
    }
  } finally {
    rmSync(temporary, { recursive: true, force: true });
  }
  return { outDir, upToDate: false };
}
