"""PyTorch peer of `npm run bench`'s CNN, on the CPU: the network of examples/mnist-cnn.ts
(conv 32 3x3 valid + ReLU, max pool 2x2, conv 64 3x3 + ReLU, max pool 2x2, flatten, dropout 0.5,
dense 10; softmax cross-entropy; Adam, learning rate 1e-3) trained on one synthetic batch kept in memory.

NHWC-equivalent: the images are [N, 28, 28, 1] tensors seen as NCHW through a permutation, the
model is in channels_last memory format (NHWC in memory), and the flatten before the dense layer
takes (H, W, C) order as Keras, tfjs and gradc do.

Prints one JSON line per thread count in --threads (torch.set_num_threads), in that order:

    /usr/bin/python3 bench/peers/torch_cnn.py --batch 128 --warmup 3 --steps 20 --threads 1,2
"""
import argparse
import json
import time

import torch


class FlattenNhwc(torch.nn.Module):
    """[N, C, H, W] in channels_last memory to [N, H*W*C] in (H, W, C) order (a view)."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


def make_model():
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        FlattenNhwc(), torch.nn.Dropout(0.5), torch.nn.Linear(5 * 5 * 64, 10),
    )
    return model.to(memory_format=torch.channels_last)


def make_batch(batch):
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(batch, 28, 28, 1, generator=generator)  # NHWC
    labels = torch.randint(0, 10, (batch,), generator=generator)
    return images.permute(0, 3, 1, 2), labels  # NCHW view of NHWC memory


def samples_per_second(threads, batch, warmup, steps):
    """Trains a fresh model on `threads` threads; samples/s over `steps` steps after `warmup`."""
    torch.set_num_threads(threads)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = make_batch(batch)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()  # read back every step, as the other contenders do

    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        loss = step()
    seconds = time.perf_counter() - started
    return steps * batch / seconds, loss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--threads', default='1', help='comma-separated thread counts to measure')
    args = parser.parse_args()
    for threads in [int(t) for t in args.threads.split(',')]:
        rate, loss = samples_per_second(threads, args.batch, args.warmup, args.steps)
        print(json.dumps({
            'threads': threads, 'samplesPerSecond': rate, 'finalLoss': loss,
            'batch': args.batch, 'steps': args.steps, 'torch': torch.__version__,
        }), flush=True)


if __name__ == '__main__':
    main()
