#!/usr/bin/env bash
# Installs the peers of `npm run bench` that come from Debian 12 (bookworm): PyTorch for the
# CPU (python3-torch, run by /usr/bin/python3) and OpenBLAS built with pthreads
# (libopenblas0-pthread), which PyTorch's CPU kernels use when it is the system's BLAS.
# The TensorFlow.js peers are npm development dependencies (npm ci). CI runs no benchmark and
# does not call this script. Safe to run again: it only installs what is missing.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = 'install ok installed' ]
}

packages=()
for package in python3-torch libopenblas0-pthread; do
  if installed "$package"; then
    echo "setup-bench: $package found: $(dpkg-query -W -f='${Version}' "$package")"
  else
    packages+=("$package")
  fi
done

if [ ${#packages[@]} -gt 0 ]; then
  echo "setup-bench: installing ${packages[*]} (Debian)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

/usr/bin/python3 -c 'import torch; print(f"setup-bench: PyTorch {torch.__version__} for /usr/bin/python3")'
