# Helpers for tests/e2e/build_*_test.sh, sourced after tests/e2e/lib.sh.

# import_busybox [NAME]: imports the busybox rootfs (scripts/make-busybox-rootfs.sh:
# static busybox, /etc/passwd with root, nobody and app=1000, /home/app) as
# NAME (default busybox:latest).
import_busybox() {
  [ -f "$WORK/busybox.tar" ] || bash "$KILN_SRC/scripts/make-busybox-rootfs.sh" "$WORK/busybox.tar"
  kiln_ok import "$WORK/busybox.tar" "${1:-busybox:latest}"
}

# registry_busybox: starts a registry and pushes the busybox base to it as
# $REGISTRY/busybox:latest, so every store building FROM it (fresh ones too)
# resolves the same manifest digest, which roots the cache keys.
registry_busybox() {
  start_registry
  import_busybox
  kiln_ok tag busybox "$REGISTRY/busybox:latest"
  kiln_ok push "$REGISTRY/busybox:latest"
}

# oci_unpack IMG DIR: `kiln save --format oci` of IMG, unpacked into DIR.
oci_unpack() {
  kiln_ok save --format oci -o "$WORK/.save.tar" "$1"
  rm -rf "$2" && mkdir -p "$2"
  tar -xf "$WORK/.save.tar" -C "$2"
  rm -f "$WORK/.save.tar"
}

# _blob DIR DIGEST: the path of a blob in an OCI layout.
_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }

# image_config IMG: the image's OCI config JSON.
image_config() {
  local d=$WORK/.cfg manifest
  oci_unpack "$1" "$d"
  manifest=$(_blob "$d" "$(jq -r '.manifests[0].digest' "$d/index.json")")
  cat "$(_blob "$d" "$(jq -r '.config.digest' "$manifest")")"
}

# image_history IMG: one line per history entry: created_by, then " (empty)"
# for empty_layer entries.
image_history() {
  image_config "$1" | jq -r '.history[] | .created_by + (if .empty_layer then " (empty)" else "" end)'
}

# layer_listings IMG [FIRST]: the sorted entry list of each layer from index
# FIRST (default 1, skipping the base), one "== layer N" header per layer.
layer_listings() {
  local d=$WORK/.layers manifest i=0
  oci_unpack "$1" "$d"
  manifest=$(_blob "$d" "$(jq -r '.manifests[0].digest' "$d/index.json")")
  for digest in $(jq -r '.layers[].digest' "$manifest"); do
    if [ "$i" -ge "${2:-1}" ]; then
      echo "== layer $i"
      tar -tf "$(_blob "$d" "$digest")" | sort
    fi
    i=$((i + 1))
  done
}

# tree DIR: every path under DIR with type, mode, owner and size (files), sorted.
tree() {
  (cd "$1" && find . -mindepth 1 -printf '%p %y %m %U:%G %s\n' | sed -E 's/^(.* d [0-7]+ [0-9]+:[0-9]+) [0-9]+$/\1/' | sort)
}

# kiln_run_base: /run/kiln/<store> for this test's store (build_command.cc).
kiln_run_base() { echo "/run/kiln/$(printf %s "$KILN_ROOT" | sha256sum | cut -c1-12)"; }

# step_output PLAIN_PROGRESS: every output line of a --progress=plain build
# as "[stage i/n] line", in step order (step numbers depend on scheduling,
# the bracketed names do not).
step_output() {
  echo "$1" | awk '
    /^#[0-9]+ \[/ { n = $1; sub(/^#[0-9]+ /, ""); sub(/\].*/, "]"); name[n] = $0; next }
    /^#[0-9]+ [0-9]+\.[0-9]+ / { n = $1; sub(/^#[0-9]+ [0-9]+\.[0-9]+ /, ""); print name[n] " " $0 }'
}

# step_states PLAIN_PROGRESS: "[stage i/n] DONE|CACHED|ERROR" per step, sorted.
step_states() {
  echo "$1" | awk '
    /^#[0-9]+ \[/ { n = $1; sub(/^#[0-9]+ /, ""); sub(/\].*/, "]"); name[n] = $0; next }
    /^#[0-9]+ (DONE|CACHED|ERROR)/ { s = $2; sub(/:$/, "", s); print name[$1] " " s }' | sort
}
