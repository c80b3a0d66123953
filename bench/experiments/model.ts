/**
 * The experiment's model, declared in the DSL: the network of examples/mnist-mlp.ts (784-250-250-10,
 * ReLU, softmax, categorical cross-entropy), seed 0, for a batch size and an optimizer. The
 * learning rate is fed at every step (the hyperparameter `lr`), so the runs that differ only in
 * their learning rate share one build and `fit` sets each run's.
 */
import { fileURLToPath } from 'node:url';
import { adagrad, adam, defineModel, dense, momentum, relu, rmsprop, sgd, softmax, softmaxCrossEntropy } from 'gradc';
import type { ModelDefinition, Optimizer } from 'gradc';
import type { OptimizerId } from './grid.ts';

/** This file, which a build of the experiment's model records as its model file. */
export const EXPERIMENT_MODEL_FILE = fileURLToPath(import.meta.url);

/** The seed of the parameters' initialisation and of the batch order. */
export const EXPERIMENT_SEED = 0;

/** The learning rate a build declares; every run sets its own through `fit`. */
export const DECLARED_LEARNING_RATE = 0.01;

/** Keras's epsilon, which the dissertation's code uses for Adagrad, RMSProp and Adam. */
const KERAS_EPSILON = 1e-7;

/** The optimizer of a run, with the dissertation's hyperparameters (its section 7). */
export function experimentOptimizer(id: OptimizerId, learningRate: number): Optimizer {
  switch (id) {
    case 'sgd':
      return sgd({ learningRate });
    case 'momentum':
      return momentum({ learningRate, momentum: 0.9 });
    case 'nesterov':
      return momentum({ learningRate, momentum: 0.9, nesterov: true });
    case 'adagrad':
      return adagrad({ learningRate, epsilon: KERAS_EPSILON });
    case 'rmsprop':
      return rmsprop({ learningRate, rho: 0.9, epsilon: KERAS_EPSILON });
    case 'adam':
      return adam({ learningRate, beta1: 0.9, beta2: 0.999, epsilon: KERAS_EPSILON });
  }
}

/** The MLP at `batch`, trained by `optimizer`. */
export function experimentModel(batch: number, optimizer: OptimizerId): ModelDefinition {
  return defineModel({
    name: `mnist-mlp-${optimizer}`,
    batch,
    seed: EXPERIMENT_SEED,
    optimizer: experimentOptimizer(optimizer, DECLARED_LEARNING_RATE),
    build(m, B) {
      const x = m.input('x', [B, 784]);
      const y = m.input('y', [B, 10]);
      const h1 = relu(dense(m, 'fc1', x, 250));
      const h2 = relu(dense(m, 'fc2', h1, 250));
      const logits = dense(m, 'fc3', h2, 10, { init: 'glorot_uniform' });
      return { loss: softmaxCrossEntropy(logits, y), predictions: { probs: softmax(logits) } };
    },
  });
}
