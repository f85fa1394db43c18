#!/bin/bash
# kiln's archives are read by skopeo and umoci, docker-archive layout is
# what `docker load` reads, and kiln loads what skopeo writes.
source "$(dirname "$0")/lib.sh"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
ID=$OUT

# OCI archive -> skopeo inspect, skopeo copy to an OCI layout, umoci unpack.
kiln_ok save --format oci -o "$WORK/bb-oci.tar" busybox
skopeo inspect --raw "oci-archive:$WORK/bb-oci.tar" >"$WORK/raw.json"
skopeo inspect --config "oci-archive:$WORK/bb-oci.tar" >"$WORK/config.json"
expect_eq "skopeo sees the config digest" "$ID" "$(jq -r '.config.digest' "$WORK/raw.json")"
expect_eq "skopeo config os" "linux amd64" "$(jq -r '.os + " " + .architecture' "$WORK/config.json")"
skopeo inspect "oci-archive:$WORK/bb-oci.tar" >"$WORK/inspect.json"
expect_eq "skopeo layer count" 1 "$(jq '.Layers | length' "$WORK/inspect.json")"
skopeo copy -q "oci-archive:$WORK/bb-oci.tar" "oci:$WORK/layout:bb" >/dev/null
umoci unpack --image "$WORK/layout:bb" "$WORK/bundle" >/dev/null
[ -x "$WORK/bundle/rootfs/bin/busybox" ] || fail "umoci's rootfs has no bin/busybox"
cmp /bin/busybox "$WORK/bundle/rootfs/bin/busybox" || fail "bin/busybox differs"
expect_eq "applet symlink" busybox "$(readlink "$WORK/bundle/rootfs/bin/sh")"
expect_eq "passwd" "root:x:0:0:root:/root:/bin/sh" "$(head -1 "$WORK/bundle/rootfs/etc/passwd")"

# Docker archive: manifest.json names a config and layers present in the tar.
kiln_ok save --format docker -o "$WORK/bb-docker.tar" busybox
mkdir "$WORK/docker"
tar -C "$WORK/docker" -xf "$WORK/bb-docker.tar"
m=$WORK/docker/manifest.json
expect_eq "RepoTags" '["busybox:latest"]' "$(jq -c '.[0].RepoTags' "$m")"
config=$(jq -r '.[0].Config' "$m")
[ -f "$WORK/docker/$config" ] || fail "config $config is not in the archive"
expect_eq "config is the image ID" "$ID" "sha256:$(sha256sum "$WORK/docker/$config" | cut -d' ' -f1)"
expect_eq "layer count" 1 "$(jq '.[0].Layers | length' "$m")"
for l in $(jq -r '.[0].Layers[]' "$m"); do
  [ -f "$WORK/docker/$l" ] || fail "layer $l is not in the archive"
  tar -tf "$WORK/docker/$l" | grep -x 'bin/busybox' >/dev/null || fail "layer $l has no bin/busybox"
done
# docker's loader also reads the legacy repositories file (name -> top layer).
top=$(jq -r '.[0].Layers[-1]' "$m")
expect_eq "repositories" "{\"busybox\":{\"latest\":\"${top##*/}\"}}" "$(jq -c . "$WORK/docker/repositories")"
# skopeo reads it as a docker-archive too.
skopeo inspect --config "docker-archive:$WORK/bb-docker.tar" >/dev/null

# kiln loads what skopeo writes: docker-archive and oci-archive.
skopeo copy -q "oci:$WORK/layout:bb" "docker-archive:$WORK/from-skopeo-docker.tar:skopeo/bb:d1" >/dev/null
skopeo copy -q "oci:$WORK/layout:bb" "oci-archive:$WORK/from-skopeo-oci.tar:skopeo/bb:o1" >/dev/null
export KILN_ROOT=$WORK/root2
kiln_ok load -i "$WORK/from-skopeo-docker.tar"
expect_eq "load skopeo docker-archive" "Loaded image: skopeo/bb:d1" "$OUT"
kiln_ok load -i "$WORK/from-skopeo-oci.tar"
expect_eq "load skopeo oci-archive" "Loaded image: skopeo/bb:o1" "$OUT"
kiln_ok inspect skopeo/bb:d1 skopeo/bb:o1
expect_eq "same image ID" "$ID $ID" "$(echo "$OUT" | jq -r '[.[].Id] | join(" ")')"
# An OCI layout directory loads too.
kiln_ok load -i "$WORK/layout"
# Its ref.name is a bare tag with no image name: loaded untagged, as docker does.
expect_eq "load layout dir" "Loaded image ID: $ID" "$OUT"
