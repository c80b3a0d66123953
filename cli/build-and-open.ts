/**
 * Building a model file for one backend and opening it there: the compiler's `buildModel`
 * followed by the runtime's `openBuiltModel`. It sits above both, as the CLI does: the compiler
 * never imports the runtime.
 */
import type { BackendKind } from '../artifact/kernels.ts';
import type { BuildOptions, BuildResult } from '../compiler/build.ts';
import { buildModel } from '../compiler/build.ts';
import { TARGET_OF_BACKEND } from '../compiler/codegen/targets.ts';
import type { ModelInstance } from '../runtime/model.ts';
import type { OpenOptions } from '../runtime/open.ts';
import { openBuiltModel } from '../runtime/open-built-model.ts';

/** `buildAndOpen`'s options: the build's and the backend to open on. */
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
