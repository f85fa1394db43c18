#!/bin/bash
# Built layers are stored as plain tar but pushed gzipped: kiln push, build
# --push (and its --metadata-file) and --cache-to type=registry send
# tar+gzip blobs that decompress to the config's diff ids; the gzip blob is
# made once, and made again byte for byte after a prune removed it.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

registry_busybox
CTX=$WORK/ctx
mkdir -p "$CTX"
seq 1 20000 >"$CTX/numbers.txt"
printf 'FROM %s/busybox\nCOPY numbers.txt /numbers.txt\n' "$REGISTRY" >"$CTX/Dockerfile"
kiln_ok build -q -t gz:1 "$CTX"
ID=$OUT

kiln_ok tag gz:1 "$REGISTRY/gz:1"
kiln_ok push "$REGISTRY/gz:1"
[[ "$OUT" =~ ^1:\ digest:\ (sha256:[0-9a-f]{64})\ size:\ ([0-9]+)$ ]] || fail "push printed: $OUT"
DIGEST=${BASH_REMATCH[1]}
skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/gz:1" >"$WORK/raw.json"
expect_eq "printed digest" "$DIGEST" "sha256:$(sha256sum <"$WORK/raw.json" | cut -d' ' -f1)"
expect_eq "printed size" "${BASH_REMATCH[2]}" "$(stat -c %s "$WORK/raw.json")"
expect_eq "layer media types" 'application/vnd.oci.image.layer.v1.tar+gzip
application/vnd.oci.image.layer.v1.tar+gzip' "$(jq -r '.layers[].mediaType' "$WORK/raw.json")"
expect_eq "config (image ID)" "$ID" "$(jq -r .config.digest "$WORK/raw.json")"

# The registry's COPY layer is gzip and decompresses to the diff id.
skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/gz:1" "oci:$WORK/layout:gz" >/dev/null
M=$(_blob "$WORK/layout" "$(jq -r '.manifests[0].digest' "$WORK/layout/index.json")")
C=$(_blob "$WORK/layout" "$(jq -r .config.digest "$M")")
L=$(_blob "$WORK/layout" "$(jq -r '.layers[1].digest' "$M")")
gzip -t "$L" || fail "layer is not gzip"
expect_eq "layer diff id" "$(jq -r '.rootfs.diff_ids[1]' "$C")" "sha256:$(gzip -dc "$L" | sha256sum | cut -d' ' -f1)"
expect_eq "layer content" "$(cat "$CTX/numbers.txt")" "$(tar -xzOf "$L" numbers.txt)"
GZ=$(jq -r '.layers[1].digest' "$M")

# A second push compresses nothing new; after a prune drops the gzip blob,
# pushing makes it again with the same bytes.
BLOBS=$(ls "$KILN_ROOT/blobs/sha256" | wc -l)
kiln_ok push "$REGISTRY/gz:1"
expect_eq "second push" "1: digest: $DIGEST size: ${BASH_REMATCH[2]}" "$OUT"
expect_eq "blobs after second push" "$BLOBS" "$(ls "$KILN_ROOT/blobs/sha256" | wc -l)"
kiln_ok prune -f
[ ! -e "$KILN_ROOT/blobs/sha256/${GZ#sha256:}" ] || fail "prune kept the unreferenced gzip blob"
kiln_ok push "$REGISTRY/gz:1"
expect_eq "push after prune" "1: digest: $DIGEST size: ${BASH_REMATCH[2]}" "$OUT"
[ -e "$KILN_ROOT/blobs/sha256/${GZ#sha256:}" ] || fail "push after prune did not remake $GZ"

# build --push reports the pushed manifest in --metadata-file; --iidfile
# keeps the image ID. The rebuild has a new config (created time) over the
# same layers, which are pushed as the same gzip blobs.
kiln_ok build -q -t "$REGISTRY/gz:2" --push --metadata-file "$WORK/meta.json" --iidfile "$WORK/iid" "$CTX"
ID2=$OUT
skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/gz:2" >"$WORK/raw2.json"
expect_eq "build --push digest" "sha256:$(sha256sum <"$WORK/raw2.json" | cut -d' ' -f1)" \
  "$(jq -r '."containerimage.digest"' "$WORK/meta.json")"
expect_eq "build --push config" "$ID2" "$(jq -r '."containerimage.config.digest"' "$WORK/meta.json")"
expect_eq "build --push registry config" "$ID2" "$(jq -r .config.digest "$WORK/raw2.json")"
expect_eq "iidfile" "$ID2" "$(cat "$WORK/iid")"
expect_eq "same gzip layers" "$(jq -c .layers "$WORK/raw.json")" "$(jq -c .layers "$WORK/raw2.json")"

# Pulled back into a fresh store: same image ID.
KILN_ROOT=$WORK/other kiln_ok pull -q "$REGISTRY/gz:1"
KILN_ROOT=$WORK/other kiln_ok images -q --no-trunc
expect_eq "pulled image ID" "$ID" "$OUT"

# --cache-to type=registry sends gzip layers too, and a fresh store imports them.
kiln_ok build -q -t gz:1 --cache-to "type=registry,ref=$REGISTRY/gz:cache,mode=max" "$CTX"
expect_eq "cache layer media types" 'application/vnd.oci.image.layer.v1.tar+gzip' \
  "$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/gz:cache" | jq -r '[.layers[].mediaType] | unique | .[]')"
export KILN_ROOT=$WORK/third
kiln_ok build --progress=plain -t gz:1 --cache-from "type=registry,ref=$REGISTRY/gz:cache" "$CTX"
step_states "$ERR" | grep -qx '\[2/2\] CACHED' || fail "COPY not served from the registry cache: $ERR"
expect_eq "diff ids from cache" "$(jq -c .rootfs.diff_ids "$C")" "$(image_config gz:1 | jq -c .rootfs.diff_ids)"
