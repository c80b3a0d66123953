/** The code-generation targets `gradc build --target` accepts, and the backend each feeds. */
import type { BackendKind } from '../../runtime/open.ts';

export const TARGETS = ['js', 'c', 'wgsl'] as const;
export type Target = (typeof TARGETS)[number];

export const BACKEND_OF_TARGET: Readonly<Record<Target, BackendKind>> = {
  js: 'js',
  c: 'c',
  wgsl: 'webgpu',
};

export const TARGET_OF_BACKEND: Readonly<Record<BackendKind, Target>> = {
  js: 'js',
  c: 'c',
  webgpu: 'wgsl',
};

export function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}
