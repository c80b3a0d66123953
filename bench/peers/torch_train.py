"""PyTorch peer of `npm run bench`, on the CPU, trained on one synthetic batch kept in memory:

--net mlp: the reference MLP of examples/mnist-mlp.ts (784-250-250-10, ReLU, softmax
cross-entropy, SGD at learning rate 0.1).

--net cnn: the network of examples/mnist-cnn.ts (conv 32 3x3 valid + ReLU, max pool 2x2, conv 64
3x3 + ReLU, max pool 2x2, flatten, dropout 0.5, dense 10; softmax cross-entropy; Adam, learning
rate 1e-3). NHWC-equivalent: the images are [N, 28, 28, 1] tensors seen as NCHW through a
permutation, the model is in channels_last memory format (NHWC in memory), and the flatten
before the dense layer takes (H, W, C) order as Keras, tfjs and gradc do.

Prints one JSON line per thread count in --threads (torch.set_num_threads), in that order:

    /usr/bin/python3 bench/peers/torch_train.py --net cnn --batch 128 --warmup 3 --steps 20 --threads 1,2
"""
import argparse
import json
import time

import torch


class FlattenNhwc(torch.nn.Module):
    """[N, C, H, W] in channels_last memory to [N, H*W*C] in (H, W, C) order (a view)."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


def make_mlp():
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 250), torch.nn.ReLU(),
        torch.nn.Linear(250, 250), torch.nn.ReLU(), torch.nn.Linear(250, 10),
    )


def make_cnn():
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


def samples_per_second(net, threads, batch, warmup, steps):
    """Trains a fresh model on `threads` threads; samples/s over `steps` steps after `warmup`."""
    torch.set_num_threads(threads)
    if net == 'mlp':
        model = make_mlp()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    else:
        model = make_cnn()
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
    parser.add_argument('--net', choices=['mlp', 'cnn'], default='cnn')
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--threads', default='1', help='comma-separated thread counts to measure')
    args = parser.parse_args()
    for threads in [int(t) for t in args.threads.split(',')]:
        rate, loss = samples_per_second(args.net, threads, args.batch, args.warmup, args.steps)
        print(json.dumps({
            'net': args.net, 'threads': threads, 'samplesPerSecond': rate, 'finalLoss': loss,
            'batch': args.batch, 'steps': args.steps, 'torch': torch.__version__,
        }), flush=True)


if __name__ == '__main__':
    main()
