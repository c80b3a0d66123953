#!/usr/bin/env bash
# Installs what WebGPU needs on a Debian 12 machine without a GPU, and the browser for the
# example page's test:
#   - Mesa's Vulkan drivers from bookworm-backports (Mesa 25; lavapipe runs Vulkan on the CPU,
#     and the stock Mesa 22 lacks a feature Dawn requires);
#   - Debian's chromium, driven headless by playwright-core.
# Safe to run again: it only installs what is missing.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

backports=/etc/apt/sources.list.d/gradc-bookworm-backports.sources
need_update=0
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup-webgpu: adding Debian's bookworm-backports suite ($backports)"
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
    'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
    | as_root tee "$backports" >/dev/null
  need_update=1
fi

mesa_version() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true
}

packages=()
case "$(mesa_version)" in
  2[5-9].*|[3-9][0-9].*) echo "setup-webgpu: Mesa Vulkan drivers found: $(mesa_version)" ;;
  *) packages+=("mesa-vulkan-drivers/bookworm-backports") ;;
esac
if command -v chromium >/dev/null 2>&1; then
  echo "setup-webgpu: chromium found: $(chromium --version 2>/dev/null | head -n 1)"
else
  packages+=(chromium)
fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$need_update" = 1 ] || [ ! -d /var/lib/apt/lists ] || \
     [ -z "$(ls /var/lib/apt/lists/*bookworm-backports* 2>/dev/null)" ]; then
    echo "setup-webgpu: apt-get update"
    as_root apt-get update -q
  fi
  echo "setup-webgpu: installing ${packages[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${packages[@]}"
fi
