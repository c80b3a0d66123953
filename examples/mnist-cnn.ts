/**
 * A convolutional network for MNIST: two 3x3 convolutions (32 and 64 filters) with ReLU, each
 * followed by 2x2 max pooling, dropout, then a dense softmax layer, trained by Adam.
 */
import {
  adam, conv, defineModel, dense, dropout, flatten, maxPool2d, relu, softmax, softmaxCrossEntropy,
} from 'gradc';

export default defineModel({
  name: 'mnist-cnn',
  batch: 128,
  seed: 1,
  optimizer: adam({ learningRate: 0.001 }),
  build(m, B) {
    const x = m.input('x', [B, 28, 28, 1]);
    const y = m.input('y', [B, 10]);
    const c1 = maxPool2d(relu(conv(m, 'conv1', x, 32, { kernel: [3, 3] })), { size: [2, 2] });
    const c2 = maxPool2d(relu(conv(m, 'conv2', c1, 64, { kernel: [3, 3] })), { size: [2, 2] });
    const logits = dense(m, 'out', dropout(m, flatten(c2), 0.5), 10, { init: 'glorot_uniform' });
    return {
      loss: softmaxCrossEntropy(logits, y),
      predictions: { probs: softmax(logits) },
    };
  },
});
