#!/bin/bash
# Prepares build/gpu-check for utils/gpu-check.sh, here (with MLIR and the
# toolkit), after the default build:
#   - a runtime-only x86-64 kiln-run and kiln-compare (preset gpu-check: std
#     threads, libstdc++ linked in: the lent machine has no packages);
#   - every node test that passes on the CPU, compiled for the GPU with the
#     CPU fallback, with its inputs and the CPU's outputs;
#   - the models (mobilenet_v2, the encoder, the Fashion-MNIST CNN, the
#     Fashion-MNIST MobileNet with --precision fp16 (tensor cores), and
#     resnet18 while the whole stays under the 64 MiB a run may carry), with
#     the CPU's outputs on seeded random inputs;
# all in one compressed archive, build/gpu-check/gpu-check.tar.gz (the
# bundles' cubins and ELF code compress about five-fold), which
# utils/gpu-check.sh unpacks there.
# Bundles carry a cubin for sm_90 (the lent machine's GPU) and PTX, not all
# five default cubins, to fit the carry limit; --target cuda:sm_80 (say)
# prepares for another GPU.
#
#   utils/gpu-check/prepare.sh [--target cuda:sm_90]
set -euo pipefail
cd "$(dirname "$0")/../.."
gpu_target=cuda:sm_90
if [[ "${1:-}" == --target ]]; then gpu_target=$2; fi
target="$gpu_target,x86_64-avx2"
archive_dir=build/gpu-check
out=build/gpu-check-stage
kiln=build/default/bin/kiln
limit=$((56 * 1024 * 1024)) # compressed, under the 64 MiB carry with the tree

rm -rf "$out" "$archive_dir"
mkdir -p "$out/bin" "$out/models" "$archive_dir"
cmake --preset gpu-check >/dev/null
cmake --build --preset gpu-check
cp build/gpu-check-runtime/bin/kiln-run build/gpu-check-runtime/bin/kiln-compare "$out/bin/"
# CLI11 (header-only) as a CMake prefix, for gpu-check.sh to rebuild the
# runtime there if these binaries do not run on that machine's libc.
mkdir -p "$out/cli11/include" "$out/cli11/share/cmake"
cp -r /usr/include/CLI "$out/cli11/include/"
cp -r /usr/share/cmake/CLI11 "$out/cli11/share/cmake/"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 test/conformance/run_node_tests.py --kiln "$kiln" --target "$target" \
  --expected-failures test/conformance/expected_failures.txt \
  --work-dir "$work/node" --keep-dir "$out/node" -j "$(nproc)"

/usr/bin/python3 utils/export_models.py --out-dir build/default/test/e2e/models \
  mobilenet_v2 encoder resnet18
# fashion_mobilenet_fp16: the trained Fashion-MNIST MobileNet at
# --precision fp16, whose convolutions run on tensor cores with activations
# rounded to f16 (the CPU keeps f32 activations), so it is held to a looser
# bound. (mobilenet_v2's weights are untrained: its activations, about 1e-8,
# fall below f16's range.)
for model in fashion_cnn mobilenet_v2 encoder fashion_mobilenet_fp16 resnet18; do
  flags=()
  case $model in
  fashion_cnn) onnx=examples/fashion_mnist/fashion_cnn.onnx ;;
  fashion_mobilenet_fp16)
    onnx=examples/fashion_mnist/fashion_mobilenet.onnx
    flags=(--precision fp16)
    ;;
  *) onnx=build/default/test/e2e/models/$model/model.onnx ;;
  esac
  dir=$out/models/$model
  mkdir -p "$dir/run/expected"
  "$kiln" compile "$onnx" --target "$target" "${flags[@]}" -o "$dir/model.kiln"
  if [[ $model == *_fp16 ]]; then echo 5e-3 >"$dir/tolerance"; fi
  if (($(tar czf - -C "$out" . | wc -c) > limit)); then
    echo "prepare: $model does not fit the carry limit; left out"
    rm -rf "$dir"
    continue
  fi
  "$kiln" run "$dir/model.kiln" --device cpu --seed 1 --output-dir "$dir/run/expected" 2>/dev/null
  printf 'model.kiln --seed=1\trun\n' >"$dir/runs"
done
tar czf "$archive_dir/gpu-check.tar.gz" -C "$out" .
rm -rf "$out"
echo "prepare: $(du -sh "$archive_dir/gpu-check.tar.gz" | cut -f1) in $archive_dir" \
  "($(tar tzf "$archive_dir/gpu-check.tar.gz" | grep -c '/runs$') cases: node tests and" \
  "models $(tar tzf "$archive_dir/gpu-check.tar.gz" | sed -n 's|^\./models/\([^/]*\)/runs$|\1|p' | tr '\n' ' '))"
echo "prepare: on the GPU machine, carry $archive_dir and run: utils/gpu-check.sh"
