#!/bin/bash
# import -> save -> load -> save keeps manifest and config digests, for
# both archive formats, and a load into a fresh store gives the same ID.
source "$(dirname "$0")/lib.sh"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
ID=$OUT

# The manifest digest of an archive: OCI index.json, or for docker
# archives the config named in manifest.json (docker has no manifest).
archive_digests() { # FILE FORMAT
  local d
  d=$(mktemp -d "$WORK/x.XXXXXX")
  tar -C "$d" -xf "$1"
  if [ "$2" = oci ]; then
    jq -r '.manifests[0].digest' "$d/index.json"
    jq -r '.config.digest' "$d/blobs/sha256/$(jq -r '.manifests[0].digest' "$d/index.json" | cut -d: -f2)"
  else
    jq -r '.[0].Config' "$d/manifest.json"
    jq -r '.[0].Layers | join(",")' "$d/manifest.json"
  fi
  rm -rf "$d"
}

# save to stdout writes the same bytes as save -o.
kiln_ok save --format oci -o "$WORK/o.tar" busybox
"$KILN" save --format oci busybox >"$WORK/stdout.tar"
cmp "$WORK/stdout.tar" "$WORK/o.tar" || fail "save to stdout differs from save -o"

for format in oci docker; do
  kiln_ok save --format "$format" -o "$WORK/a-$format.tar" busybox
  expect_eq "save $format stdout" "" "$OUT"
  first=$(archive_digests "$WORK/a-$format.tar" "$format")

  # Load into a fresh store: same image ID, same name.
  export KILN_ROOT=$WORK/root-$format
  kiln_ok load -i "$WORK/a-$format.tar"
  expect_eq "load $format" "Loaded image: busybox:latest" "$OUT"
  kiln_ok images -q --no-trunc
  expect_eq "ID after $format load" "$ID" "$OUT"
  kiln_ok save --format "$format" -o "$WORK/b-$format.tar" busybox:latest
  second=$(archive_digests "$WORK/b-$format.tar" "$format")
  expect_eq "$format round trip digests" "$first" "$second"
  cmp "$WORK/a-$format.tar" "$WORK/b-$format.tar" || fail "$format archives differ after a round trip"

  # Load from stdin too, into the original store (already there: same output).
  export KILN_ROOT=$WORK/root
  run_kiln load <"$WORK/a-$format.tar"
  [ "$RC" = 0 ] || fail "load from stdin: $ERR"
  expect_eq "load $format from stdin" "Loaded image: busybox:latest" "$OUT"
  # Same ID, so still one image (no second record with the same ID).
  kiln_ok images -q --no-trunc
  expect_eq "one image after reloading $format" "$ID" "$OUT"
done
kiln_ok save --format oci -o "$WORK/after.tar" busybox
cmp "$WORK/after.tar" "$WORK/o.tar" || fail "reloading changed the stored image"
# Untagged images load with their ID.
kiln_ok save --format oci -o "$WORK/untagged.tar" "${ID:7:12}"
export KILN_ROOT=$WORK/root-untagged
kiln_ok load -i "$WORK/untagged.tar"
expect_eq "load untagged" "Loaded image ID: $ID" "$OUT"


# The OCI archive's manifest digest is the image's store identity.
expect_eq "oci config digest" "$ID" "$(archive_digests "$WORK/a-oci.tar" oci | sed -n 2p)"
expect_eq "docker config" "blobs/sha256/${ID:7}" "$(archive_digests "$WORK/a-docker.tar" docker | sed -n 1p)"

# Errors.
run_kiln load -i "$WORK/nope.tar"
expect_eq "load missing rc" 1 "$RC"
expect_eq "load missing" "error: stat $WORK/nope.tar: No such file or directory
while loading $WORK/nope.tar" "$ERR"
run_kiln save --format zip -o "$WORK/z.tar" busybox
expect_eq "save bad format rc" 2 "$RC"
expect_eq "save bad format" 'error: invalid --format "zip": want docker or oci' "$ERR"
run_kiln load </dev/null
expect_eq "load empty stdin rc" 2 "$RC"
expect_eq "load empty stdin" "error: requested load from stdin, but stdin is empty
hint: use kiln load -i FILE" "$ERR"
# A corrupted layer blob is refused by digest and no image is recorded.
mkdir "$WORK/corrupt"
tar -C "$WORK/corrupt" -xf "$WORK/o.tar"
layer=$(jq -r '.layers[0].digest' "$WORK/corrupt/blobs/sha256/$(jq -r '.manifests[0].digest' "$WORK/corrupt/index.json" | cut -d: -f2)")
printf 'X' | dd of="$WORK/corrupt/blobs/sha256/${layer#sha256:}" bs=1 seek=5000 conv=notrunc 2>/dev/null
actual=$(sha256sum "$WORK/corrupt/blobs/sha256/${layer#sha256:}" | cut -d' ' -f1)
tar -C "$WORK/corrupt" -cf "$WORK/corrupt.tar" oci-layout index.json blobs
export KILN_ROOT=$WORK/root-corrupt
run_kiln load -i "$WORK/corrupt.tar"
expect_eq "corrupt rc" 1 "$RC"
expect_eq "corrupt" "error: $WORK/corrupt.tar: blobs/sha256/${layer#sha256:}: digest mismatch: content is sha256:$actual
while loading $WORK/corrupt.tar" "$ERR"
kiln_ok images -q
expect_eq "no image from a corrupt archive" "" "$OUT"
