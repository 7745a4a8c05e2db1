#!/usr/bin/env bash
# Installs onnxruntime-node (CPU build) into utils/bench/node_modules.
# The package's install script downloads a CUDA add-on from outside npm; we
# skip it (ONNXRUNTIME_NODE_INSTALL=skip, --ignore-scripts) since the CPU
# binaries ship inside the npm tarball itself.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "setup: needs node and npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ -d node_modules/onnxruntime-node ] && [ "${1:-}" != "--force" ]; then
  exit 0
fi
ONNXRUNTIME_NODE_INSTALL=skip npm install --ignore-scripts --no-audit --no-fund
node -e 'require("onnxruntime-node"); console.log("onnxruntime-node", require("onnxruntime-node/package.json").version, "ok")'
