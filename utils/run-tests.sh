#!/usr/bin/env bash
# Installs the Debian dependencies, builds Kiln and runs every test; ctest
# prints the closing summary. Installing packages needs root (sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
utils/install-deps.sh
cmake --preset default
cmake --build --preset default
ctest --preset default "$@"
