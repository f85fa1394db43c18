#!/bin/sh
# Layer benchmark: kiln's layer writer (tar + gzip, both digests) against
# `tar | gzip -6`, and peak RSS of applying the layer.
#   bench/layer/run.sh [BUILD_DIR] [MIB]
# BUILD_DIR defaults to ./build; MIB (tree size) to 1024. Scratch space in
# $TMPDIR (or /tmp); it is removed afterwards.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
mib=${2:-1024}
cmake -S "$here" -B "$build" >/dev/null
cmake --build "$build" -j2 --target kiln_bench_layer >/dev/null
bench=$(find "$build" -name kiln_bench_layer -type f | head -n1)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-layer.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$bench" gen "$work/tree" "$mib"
# Warm the page cache so both contenders read from memory.
tar -C "$work/tree" -c . >/dev/null

start=$(date +%s.%N)
tar -C "$work/tree" -c . | gzip -6 >/dev/null
end=$(date +%s.%N)
base=$(echo "$end - $start" | bc)
echo "tar | gzip -6: ${base} s"

start=$(date +%s.%N)
"$bench" write "$work/tree" "$work/layer.tar.gz" gzip
end=$(date +%s.%N)
ours=$(echo "$end - $start" | bc)
echo "speedup: $(echo "scale=2; $base / $ours" | bc)x (target >= 3x)"

"$bench" write "$work/tree" "$work/layer.tar.zst" zstd
"$bench" apply "$work/layer.tar.gz" "$work/applied"
echo "(target: peak RSS < 64 MiB)"
