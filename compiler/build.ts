/** `gradc build`: a model file in, the generated kernels and glue module out. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModelDefinition } from '../dsl/model.ts';
import { isModelDefinition } from '../dsl/model.ts';
import { GradcError } from './errors.ts';
import { describeValue } from './ir/limits.ts';
import type { CompiledModel } from './compile.ts';
import { compileModel } from './compile.ts';
import { renderGlue } from './codegen/glue.ts';
import { renderC } from './codegen/render/c.ts';
import { renderJs } from './codegen/render/js.ts';
import { renderWgsl } from './codegen/render/wgsl.ts';
import { CUDA_MODULE_FILE, CUDA_SOURCE_FILE, renderCuda } from './codegen/render/cuda.ts';
import type { Target } from './codegen/targets.ts';
import { TARGET_OF_BACKEND } from './codegen/targets.ts';
import type { BackendKind, OpenOptions } from '../runtime/open.ts';
import type { ModelInstance } from '../runtime/model.ts';
import {
  DEFAULT_CUDA_ARCHS,
  buildFatbin,
  cudaSourceHash,
  normalizeArchs,
} from '../runtime/backends/cuda-compile.ts';

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
   * and kernels-cuda.ts are written, and the runtime compiles kernels.cu where nvcc is.
   */
  readonly compileCuda?: boolean;
}

/** Options of renderArtifacts beyond the targets. */
export interface RenderOptions {
  /** Recorded in kernels-cuda.ts (default DEFAULT_CUDA_ARCHS). */
  readonly cudaArchs?: readonly string[];
}

export interface BuildResult {
  readonly compiled: CompiledModel;
  readonly outDir: string;
  /** Files written or already up to date, relative to the working directory. */
  readonly files: readonly { path: string; changed: boolean }[];
}

const RUNTIME_DIR = fileURLToPath(new URL('../runtime/', import.meta.url));

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

/**
 * Imports a model file and returns its model definition: the default export, which must be a
 * model, or without one the only model exported.
 */
export async function loadModelDefinition(file: string): Promise<ModelDefinition> {
  const path = resolve(file);
  if (!existsSync(path)) throw new GradcError(`cannot find model file ${file}`);
  if (!statSync(path).isFile()) throw new GradcError(`${file} is a directory, not a model file`);
  if (!/\.m[tj]s$/.test(path) && packageType(dirname(path)) !== 'module') {
    // Node would load it as CommonJS, and the DSL is made of ES modules.
    throw new GradcError(
      `${file}: gradc loads model files as ES modules, and no package.json above it says ` +
        '"type": "module": add that, or name the file .mts',
    );
  }
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
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

/** The runtime folder as a relative import specifier from `outDir`. */
export function runtimeImportFrom(outDir: string): string {
  const rel = relative(resolve(outDir), RUNTIME_DIR).split(sep).join('/').replace(/\/$/, '');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** Writes `text` unless the file already holds it (keeps timestamps of unchanged files). */
async function writeIfChanged(path: string, text: string): Promise<boolean> {
  const old = existsSync(path) ? await readFile(path, 'utf8') : undefined;
  if (old === text) return false;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return true;
}

/**
 * The generated TypeScript modules are ES modules. Outside a package whose package.json says
 * `"type": "module"` (an `--out` folder in a temporary directory, a CommonJS project), Node
 * and tsx would load them as CommonJS and fail, so the folder gets a package.json of its own.
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

/** Renders every artifact file of a compiled model: name -> text. */
export function renderArtifacts(
  compiled: CompiledModel,
  targets: readonly Target[],
  runtimeImport: string,
  sourceFile: string,
  options: RenderOptions = {},
): Record<string, string> {
  const files: Record<string, string> = {};
  const meta = { modelName: compiled.spec.name };
  if (targets.includes('js')) files['kernels.ts'] = renderJs(compiled.schedule, { ...meta, runtimeImport: `${runtimeImport}/backend.ts` });
  if (targets.includes('c')) files['kernels.c'] = renderC(compiled.schedule, meta);
  if (targets.includes('wgsl')) {
    files['kernels-wgsl.ts'] = renderWgsl(compiled.schedule, { ...meta, runtimeImport });
  }
  if (targets.includes('cuda')) {
    const archs = normalizeArchs(options.cudaArchs ?? DEFAULT_CUDA_ARCHS);
    const cuda = renderCuda(compiled.schedule, { ...meta, runtimeImport, archs });
    files[CUDA_SOURCE_FILE] = cuda.source;
    files[CUDA_MODULE_FILE] = cuda.module;
  }
  files['model.ts'] = renderGlue(compiled, { runtimeImport, targets, sourceFile });
  return files;
}

export async function buildModel(file: string, options: BuildOptions): Promise<BuildResult> {
  const definition = await loadModelDefinition(file);
  const spec = definition.declare({
    ...(options.batch !== undefined ? { batch: options.batch } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  const compiled = compileModel(spec);
  const outDir = resolve(options.outDir ?? join('generated', spec.name));
  const sourceFile = relative(process.cwd(), resolve(file)).split(sep).join('/');
  const cudaArchs = options.cudaArchs ?? DEFAULT_CUDA_ARCHS;
  const runtimeImport = runtimeImportFrom(outDir);
  const rendered = renderArtifacts(compiled, options.targets, runtimeImport, sourceFile, {
    cudaArchs,
  });
  const files = [];
  for (const [name, text] of Object.entries({ ...moduleScopeFiles(outDir), ...rendered })) {
    const path = join(outDir, name);
    files.push({ path: relative(process.cwd(), path), changed: await writeIfChanged(path, text) });
  }
  const cudaSource = rendered[CUDA_SOURCE_FILE];
  if (cudaSource !== undefined && options.compileCuda !== false) {
    const build = { sourceHash: cudaSourceHash(cudaSource), archs: normalizeArchs(cudaArchs) };
    const fatbin = buildFatbin(join(outDir, CUDA_SOURCE_FILE), build);
    files.push({ path: relative(process.cwd(), fatbin.path), changed: fatbin.changed });
  }
  return { compiled, outDir, files };
}

type ModelFactory = (backend: BackendKind, options?: OpenOptions) => Promise<ModelInstance>;

/** Imports the glue module that `buildModel` wrote into `outDir` and opens it on `backend`. */
export async function openBuiltModel(
  outDir: string,
  backend: BackendKind,
  options: OpenOptions = {},
): Promise<ModelInstance> {
  const glue = (await import(pathToFileURL(join(resolve(outDir), 'model.ts')).href)) as Record<
    string,
    unknown
  >;
  const name = Object.keys(glue).find((k) => k.startsWith('create') && typeof glue[k] === 'function');
  if (!name) throw new Error(`${outDir}/model.ts exports no create function`);
  return (glue[name] as ModelFactory)(backend, options);
}

export interface BuildAndOpenOptions extends Omit<BuildOptions, 'targets' | 'outDir'> {
  readonly backend: BackendKind;
  readonly outDir: string;
  readonly open?: OpenOptions;
}

/** Builds `file` for one backend into `outDir` and opens the model there. */
export async function buildAndOpen(
  file: string,
  options: BuildAndOpenOptions,
): Promise<BuildResult & { readonly model: ModelInstance }> {
  const { backend, open, ...build } = options;
  const result = await buildModel(file, { ...build, targets: [TARGET_OF_BACKEND[backend]] });
  return { ...result, model: await openBuiltModel(result.outDir, backend, open) };
}
