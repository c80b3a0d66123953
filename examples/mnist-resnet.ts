/**
 * A small residual network for MNIST: a 3x3 convolution to 16 channels, two residual blocks
 * (convolution, batch normalisation, ReLU, convolution, batch normalisation, plus the block's
 * input, ReLU), each followed by 2x2 max pooling, then a dense softmax layer, trained by Adam.
 */
import type { ModelContext, Tensor } from 'gradc';
import {
  adam, add, batchNorm, conv, defineModel, dense, flatten, maxPool2d, relu, softmax,
  softmaxCrossEntropy,
} from 'gradc';

type Image = Tensor<readonly [number, number, number, number]>;

/** relu(x + bn(conv(relu(bn(conv(x)))))): the block keeps its input's shape. */
function residualBlock(m: ModelContext, name: string, x: Image): Image {
  const channels = x.shape[3];
  const options = { kernel: [3, 3], padding: 'same', bias: false } as const;
  const h = relu(batchNorm(m, `${name}.bn1`, conv(m, `${name}.conv1`, x, channels, options)));
  const y = batchNorm(m, `${name}.bn2`, conv(m, `${name}.conv2`, h, channels, options));
  return relu(add(x, y));
}

export default defineModel({
  name: 'mnist-resnet',
  batch: 64,
  seed: 1,
  optimizer: adam({ learningRate: 0.001 }),
  build(m, B) {
    const x = m.input('x', [B, 28, 28, 1]);
    const y = m.input('y', [B, 10]);
    const stem = relu(conv(m, 'stem', x, 16, { kernel: [3, 3], padding: 'same' }));
    const b1 = maxPool2d(residualBlock(m, 'block1', stem), { size: [2, 2] });
    const b2 = maxPool2d(residualBlock(m, 'block2', b1), { size: [2, 2] });
    const logits = dense(m, 'out', flatten(b2), 10, { init: 'glorot_uniform' });
    return {
      loss: softmaxCrossEntropy(logits, y),
      predictions: { probs: softmax(logits) },
    };
  },
});
