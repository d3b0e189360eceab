#!/usr/bin/env bash
# Downloads (does not install) the small Debian packages scripts/gpu_check.sh unpacks on a GPU
# machine that has no package registry: header-only libraries, stb and GoogleTest.
# Run on a machine that reaches Debian's archive. usage: fetch_gpu_debs.sh [DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$root/build/gpu-debs}
packages=(nlohmann-json3-dev libcli11-dev libfmt-dev libfmt9 libstb-dev libstb0 libgtest-dev)
mkdir -p "$dir"
cd "$dir"
if ! apt-get download "${packages[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get download "${packages[@]}"
fi
ls -1 "$dir"/*.deb
