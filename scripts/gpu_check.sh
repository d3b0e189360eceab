#!/usr/bin/env bash
# GPU check: build hdvila against the machine's own PyTorch/LibTorch with CUDA, run the `cuda`
# tests (and the core unit tests that need no extra Python packages), time config F at 1024 px,
# print a table.
#
# For a Linux machine with an NVIDIA GPU (H100/H200), CUDA 13, CMake and a Python with PyTorch,
# but no package registry and no OpenCV, ImGui or GLFW development packages: video I/O and the
# studio are left out (HDV_VIDEO=OFF, HDV_BUILD_APP=OFF). The small Debian packages it needs
# (nlohmann-json, CLI11, fmt, stb, GoogleTest) come along as .deb files fetched beforehand with
# scripts/fetch_gpu_debs.sh and are unpacked into a local folder (no root needed).
#
# usage: scripts/gpu_check.sh [--debs DIR] [--python PYTHON] [--build DIR]
# Finishes in a few minutes on 16 cores; docs/gpu_check.md has the details.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
debs=$root/build/gpu-debs
python=python3
build=$root/build/gpu
while [[ $# -gt 0 ]]; do
  case $1 in
    --debs) debs=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "error: $1: unknown flag (see --help)" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
say() { printf 'gpu_check: %s\n' "$*"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu_check: GPU: /' \
  || say "nvidia-smi not found"
torch_prefix=$("$python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
say "PyTorch $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)') at $torch_prefix"

prefix_path=$torch_prefix
if compgen -G "$debs/*.deb" >/dev/null; then
  sysroot=$build/debroot
  mkdir -p "$sysroot"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$sysroot" 2>/dev/null || (cd "$sysroot" && ar p "$deb" data.tar.xz | tar -xJ); done
  # libstb's development symlink points at the runtime library unpacked beside it.
  prefix_path="$prefix_path;$sysroot/usr;$sysroot/usr/lib/x86_64-linux-gnu/cmake"
  say "unpacked $(ls "$debs"/*.deb | wc -l) .deb files into $sysroot"
else
  say "no .deb files in $debs: relying on the system's headers (nlohmann-json, CLI11, fmt, stb, GoogleTest)"
fi

nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DHDV_CUDA=ON -DHDV_VIDEO=OFF -DHDV_BUILD_APP=OFF \
  -DCMAKE_PREFIX_PATH="$prefix_path" -DHDV_PYTHON="$(command -v "$python")" -DTORCH_CUDA_ARCH_LIST=9.0 \
  -DCMAKE_CUDA_COMPILER="$nvcc" > "$build.configure.log" 2>&1 \
  || { tail -40 "$build.configure.log"; echo "error: configure failed (log: $build.configure.log)" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" --target hdv_cuda_tests hdv_core_tests hdvila-train hdvila-generate hdv_bench_generator \
  > "$build.build.log" 2>&1 \
  || { grep -E 'error' "$build.build.log" | head -20; echo "error: build failed (log: $build.build.log)" >&2; exit 1; }
built=$(date +%s)

# cuda tests, then the core unit tests that need nothing beyond the build (interop needs the
# Python safetensors package, which such machines may lack).
cd "$build"
status=0
ctest -L cuda --output-on-failure --timeout 300 > "$build.ctest-cuda.log" 2>&1 || status=1
ctest -L unit -R '^(Safetensors\.|Checkpoint|Config|Device|ImageIo|Timecode|AtomicFile|Cli|Progress|Log)|SafetensorsMalformed' \
  --output-on-failure --timeout 300 > "$build.ctest-core.log" 2>&1 || status=1
# The 1024-px workflow's core cost: config F (stylegan2-f-1024, 30.4 M parameters) z -> image on
# the GPU, fp32, batch 1 and 8 (bench/RESULTS.md has the CPU numbers to set it against).
"$build/bin/hdv_bench_generator" --preset stylegan2-f-1024 --device cuda --batch 1,8 --runs 20 --warmup 3 \
  > "$build.bench-1024.log" 2>&1 || status=1
end=$(date +%s)

printf '\n%-60s %-10s %s\n' "test" "result" "seconds"
printf '%-60s %-10s %s\n' "----" "------" "-------"
for log in "$build.ctest-cuda.log" "$build.ctest-core.log"; do
  grep -E '^ *[0-9]+/[0-9]+ Test +#' "$log" \
    | sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) [ .*]*(Passed|Failed|\*\*\*Failed|Skipped|Not Run|\*\*\*Exception|\*\*\*Timeout)?[^0-9]*([0-9.]+) sec.*/\1 \2 \3/' \
    | awk '{ printf "%-60s %-10s %s\n", $1, ($2 == "" ? "?" : $2), $3 }'
done
printf '\nconfig F 1024 px on the GPU (hdv_bench_generator, log %s):\n' "$build.bench-1024.log"
grep -E '^cpp ' "$build.bench-1024.log" | sed 's/^/  /' || echo "  (no timing: see the log)"
printf '\nbuild %ss, tests %ss, total %ss\n' "$((built - start))" "$((end - built))" "$((end - start))"
[[ $status -eq 0 ]] && say "all passed" || { say "FAILURES (logs: $build.ctest-*.log)"; exit 1; }
