#!/bin/bash
# Compares a kiln `RUN true` step (overlay mount, spec generation, runc run,
# residue cleanup) with a bare `runc run` of `true` on the same busybox
# rootfs. Target: kiln <= 1.5x bare runc.
#   bench/exec/run.sh [BUILD_DIR]   (needs root, runc, busybox-static)
set -euo pipefail
build=${1:-/work/build-exec}
bench=$build/src/exec/exec_bench
[ -x "$bench" ] || cmake --build "$build" -j2 --target exec_bench >/dev/null
tmp=$(mktemp -d /tmp/kiln-bench-XXXXXX)
trap 'for c in bare kspec; do runc --root "$tmp/bare-state" delete -f $c >/dev/null 2>&1; done; rm -rf "$tmp"' EXIT

# The rootfs: static busybox with /bin/true.
mkdir -p "$tmp/lower/bin" "$tmp/lower/etc" "$tmp/kiln"
cp /bin/busybox "$tmp/lower/bin/busybox"
ln -s busybox "$tmp/lower/bin/sh"
ln -s busybox "$tmp/lower/bin/true"
echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/lower/etc/passwd"

# The bare bundle: runc's default spec, read-only rootfs, no terminal.
mkdir -p "$tmp/bare"
(cd "$tmp/bare" && runc spec)
python3 - "$tmp/bare/config.json" "$tmp/lower" <<'PY'
import json, sys
path, root = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": root, "readonly": True}
json.dump(c, open(path, "w"))
PY
bare="runc --root $tmp/bare-state run --bundle $tmp/bare bare"
kiln="$bench $tmp/lower $tmp/kiln 1"

# runc alone on kiln's own configuration (same mounts, rw root), to separate
# kiln's overhead from the cost of a richer spec.
mkdir -p "$tmp/kspec/etc" "$tmp/kroot"
cp -a "$tmp/lower/." "$tmp/kroot/"
touch "$tmp/kspec/etc/hosts" "$tmp/kspec/etc/resolv.conf" "$tmp/kspec/etc/hostname"
"$bench" --spec "$tmp/kroot" "$tmp/kspec/etc" >"$tmp/kspec/config.json"
kspec="runc --root $tmp/bare-state run --bundle $tmp/kspec kspec"

if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 5 --runs 100 -n "bare runc run true" "$bare" \
    -n "runc run true, kiln's spec" "$kspec" -n "kiln RUN true" "$kiln"
fi

# Interleaved pairs: on a shared, loaded machine the load drifts over a
# hyperfine series, so alternate the two and compare the sums.
n=${RUNS:-50}
bare_ns=0 kiln_ns=0
for _ in $(seq "$n"); do
  s=$(date +%s%N); $bare; e=$(date +%s%N); bare_ns=$((bare_ns + e - s))
  s=$(date +%s%N); $kiln; e=$(date +%s%N); kiln_ns=$((kiln_ns + e - s))
done
echo "interleaved, $n pairs: bare runc $((bare_ns / n / 1000)) us/run, kiln $((kiln_ns / n / 1000)) us/run," \
  "ratio $(python3 -c "print(round($kiln_ns / $bare_ns, 2))")"
