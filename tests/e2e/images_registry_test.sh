#!/bin/bash
# push and pull against a real registry (Debian's docker-registry), checked
# with skopeo from the other side.
source "$(dirname "$0")/lib.sh"

start_registry
make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
ID=$OUT

kiln_ok tag busybox "$REGISTRY/busybox:latest"
kiln_ok push "$REGISTRY/busybox:latest"
[[ "$OUT" =~ ^latest:\ digest:\ (sha256:[0-9a-f]{64})\ size:\ [0-9]+$ ]] || fail "push printed: $OUT"
DIGEST=${BASH_REMATCH[1]}
skopeo inspect --tls-verify=false "docker://$REGISTRY/busybox:latest" >"$WORK/inspect.json"
expect_eq "registry digest" "$DIGEST" "$(jq -r .Digest "$WORK/inspect.json")"
skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/busybox:latest" >"$WORK/raw.json"
expect_eq "registry config" "$ID" "$(jq -r .config.digest "$WORK/raw.json")"

# Wipe the store and pull it back.
rm -rf "$KILN_ROOT"
kiln_ok pull "$REGISTRY/busybox:latest"
expect_eq "pull output" "Digest: $DIGEST
Status: Downloaded image for $REGISTRY/busybox:latest
$REGISTRY/busybox:latest" "$OUT"
kiln_ok images -q --no-trunc
expect_eq "pulled ID" "$ID" "$OUT"
kiln_ok inspect "$REGISTRY/busybox:latest"
expect_eq "RepoDigests" "[\"$REGISTRY/busybox@$DIGEST\"]" "$(echo "$OUT" | jq -c '.[0].RepoDigests')"
# Pull by digest.
kiln_ok pull -q "$REGISTRY/busybox@$DIGEST"
expect_eq "pull by digest" "$REGISTRY/busybox@$DIGEST" "$OUT"

# skopeo pushes an image; kiln pulls it.
kiln_ok save --format oci -o "$WORK/bb.tar" "$REGISTRY/busybox:latest"
skopeo copy -q --dest-tls-verify=false "oci-archive:$WORK/bb.tar" "docker://$REGISTRY/from-skopeo:v2" >/dev/null
SKOPEO_DIGEST=$(skopeo inspect --tls-verify=false "docker://$REGISTRY/from-skopeo:v2" | jq -r .Digest)
rm -rf "$KILN_ROOT"
kiln_ok pull "$REGISTRY/from-skopeo:v2"
expect_eq "pull skopeo's push" "Digest: $SKOPEO_DIGEST
Status: Downloaded image for $REGISTRY/from-skopeo:v2
$REGISTRY/from-skopeo:v2" "$OUT"
kiln_ok images -q --no-trunc
expect_eq "skopeo image ID" "$ID" "$OUT"

# Errors name the reference.
run_kiln pull "$REGISTRY/nothere:latest"
expect_eq "pull unknown rc" 1 "$RC"
expect_eq "pull unknown" "error: manifest unknown (404)
while fetching manifest latest
while pulling $REGISTRY/nothere:latest" "$ERR"
run_kiln push "$REGISTRY/notlocal:latest"
expect_eq "push unknown rc" 1 "$RC"
expect_eq "push unknown" "error: no such image: \"$REGISTRY/notlocal:latest\"" "$ERR"
