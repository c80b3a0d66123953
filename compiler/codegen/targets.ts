/** The code-generation targets `gradc build --target` accepts, and the backend each feeds. */
import type { BackendKind } from '../../runtime/open.ts';

export const TARGETS = ['js', 'c', 'wgsl', 'cuda'] as const;
export type Target = (typeof TARGETS)[number];

/**
 * What `gradc build` makes without --target: every target but cuda, which needs the CUDA
 * toolkit's nvcc at build time.
 */
export const DEFAULT_TARGETS: readonly Target[] = ['js', 'c', 'wgsl'];

export const BACKEND_OF_TARGET: Readonly<Record<Target, BackendKind>> = {
  js: 'js',
  c: 'c',
  wgsl: 'webgpu',
  cuda: 'cuda',
};

export const TARGET_OF_BACKEND: Readonly<Record<BackendKind, Target>> = {
  js: 'js',
  c: 'c',
  webgpu: 'wgsl',
  cuda: 'cuda',
};

export function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}
