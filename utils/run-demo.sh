#!/usr/bin/env bash
# Installs the Debian dependencies, builds Kiln and runs the Fashion-MNIST demo
# (examples/fashion_mnist/README.md). Installing packages needs root (sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
utils/install-deps.sh
cmake --preset default
cmake --build --preset default
/usr/bin/python3 examples/fashion_mnist/demo.py --kiln build/default/bin/kiln "$@"
