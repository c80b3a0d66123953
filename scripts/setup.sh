#!/usr/bin/env bash
# Installs what gradc needs on Debian 12 with Node 20: a C compiler with OpenMP (the C backend),
# nvcc (the CUDA target), WebGPU on the CPU and a browser (scripts/setup-webgpu.sh), and the npm
# dependencies. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if command -v gcc >/dev/null 2>&1; then
  echo "setup: C compiler found: $(gcc --version | head -n 1)"
else
  echo "setup: installing gcc (Debian package build-essential) for the C backend"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q build-essential
fi

# nvcc compiles the CUDA target (its tests compile for sm_80 and sm_90; nothing runs a GPU here).
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ] || [ -n "${NVCC:-}" ]; then
  echo "setup: nvcc found: $( (command -v nvcc || echo /usr/local/cuda/bin/nvcc) | head -n 1)"
else
  echo "setup: installing nvcc (Debian package nvidia-cuda-toolkit, from the non-free component)"
  nonfree=/etc/apt/sources.list.d/gradc-non-free.sources
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' \
    'Components: contrib non-free' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
    | as_root tee "$nonfree" >/dev/null
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    nvidia-cuda-toolkit
fi

# WebGPU on the CPU (Mesa lavapipe from bookworm-backports) and chromium for the browser test.
bash scripts/setup-webgpu.sh

if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "setup: npm dependencies are installed"
else
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
