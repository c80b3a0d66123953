/** The code-generation targets `gradc build --target` accepts, and the backend each feeds. */
import type { BackendKind } from '../../artifact/kernels.ts';

/** The targets `gradc build --target` accepts. */
export const TARGETS = ['js', 'c', 'wgsl', 'cuda'] as const;
/** A code-generation target: js, c, wgsl or cuda. */
export type Target = (typeof TARGETS)[number];

/**
 * What `gradc build` makes without --target: every target but cuda, which needs the CUDA
 * toolkit's nvcc at build time.
 */
export const DEFAULT_TARGETS: readonly Target[] = ['js', 'c', 'wgsl'];

/** The backend that runs each target's kernels. */
export const BACKEND_OF_TARGET: Readonly<Record<Target, BackendKind>> = {
  js: 'js',
  c: 'c',
  wgsl: 'webgpu',
  cuda: 'cuda',
};

/** The target each backend runs. */
export const TARGET_OF_BACKEND: Readonly<Record<BackendKind, Target>> = {
  js: 'js',
  c: 'c',
  webgpu: 'wgsl',
  cuda: 'cuda',
};

/** Whether `name` is a target. */
export function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}
