"""PyTorch peer of gradc's CUDA training step: the reference MLP 784-250-250-10 (ReLU,
softmax cross-entropy, SGD lr 0.1) on one synthetic batch, timed with CUDA events, in eager
mode and under torch.compile with the batch resident on the GPU, and in eager mode with the
batch copied from (pageable) host memory every step. Prints one JSON line per (mode, data,
batch).

    python3 bench/gpu/torch_mlp.py --batches 60,600,6000 --steps 200
"""
import argparse
import json

import torch


def make_model(device):
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 250), torch.nn.ReLU(),
        torch.nn.Linear(250, 250), torch.nn.ReLU(),
        torch.nn.Linear(250, 10),
    ).to(device)
    return model


def make_step(model, compiled):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return torch.compile(step) if compiled else step


def time_steps(step, batch_of, warmup, steps):
    for _ in range(warmup):
        step(*batch_of())
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        loss = step(*batch_of())
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / steps, float(loss)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batches', default='60,600,6000')
    parser.add_argument('--steps', type=int, default=200)
    parser.add_argument('--warmup', type=int, default=20)
    args = parser.parse_args()
    device = torch.device('cuda')
    torch.backends.cuda.matmul.allow_tf32 = False  # float32, like gradc's kernels
    for batch in [int(b) for b in args.batches.split(',')]:
        generator = torch.Generator(device='cpu').manual_seed(batch)
        x_host = torch.rand(batch, 784, generator=generator)
        y_host = torch.randint(0, 10, (batch,), generator=generator)
        x, y = x_host.to(device), y_host.to(device)
        runs = (
            ('torch-eager', 'resident', False, lambda: (x, y)),
            ('torch-compile', 'resident', True, lambda: (x, y)),
            ('torch-eager', 'uploaded', False, lambda: (x_host.to(device), y_host.to(device))),
        )
        for mode, data, compiled, batch_of in runs:
            step = make_step(make_model(device), compiled)
            ms, loss = time_steps(step, batch_of, args.warmup, args.steps)
            print(json.dumps({
                'contender': mode, 'data': data, 'batch': batch, 'msPerStep': ms,
                'samplesPerSecond': batch / ms * 1000, 'finalLoss': loss,
                'device': torch.cuda.get_device_name(0), 'torch': torch.__version__,
            }), flush=True)


if __name__ == '__main__':
    main()
