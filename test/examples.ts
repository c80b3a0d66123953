/** The example models whose artifacts are checked in under generated/. */
import type { Target } from '../compiler/codegen/targets.ts';

export interface Example {
  readonly file: string;
  readonly name: string;
  readonly targets: readonly Target[];
}

export const EXAMPLES: readonly Example[] = [
  { file: 'examples/mnist-mlp.ts', name: 'mnist-mlp', targets: ['js', 'c', 'wgsl', 'cuda'] },
  { file: 'examples/mnist-cnn.ts', name: 'mnist-cnn', targets: ['js', 'c', 'wgsl', 'cuda'] },
];
