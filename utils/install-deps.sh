#!/usr/bin/env bash
# Installs every Debian package Kiln's build, tests and demo need. Idempotent:
# packages already present are skipped, so a second run costs a dpkg query.
set -euo pipefail

packages=(
  # toolchain
  cmake ninja-build ccache clang-19 lld-19 llvm-19-dev llvm-19-tools
  libmlir-19-dev mlir-19-tools
  # libraries
  libonnx-dev libprotobuf-dev protobuf-compiler libtbb-dev libcli11-dev
  libgtest-dev libgmock-dev zlib1g-dev libzstd-dev libedit-dev libxml2-dev
  libcurl4-openssl-dev
  # aarch64: the cross-built runtime (arm64 glibc/libstdc++) and qemu to run it
  g++-aarch64-linux-gnu qemu-user
  # tests, examples and the reference exporter
  libonnx-testdata python3-onnx python3-numpy python3-torch python3-torchvision
  dataset-fashion-mnist
  # kiln inspect --graph FILE.svg draws with Graphviz's dot
  graphviz
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install packages" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
