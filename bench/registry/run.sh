#!/bin/bash
# Pull benchmark: a 500 MiB image (5 x 100 MiB incompressible layers) in a
# local docker-registry, pulled by `skopeo copy` to an OCI dir (baseline) and
# by `$KILN pull` (target: <= 1.2x the baseline).
# Usage: KILN=/path/to/kiln bench/registry/run.sh   (KILN optional)
set -euo pipefail
work=$(mktemp -d)
trap 'kill "$reg_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$work/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# Build a dir: image with umoci-free plain tar layers.
img="$work/img"; mkdir -p "$img"
layers=(); diff_ids=()
for i in 1 2 3 4 5; do
  mkdir -p "$work/l$i" && head -c $((100 << 20)) /dev/urandom >"$work/l$i/blob$i"
  tar -C "$work/l$i" -cf "$work/layer$i.tar" "blob$i"
  d=$(sha256sum "$work/layer$i.tar" | cut -d' ' -f1)
  mv "$work/layer$i.tar" "$img/$d"
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$img/$d")}")
  diff_ids+=("\"sha256:$d\"")
done
config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$(IFS=,; echo "${diff_ids[*]}")]}}"
cd_=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
printf '%s' "$config" >"$img/$cd_"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[%s]}' \
  "$cd_" "${#config}" "$(IFS=,; echo "${layers[*]}")" >"$img/manifest.json"
echo "Directory Transport Version: 1.1" >"$img/version"
skopeo copy --preserve-digests --dest-tls-verify=false "dir:$img" "docker://127.0.0.1:$port/bench/img:1" >/dev/null

start=$(date +%s.%N)
skopeo copy --src-tls-verify=false "docker://127.0.0.1:$port/bench/img:1" "oci:$work/oci:img" >/dev/null
end=$(date +%s.%N)
base=$(echo "$end - $start" | bc)
echo "skopeo copy to oci dir: ${base}s"
if [[ -n "${KILN:-}" ]]; then
  start=$(date +%s.%N)
  "$KILN" --root "$work/kiln-root" pull "127.0.0.1:$port/bench/img:1" >/dev/null
  end=$(date +%s.%N)
  k=$(echo "$end - $start" | bc)
  echo "kiln pull: ${k}s (ratio $(echo "scale=2; $k / $base" | bc), target <= 1.20)"
fi
