#!/bin/bash
# Registry pull/push benchmark (issue #7): kiln against `skopeo copy` on a
# ~500 MiB image of several gzip layers (random, incompressible bytes and
# compressible text) in a local docker-registry on 127.0.0.1 (plain HTTP).
#
#   pull: skopeo copy docker://REG/bench/img:1 oci:DIR   vs   kiln pull REG/bench/img:1
#   push: skopeo copy oci:DIR docker://REG2/bench/img:1  vs   kiln push REG2/bench/img:1
#
# Every run starts from nothing: a fresh kiln store and a fresh OCI dir per
# pull run, an empty push registry per push run (its storage is wiped in
# hyperfine's --prepare). Neither tool unpacks layers: `kiln pull` stores the
# blobs and the image record, snapshots are unpacked at first use by a build.
# Target: kiln <= 1.2x skopeo.
#
# Usage: KILN=build-rel/kiln bench/registry/run.sh [RUNS]   (RUNS default 5)
# Needs: docker-registry, skopeo, hyperfine, jq, python3.
set -euo pipefail
KILN=$(realpath "${KILN:-build/kiln}")
RUNS=${1:-5}
work=$(mktemp -d /var/tmp/kiln-bench-registry.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start_registry NAME: a docker-registry serving $work/NAME, port in $port.
start_registry() {
  port=$(free_port)
  cat >"$work/$1.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/$1}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$work/$1.yml" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return; sleep 0.1; done
  echo "registry $1 did not start" >&2
  exit 1
}

start_registry src
SRC=127.0.0.1:$port
start_registry dst
DST=127.0.0.1:$port

# The image, as a skopeo dir: layout. Layers 1-3: 100 MiB of random bytes
# each (gzip cannot shrink them); layers 4-5: 170 MiB of hex text each
# (gzip -1 makes ~100 MiB). About 500 MiB of blobs in all.
img=$work/img
mkdir -p "$img"
layers=()
diff_ids=()
add_layer() {  # add_layer N GENERATOR...
  local n=$1
  shift
  mkdir -p "$work/l$n"
  "$@" >"$work/l$n/data$n"
  tar -C "$work/l$n" -cf "$work/l$n.tar" "data$n"
  rm -rf "$work/l$n"
  diff_ids+=("\"sha256:$(sha256sum "$work/l$n.tar" | cut -d' ' -f1)\"")
  gzip -1 -n "$work/l$n.tar"
  local d
  d=$(sha256sum "$work/l$n.tar.gz" | cut -d' ' -f1)
  mv "$work/l$n.tar.gz" "$img/$d"
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$img/$d")}")
}
for n in 1 2 3; do add_layer $n head -c $((100 << 20)) /dev/urandom; done
for n in 4 5; do add_layer $n sh -c "head -c $((85 << 20)) /dev/urandom | od -An -tx1 -v | tr -d ' \n'"; done
config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$(IFS=,; echo "${diff_ids[*]}")]}}"
cdig=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
printf '%s' "$config" >"$img/$cdig"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[%s]}' \
  "$cdig" "${#config}" "$(IFS=,; echo "${layers[*]}")" >"$img/manifest.json"
echo "Directory Transport Version: 1.1" >"$img/version"
total=$(du -cb "$img" | tail -1 | cut -f1)
skopeo copy -q --preserve-digests --dest-tls-verify=false "dir:$img" "docker://$SRC/bench/img:1"

# Sources for the push cases: an OCI dir (skopeo) and a kiln store (kiln).
skopeo copy -q --src-tls-verify=false "docker://$SRC/bench/img:1" "oci:$work/push-oci:img"
"$KILN" --root "$work/push-root" pull -q "$SRC/bench/img:1" >/dev/null
"$KILN" --root "$work/push-root" tag "$SRC/bench/img:1" "$DST/bench/img:1"

wipe_dst="rm -rf $work/dst/docker"
hyperfine --style basic --runs "$RUNS" --export-json "$work/pull.json" \
  --prepare "rm -rf $work/oci $work/root" \
  -n skopeo "skopeo copy -q --src-tls-verify=false docker://$SRC/bench/img:1 oci:$work/oci:img" \
  -n kiln "$KILN --root $work/root pull -q $SRC/bench/img:1"
hyperfine --style basic --runs "$RUNS" --export-json "$work/push.json" \
  --prepare "$wipe_dst" \
  -n skopeo "skopeo copy -q --dest-tls-verify=false oci:$work/push-oci:img docker://$DST/bench/img:1" \
  -n kiln "$KILN --root $work/push-root push -q $DST/bench/img:1"

mean() { jq -r ".results[] | select(.command == \"$2\") | .mean" "$work/$1.json"; }
echo
echo "image: $((total >> 20)) MiB of blobs in 5 gzip layers; $RUNS runs each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "case | kiln | skopeo | ratio | verdict"
for c in pull push; do
  k=$(mean "$c" kiln)
  s=$(mean "$c" skopeo)
  python3 - "$c" "$k" "$s" <<'PY'
import sys
c, k, s = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
r = k / s
print(f"{c} | {k:.2f} s | {s:.2f} s | {r:.2f} | {'ok' if r <= 1.2 else 'SLOW'} (target <= 1.20)")
PY
done
echo "(neither tool unpacks layers: kiln pull stores blobs and the image record, as skopeo fills an OCI dir)"
