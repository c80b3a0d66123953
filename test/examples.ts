/** The example models whose artifacts are checked in under generated/. */
import type { Target } from '../compiler/codegen/targets.ts';

export interface Example {
  readonly file: string;
  /** The folder under generated/ its artifacts are checked in to. */
  readonly name: string;
  readonly targets: readonly Target[];
  /** The training batch to build at, as `gradc build --batch N` (default: the model's own). */
  readonly batch?: number;
}

export const EXAMPLES: readonly Example[] = [
  { file: 'examples/mnist-mlp.ts', name: 'mnist-mlp', targets: ['js', 'c', 'wgsl', 'cuda'] },
  { file: 'examples/mnist-cnn.ts', name: 'mnist-cnn', targets: ['js', 'c', 'wgsl', 'cuda'] },
  // Adam, batch normalisation and residual blocks.
  { file: 'examples/mnist-resnet.ts', name: 'mnist-resnet', targets: ['js', 'c', 'wgsl', 'cuda'] },
  // At batch 6000 the MLP's weight and bias gradients are split into slices (compiler/split.ts).
  { file: 'examples/mnist-mlp.ts', name: 'mnist-mlp-b6000', batch: 6000, targets: ['js', 'c', 'wgsl', 'cuda'] },
];
