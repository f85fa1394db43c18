#!/bin/bash
# Builds every libFuzzer target with clang into build-fuzz/ and runs each for
# SECONDS (default 20) on its seed corpus in tests/fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
CC=clang CXX=clang++ cmake -B build-fuzz -DKILN_FUZZ=ON -DKILN_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_targets
n=0
for t in build-fuzz/fuzz/*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  corpus=tests/fuzz/corpus/$name
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${secs}s"
  "$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$work" 2>&1 | tail -2
  rm -rf "$work"
  n=$((n + 1))
done
echo "fuzz: $n targets ran without a crash"
