#!/bin/bash
# --cache-to / --cache-from: a two-stage build exported (mode=max) to a local
# OCI layout and to a registry is imported into fresh stores (new --root),
# whose rebuild runs nothing: every step CACHED and the image's layers
# identical (each RUN writes `date +%N`, so a re-run would change its layer).
# An inline cache (--cache-to type=inline --push) travels with the image.
# A missing cache source is a warning, a bad value a usage error.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

registry_busybox

CTX=$WORK/ctx
mkdir -p "$CTX"
echo hello >"$CTX/a.txt"
cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM $REGISTRY/busybox AS tool
RUN date +%N >/tool-stamp

FROM $REGISTRY/busybox
COPY a.txt /a.txt
RUN date +%N >/stamp
RUN true
COPY --from=tool /tool-stamp /tool-stamp
WORKDIR /app
DOCKERFILE
cat >"$WORK/Dockerfile.single" <<DOCKERFILE
FROM $REGISTRY/busybox
COPY a.txt /a.txt
RUN date +%N >/stamp
DOCKERFILE

layers() { image_config "$1" | jq -c .rootfs.diff_ids; }
# cached_states PLAIN_PROGRESS: step_states without the FROM/internal lines.
cached_states() { step_states "$1" | grep -v -E -e '^\[internal\]' -e '(\[| )1/[0-9]+\] ' || true; }

kiln_ok build --progress=plain -t app \
  --cache-to "type=local,dest=$WORK/cache-local,mode=max" \
  --cache-to "type=registry,ref=$REGISTRY/cache/app:buildcache,mode=max" "$CTX"
expect_eq "first build runs everything" "[stage-1 2/6] DONE
[stage-1 3/6] DONE
[stage-1 4/6] DONE
[stage-1 5/6] DONE
[stage-1 6/6] DONE
[tool 2/2] DONE" "$(cached_states "$ERR")"
LAYERS=$(layers app)

# The local export is an OCI layout holding the kiln cache artifact.
[ -f "$WORK/cache-local/oci-layout" ] || fail "no oci-layout in the local cache"
MANIFEST=$(jq -r '.manifests[0].digest' "$WORK/cache-local/index.json")
expect_eq "local cache config type" "application/vnd.kiln.cache.config.v1+json" \
  "$(jq -r .config.mediaType "$(_blob "$WORK/cache-local" "$MANIFEST")")"
# mode=max: 6 steps (the tool RUN, both COPYs, two RUNs, WORKDIR), 5 layers
# (RUN true changes nothing).
CONFIG=$(_blob "$WORK/cache-local" "$(jq -r .config.digest "$(_blob "$WORK/cache-local" "$MANIFEST")")")
expect_eq "records" "6 5" "$(jq '.records | length' "$CONFIG") $(jq '[.records[] | select(.empty | not)] | length' "$CONFIG")"
# The registry holds the same records, with the layers pushed gzipped.
skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/cache/app:buildcache" >"$WORK/remote.json"
curl -fsS "http://$REGISTRY/v2/cache/app/blobs/$(jq -r .config.digest "$WORK/remote.json")" >"$WORK/remote-config.json"
RECORDS='[.records[] | del(.blob, .media_type, .blob_size)]'
expect_eq "registry cache records" "$(jq -c "$RECORDS" "$CONFIG")" "$(jq -c "$RECORDS" "$WORK/remote-config.json")"
expect_eq "registry cache layers" "application/vnd.oci.image.layer.v1.tar+gzip" \
  "$(jq -r '[.layers[].mediaType] | unique | .[]' "$WORK/remote.json")"

# A fresh store per source: everything comes from the cache.
for from in "type=local,src=$WORK/cache-local" "type=registry,ref=$REGISTRY/cache/app:buildcache"; do
  export KILN_ROOT=$WORK/root-$RANDOM
  kiln_ok build --progress=plain -t app --cache-from "$from" "$CTX"
  expect_eq "rebuild from $from" "[stage-1 2/6] CACHED
[stage-1 3/6] CACHED
[stage-1 4/6] CACHED
[stage-1 5/6] CACHED
[stage-1 6/6] CACHED
[tool 2/2] CACHED" "$(cached_states "$ERR")"
  expect_eq "layers from $from" "$LAYERS" "$(layers app)"
done

# Inline: the cache rides in the pushed image's manifest annotations.
export KILN_ROOT=$WORK/root-inline-1
kiln_ok build --progress=plain -f "$WORK/Dockerfile.single" -t "$REGISTRY/single:v1" --cache-to type=inline --push "$CTX"
SINGLE=$(layers "$REGISTRY/single:v1")
skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/single:v1" >"$WORK/single.json"
expect_eq "inline records" "2" "$(jq -r '.annotations["dev.kiln.cache.v1"]' "$WORK/single.json" | jq '.records | length')"
export KILN_ROOT=$WORK/root-inline-2
kiln_ok build --progress=plain -f "$WORK/Dockerfile.single" -t single --cache-from "$REGISTRY/single:v1" "$CTX"
expect_eq "rebuild from inline" "[2/3] CACHED
[3/3] CACHED" "$(cached_states "$ERR")"
expect_eq "layers from inline" "$SINGLE" "$(layers single)"

# A missing source warns and builds; a bad value is a usage error.
export KILN_ROOT=$WORK/root-missing
kiln_ok build --progress=plain -f "$WORK/Dockerfile.single" --cache-from "type=local,src=$WORK/nope" "$CTX"
echo "$ERR" | grep -qF " - CacheImportFailed: open $WORK/nope/index.json: No such file or directory (importing cache from $WORK/nope)" ||
  fail "no CacheImportFailed warning: $ERR"
run_kiln build --cache-to type=local "$CTX"
expect_eq "bad --cache-to exit" 2 "$RC"
expect_eq "bad --cache-to" 'error: invalid --cache-to "type=local": type=local needs dest=DIR' "$ERR"
