#!/bin/bash
# The GPU check, for a lent GPU machine (no MLIR, no packages, no network):
# unpacks build/gpu-check/gpu-check.tar.gz (made here by
# utils/gpu-check/prepare.sh), runs its bundles with --device cuda and prints
#   - PASS/FAIL per node test against the CPU's outputs (max relative error
#     1e-4: max|gpu - cpu| / max|cpu| per output; integers exactly);
#   - each model's max relative error against the CPU (1e-4; 5e-3 for
#     fashion_mobilenet_fp16, whose tensor cores compute on f16 activations);
#   - each model's latency on the GPU beside the CPU's (kiln-run bench).
# Sized to finish in well under 5 minutes on 16 cores and one GPU.
#
#   utils/gpu-check.sh [--dry-run] [ARCHIVE]
#                                   (default build/gpu-check/gpu-check.tar.gz)
# --dry-run runs everything on the CPU instead (--device cpu): a check of the
# archive and of this script on a machine without a GPU.
set -uo pipefail
device=cuda
if [[ ${1:-} == --dry-run ]]; then
  device=cpu
  shift
fi
archive=$(realpath "${1:-build/gpu-check/gpu-check.tar.gz}")
if [[ ! -f $archive ]]; then
  echo "gpu-check: no $archive; run utils/gpu-check/prepare.sh first (and carry build/gpu-check)" >&2
  exit 2
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar xzf "$archive" -C "$dir"
run=$dir/bin/kiln-run
compare=$dir/bin/kiln-compare
if [[ ! -x $run || ! -x $compare ]]; then
  echo "gpu-check: $archive has no bin/kiln-run and bin/kiln-compare; run utils/gpu-check/prepare.sh again" >&2
  exit 2
fi
jobs=$(nproc)
started=$(date +%s)
# Built on a Debian 12 machine; where they do not run (an older libc), build
# the runtime here from the tree (it needs no MLIR), with the carried CLI11.
if ! "$run" --help >/dev/null 2>&1 || [[ $("$compare" 2>&1) != usage:* ]]; then
  echo "gpu-check: the carried binaries do not run here; building the runtime"
  source_dir=$(realpath "$(dirname "$0")/..")
  build_dir=$(mktemp -d)
  cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DKILN_BUILD_COMPILER=OFF -DKILN_BUILD_TESTS=OFF -DKILN_RUNTIME_THREADS=std \
    -DKILN_BUILD_GPU_CHECK_TOOLS=ON -DCMAKE_PREFIX_PATH="$dir/cli11" \
    >"$dir/build.log" 2>&1 &&
    cmake --build "$build_dir" -j "$jobs" >>"$dir/build.log" 2>&1 || {
    tail -20 "$dir/build.log"
    echo "gpu-check: building the runtime failed" >&2
    exit 2
  }
  run=$build_dir/bin/kiln-run
  compare=$build_dir/bin/kiln-compare
fi
echo "== gpu-check on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null ||
  echo "(nvidia-smi not found)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $jobs cores"

# check_case DIR: each line of DIR/runs is "ARGS<TAB>SET"; runs ARGS on the
# GPU and compares every output with DIR/SET/expected, within 1e-4 or
# DIR/tolerance (f16 compute). Prints one line.
check_case() {
  local case_dir=$1 name worst=0 failed="" args set out line status tolerance=1e-4
  name=$(basename "$case_dir")
  if [[ -f $case_dir/tolerance ]]; then tolerance=$(cat "$case_dir/tolerance"); fi
  out=$(mktemp -d)
  while IFS=$'\t' read -r args set; do
    mkdir -p "$out/$set"
    eval "set -- $args"
    if ! (cd "$case_dir" && "$run" run "$@" --device "$device" --output-dir "$out/$set" \
      >/dev/null 2>"$out/$set.err"); then
      failed="$set: $(grep 'error' "$out/$set.err" | tail -1)"
      break
    fi
    for expected in "$case_dir/$set/expected/"*.npy; do
      line=$("$compare" "$out/$set/$(basename "$expected")" "$expected" --tolerance "$tolerance" 2>&1)
      status=$?
      if [[ $line == "max relative error "* ]]; then
        worst=$(awk -v a="$worst" -v b="${line##* }" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
      fi
      if ((status != 0)); then
        failed="$set/$(basename "$expected"): $line"
      fi
    done
  done <"$case_dir/runs"
  rm -rf "$out"
  if [[ -n $failed ]]; then
    echo "FAIL $name ($failed)"
  else
    echo "PASS $name (max relative error $worst)"
  fi
}
export -f check_case
export run compare device

if [[ -d $dir/node ]]; then
  echo "== node tests (--device $device against the CPU's outputs)"
  ls -d "$dir/node"/*/ | xargs -P "$jobs" -I{} bash -c 'check_case "${1%/}"' _ {} |
    sort -k2 >"$dir/node-results.txt"
  cat "$dir/node-results.txt"
  cp "$dir/node-results.txt" "${OUT:-/tmp}/node-results.txt" 2>/dev/null
  echo "node tests: $(grep -c '^PASS' "$dir/node-results.txt") passed," \
    "$(grep -c '^FAIL' "$dir/node-results.txt") failed of $(wc -l <"$dir/node-results.txt")"
fi

if [[ -d $dir/models ]]; then
  echo "== models (--device $device against the CPU's outputs; latency in ms)"
  for model_dir in "$dir/models"/*/; do
    model_dir=${model_dir%/}
    check_case "$model_dir"
    model=$(basename "$model_dir")
    if [[ $model == mobilenet_v2 && $device == cuda ]]; then
      # The driver's compilation of the PTX (what a GPU newer than any
      # cubin runs), and where the GPU's time goes.
      KILN_CUDA_BINARY=ptx check_case "$model_dir" | sed 's/^/  PTX: /'
      "$run" bench "$model_dir/model.kiln" --device cuda --runs 10 --warmup 3 \
        --profile 2>&1 | sed -n '/^median/,$p' | head -30
    fi
    for bench_device in "$device" cpu; do
      runs=50
      [[ $bench_device == cpu ]] && runs=10
      median=$("$run" bench "$model_dir/model.kiln" --device "$bench_device" --runs "$runs" \
        --warmup 3 2>&1 | awk '/^median:/ { print $2 }')
      echo "  $model on $bench_device: median ${median:-?} ms ($runs runs)"
    done
  done
fi
echo "== done in $(($(date +%s) - started)) s"
