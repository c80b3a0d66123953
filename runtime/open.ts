/** Opens a backend for an artifact from the kernels its glue module ships. */
import type { Artifact } from './artifact.ts';
import type { Backend, JsKernel } from './backend.ts';
import { createJsBackend } from './backends/js.ts';

export type BackendKind = 'js' | 'c';

export interface KernelSources {
  /** The plain-TypeScript kernels (target `js`). */
  readonly jsKernels?: Readonly<Record<string, JsKernel>>;
  /** Where the C kernels are (target `c`); compiled on first use and cached. */
  readonly cSourceUrl?: URL;
}

/** Each kernel's name and number of buffer arguments, from the launch list. */
export function kernelSignatures(artifact: Artifact): { name: string; arity: number }[] {
  const arity = new Map<string, number>();
  for (const p of artifact.programs) for (const l of p.launches) arity.set(l.kernel, l.args.length);
  return [...arity].map(([name, n]) => ({ name, arity: n }));
}

export async function openBackend(kind: BackendKind, artifact: Artifact, sources: KernelSources): Promise<Backend> {
  switch (kind) {
    case 'js':
      if (!sources.jsKernels) throw new Error(`${artifact.name} was not built for target js`);
      return createJsBackend(sources.jsKernels);
    case 'c': {
      if (!sources.cSourceUrl) throw new Error(`${artifact.name} was not built for target c`);
      const { readFile } = await import('node:fs/promises');
      const { createNativeBackend } = await import('./backends/native.ts');
      const cSource = await readFile(sources.cSourceUrl, 'utf8');
      return createNativeBackend({ cSource, kernels: kernelSignatures(artifact) });
    }
  }
}
