#!/usr/bin/env bash
# hdvila set-up: installs what the build and tests need, and only what is missing.
#
#   - Debian packages (apt-get; sudo when not root), see DEBIAN_PACKAGES below;
#   - a Python virtual environment OUTSIDE the clone, reused by later clones and CI:
#     $HDV_VENV (default ~/.cache/hdvila/venv) with scripts/requirements.txt (torch = LibTorch).
#
# Idempotent: a second run checks and prints "ok" lines. Safe to run from any folder.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${HDV_VENV:-$HOME/.cache/hdvila/venv}
requirements=$here/requirements.txt

DEBIAN_PACKAGES=(
  build-essential cmake pkg-config ccache git
  python3 python3-venv python3-pip
  libopencv-dev                      # video decode/encode (FFmpeg backend), resize
  libimgui-dev libglfw3-dev libgl-dev libgl1-mesa-dri  # hdvila-studio (Dear ImGui 1.86, GLFW, OpenGL)
  libstb-dev                         # image decode/encode
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libgloo-dev                        # Gloo headers for LibTorch's c10d ProcessGroupGloo (the wheel ships none)
  libgtest-dev libbenchmark-dev
  xvfb xauth                         # GUI tests in a virtual X server
  dataset-fashion-mnist              # real garments for SynthVid
  zlib1g-dev                         # reading its gzip-compressed IDX files
)

say() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root to run: $*  (no sudo found)"; exit 1
  fi
}

# --- Debian packages ------------------------------------------------------------------------
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "ok: Debian packages (${#DEBIAN_PACKAGES[@]} checked)"
fi

# --- Python virtual environment with LibTorch -------------------------------------------------
python=${HDV_BOOTSTRAP_PYTHON:-python3}
if [[ ! -x $venv/bin/python ]]; then
  say "creating the virtual environment $venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
stamp=$venv/.hdvila-requirements
if [[ -f $stamp ]] && cmp -s "$stamp" "$requirements" \
   && "$venv/bin/python" -c 'import torch, torchvision, numpy, safetensors, transformers' 2>/dev/null; then
  say "ok: $venv (torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'))"
else
  say "installing Python packages into $venv (torch is large: a few GB on first install)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  cp "$requirements" "$stamp"
  say "installed torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
fi
say "LibTorch CMake prefix: $("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
