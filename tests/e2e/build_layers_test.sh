#!/bin/bash
# Built layers are stored uncompressed (blob digest = diff id) and stay valid
# for skopeo, umoci and a registry round trip; the hash cache under
# $KILN_ROOT/hashcache remembers context file digests, and a content change
# that keeps size and mtime still re-runs the COPY (ctime differs).
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX/app/sub"
echo alpha >"$CTX/app/a.txt"
echo beta >"$CTX/app/sub/b.txt"
printf 'FROM busybox\nCOPY app /app\n' >"$CTX/Dockerfile"
# Files changed less than 2 s before a build are hashed but not remembered
# (a write in the same clock tick may keep ctime), so let the context settle.
sleep 2.1

kiln_ok build --progress=plain -t layers:1 "$CTX"
expect_eq "first build" '[1/2] DONE
[2/2] DONE
[internal] DONE' "$(step_states "$ERR")"

# --- the stored layer is a plain tar ------------------------------------------
D=$WORK/oci
oci_unpack layers:1 "$D"
MANIFEST=$(_blob "$D" "$(jq -r '.manifests[0].digest' "$D/index.json")")
CONFIG=$(_blob "$D" "$(jq -r '.config.digest' "$MANIFEST")")
expect_eq "COPY layer media type" "application/vnd.oci.image.layer.v1.tar" "$(jq -r '.layers[1].mediaType' "$MANIFEST")"
expect_eq "blob digest is the diff id" "$(jq -r '.rootfs.diff_ids[1]' "$CONFIG")" "$(jq -r '.layers[1].digest' "$MANIFEST")"
LAYER=$(_blob "$D" "$(jq -r '.layers[1].digest' "$MANIFEST")")
expect_eq "layer size" "$(stat -c %s "$LAYER")" "$(jq -r '.layers[1].size' "$MANIFEST")"
expect_eq "layer entries" 'app/
app/a.txt
app/sub/
app/sub/b.txt' "$(tar -tf "$LAYER")"

# --- other tools read it ----------------------------------------------------------
kiln_ok save --format oci -o "$WORK/img.tar" layers:1
skopeo copy -q "oci-archive:$WORK/img.tar" "oci:$WORK/layout:l1" >/dev/null
umoci unpack --image "$WORK/layout:l1" "$WORK/bundle" >/dev/null
expect_eq "umoci sees the COPY" alpha "$(cat "$WORK/bundle/rootfs/app/a.txt")"
kiln_ok save -o "$WORK/img-docker.tar" layers:1
expect_eq "docker-archive diff ids" 2 "$(skopeo inspect --config "docker-archive:$WORK/img-docker.tar" | jq '.rootfs.diff_ids | length')"

# --- a registry round trip keeps the digests -------------------------------------
start_registry
kiln_ok tag layers:1 "$REGISTRY/layers:1"
kiln_ok push "$REGISTRY/layers:1"
[[ "$OUT" =~ ^1:\ digest:\ (sha256:[0-9a-f]{64})\ size:\ [0-9]+$ ]] || fail "push printed: $OUT"
DIGEST=${BASH_REMATCH[1]}
# The registry's manifest (layers gzipped on the way) is not the stored one;
# inspect shows the digest the registry has for that repository, as docker.
expect_eq "pushed manifest digest" "$DIGEST" \
  "sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/layers:1" | sha256sum | cut -d' ' -f1)"
kiln_ok inspect "$REGISTRY/layers:1"
expect_eq "RepoDigests after push" "[\"$REGISTRY/layers@$DIGEST\"]" \
  "$(echo "$OUT" | jq -c --arg r "$REGISTRY/" '[.[0].RepoDigests[] | select(startswith($r))]')"
# -o type=image,push=true: --metadata-file reports the pushed manifest too.
kiln_ok build -q -t "$REGISTRY/layers:pushed" -o type=image,push=true --metadata-file "$WORK/push-meta.json" "$CTX"
expect_eq "metadata digest of a push=true output" \
  "sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/layers:pushed" | sha256sum | cut -d' ' -f1)" \
  "$(jq -r '."containerimage.digest"' "$WORK/push-meta.json")"
expect_eq "registry layer media type" "application/vnd.oci.image.layer.v1.tar+gzip" \
  "$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/layers:1" | jq -r '.layers[1].mediaType')"
KILN_ROOT=$WORK/other kiln_ok pull -q "$REGISTRY/layers:1"
KILN_ROOT=$WORK/other kiln_ok inspect "$REGISTRY/layers:1"
expect_eq "pulled digest" "[\"$REGISTRY/layers@$DIGEST\"]" "$(echo "$OUT" | jq -c '.[0].RepoDigests')"

# --- the hash cache -----------------------------------------------------------------
TABLES=("$KILN_ROOT"/hashcache/*)
expect_eq "one table for the context" 1 "${#TABLES[@]}"
# 8-byte magic, 112 bytes per file (a.txt, b.txt, Dockerfile is not hashed), 64-byte trailer.
expect_eq "table size" $((8 + 2 * 112 + 64)) "$(stat -c %s "${TABLES[0]}")"
kiln_ok build --progress=plain -t layers:2 "$CTX"
expect_eq "rebuild" '[1/2] DONE
[2/2] CACHED
[internal] DONE' "$(step_states "$ERR")"
touch "$CTX/app/a.txt"
kiln_ok build --progress=plain -t layers:2 "$CTX"
expect_eq "touched" '[1/2] DONE
[2/2] CACHED
[internal] DONE' "$(step_states "$ERR")"
# Same size, mtime put back: only ctime shows the change.
touch -r "$CTX/app/sub/b.txt" "$WORK/mtime"
echo BETA >"$CTX/app/sub/b.txt"
touch -r "$WORK/mtime" "$CTX/app/sub/b.txt"
kiln_ok build --progress=plain -t layers:3 "$CTX"
expect_eq "changed content" '[1/2] DONE
[2/2] DONE
[internal] DONE' "$(step_states "$ERR")"
oci_unpack layers:3 "$D"
MANIFEST=$(_blob "$D" "$(jq -r '.manifests[0].digest' "$D/index.json")")
expect_eq "new content in the layer" BETA \
  "$(tar -xOf "$(_blob "$D" "$(jq -r '.layers[1].digest' "$MANIFEST")")" app/sub/b.txt)"

# A prune of the build cache clears the hash cache.
kiln_ok prune -f
[ ! -e "$KILN_ROOT/hashcache" ] || fail "hashcache left after prune: $(ls "$KILN_ROOT/hashcache")"
echo PASS
