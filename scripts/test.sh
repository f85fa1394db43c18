#!/bin/bash
# Installs dependencies, builds, and runs every test: unit tests (ctest),
# end-to-end tests against real runc and a real registry, and a short run of
# every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/lint.sh
scripts/build.sh
install -m 0755 build/kiln /usr/local/bin/kiln
(cd build && ctest --output-on-failure -j"$(nproc)")
tests/fuzz/run.sh 10
