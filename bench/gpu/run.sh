#!/usr/bin/env bash
# The GPU benchmark: gradc's CUDA training step against PyTorch (eager and torch.compile) on
# the same GPU, for batch sizes 60, 600 and 6000, in one run; with the batch resident on the
# GPU, and (gradc and PyTorch eager) with the batch uploaded from host memory every step.
# Prints a Markdown table of milliseconds per step and samples/s, with ratios against PyTorch
# eager with the same data mode.
#   bash bench/gpu/run.sh [steps]
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-200}"
node="${NODE:-node}"
results=$(mktemp)
"$node" --import tsx bench/gpu/gradc-cuda.ts --batches 60,600,6000 --steps "$steps" | tee -a "$results"
python3 bench/gpu/torch_mlp.py --batches 60,600,6000 --steps "$steps" | tee -a "$results"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith('{')]
device = next((r['device'] for r in rows if r.get('device') not in (None, 'unknown')), '?')
torch_version = next((r['torch'] for r in rows if 'torch' in r), '?')
print(f"\nMLP 784-250-250-10 training step (SGD), {device}, PyTorch {torch_version}\n")
print('| batch | data | contender | ms/step | samples/s | vs torch eager |')
print('|---:|---|---|---:|---:|---:|')
for batch in sorted({r['batch'] for r in rows}):
    for data in ('resident', 'uploaded'):
        same = [r for r in rows if r['batch'] == batch and r['data'] == data]
        eager = next((r for r in same if r['contender'] == 'torch-eager'), None)
        for r in same:
            ratio = f"{r['samplesPerSecond'] / eager['samplesPerSecond']:.2f}x" if eager else '?'
            print(f"| {batch} | {data} | {r['contender']} | {r['msPerStep']:.3f} | "
                  f"{r['samplesPerSecond']:,.0f} | {ratio} |")
PY
