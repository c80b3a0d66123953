/**
 * `gradc/compiler`: the compiler as a library. `buildModel` is what `gradc build` runs; the
 * other functions expose its stages (a model's spec, its compiled schedule, the rendered files).
 * A built folder is opened with `openBuiltModel` from `gradc/node`: the compiler never loads
 * the runtime.
 */
export {
  buildIdOf, buildModel, loadModelDefinition, programDeclarations, renderArtifacts,
} from './build.ts';
export type { BuildOptions, BuildResult, RenderOptions } from './build.ts';
export { compileModel } from './compile.ts';
export type { CompileOptions, CompiledModel, CompiledProgramGraph } from './compile.ts';
export { GradcError } from '../ir/errors.ts';
export { DEFAULT_TARGETS, TARGETS, isTarget } from './codegen/targets.ts';
export type { Target } from './codegen/targets.ts';
export { printGraph } from '../ir/print.ts';
export { GRADC_VERSION } from './version.ts';
