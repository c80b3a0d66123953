/**
 * The reference experiment's network: an MLP 784-250-250-10 with ReLU hidden layers, a softmax
 * output and categorical cross-entropy, trained by mini-batch SGD (batch 600, learning rate 0.1).
 */
import { defineModel, dense, relu, sgd, softmax, softmaxCrossEntropy } from 'gradc';

export default defineModel({
  name: 'mnist-mlp',
  batch: 600,
  seed: 1,
  optimizer: sgd({ learningRate: 0.1 }),
  build(m, B) {
    const x = m.input('x', [B, 784]);
    const y = m.input('y', [B, 10]);
    const h1 = relu(dense(m, 'fc1', x, 250));
    const h2 = relu(dense(m, 'fc2', h1, 250));
    const logits = dense(m, 'fc3', h2, 10, { init: 'glorot_uniform' });
    return {
      loss: softmaxCrossEntropy(logits, y),
      predictions: { probs: softmax(logits) },
    };
  },
});
