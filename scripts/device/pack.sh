#!/usr/bin/env bash
# Packs what the GPU checks need on a Linux x86-64 machine that has an NVIDIA GPU, CUDA and
# PyTorch but no Node.js: the Node binary and the npm dependencies the GPU tests and the GPU
# benchmark use (the browser, WebGPU and TensorFlow.js packages are left out), xz-compressed
# into .device/ (git-ignored). scripts/device/run-gpu-checks.sh unpacks and runs them there.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.device
mkdir -p "$out"

echo "pack: node $(node --version) -> $out/node.tar.xz"
tar -C "$(dirname "$(command -v node)")" -cJf "$out/node.tar.xz" node

echo "pack: node_modules (without browser, WebGPU and TensorFlow.js packages) -> $out/node_modules.tar.xz"
tar -cJf "$out/node_modules.tar.xz" \
  --exclude='node_modules/@tensorflow' --exclude='node_modules/webgpu' \
  --exclude='node_modules/playwright-core' --exclude='node_modules/core-js' \
  --exclude='node_modules/@webgpu' --exclude='node_modules/typescript' \
  --exclude='node_modules/koffi/build/koffi/[!l]*' \
  --exclude='node_modules/koffi/build/koffi/linux_[!x]*' \
  --exclude='node_modules/koffi/build/koffi/musl_*' \
  --exclude='node_modules/koffi/src' --exclude='node_modules/koffi/vendor' \
  node_modules
du -h "$out"/*.tar.xz
