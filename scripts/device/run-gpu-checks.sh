#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with .device/ packed by pack.sh:
# unpacks Node and the npm dependencies, then runs the GPU tests, the GPU benchmark and a
# kernel-by-kernel profile of the training step.
# Logs go to $OUT (or .device/out).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-.device/out}"
mkdir -p "$out" .device/bin
[ -x .device/bin/node ] || tar -C .device/bin -xJf .device/node.tar.xz
[ -d node_modules ] || tar -xJf .device/node_modules.tar.xz
export PATH="$PWD/.device/bin:$PATH"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
node --version
status=0
node node_modules/vitest/vitest.mjs run --config vitest.gpu.config.ts 2>&1 | tee "$out/test-gpu.log" \
  || status=$?
NODE="$PWD/.device/bin/node" bash bench/gpu/run.sh "${BENCH_STEPS:-200}" 2>&1 | tee "$out/bench-gpu.log" \
  || status=$?
# Where each step's time goes, kernel by kernel, for tuning the CUDA kernels.
for batch in 60 6000; do
  node --import tsx bench/profile-kernels.ts --backend cuda --batch "$batch" 2>&1 \
    | tee "$out/profile-cuda-b$batch.md" || status=$?
done
exit "$status"
