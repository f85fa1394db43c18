#!/bin/bash
# Configures and builds kiln into build/ (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
