#!/bin/bash
# Hostile layers (crafted with python3's tarfile) are refused with a clear
# error when kiln unpacks them, nothing lands outside the target, and the
# store stays usable.
source "$(dirname "$0")/lib.sh"

GEN="python3 $KILN_SRC/tests/testdata/e2e/hostile_archive.py"
SENTINEL=$WORK/sentinel
mkdir -p "$SENTINEL"
echo victim >"$SENTINEL/victim"
cp /etc/passwd "$WORK/passwd.before"
sentinel_state() { (cd "$SENTINEL" && find . -printf '%p %s %y\n' | sort && cat victim); }
BEFORE=$(sentinel_state)

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
mkdir -p "$WORK/ctx"
echo added >"$WORK/ctx/f"

# unpack NAME: a build that must unpack image NAME (COPY onto it), then a
# flattening export of it.
unpack() {
  printf 'FROM %s\nCOPY f /f\n' "$1" >"$WORK/ctx/Dockerfile"
  run_kiln build -q --progress quiet -o "type=local,dest=$WORK/out-$1" "$WORK/ctx"
}

# Digests, the test's temp dir and the store's session names vary.
norm() { sed -E "s/sha256:[0-9a-f]{64}/sha256:X/g; s|$WORK|WORK|g; s|/tmp/[0-9a-f]{16}/snap-[0-9a-f]+|/tmp/S/snap-S|g; s|/work/[0-9a-f]{16}/[0-9a-f]{16}/|/work/S/S/|g"; }

check_case() { # KIND EXPECTED_ERROR
  local kind=$1 want=$2 name=hostile-$1
  $GEN "$kind" "$WORK/$name.tar" "$name" "$SENTINEL"
  # Loading stores the blobs as they are; unpacking is where layers are
  # checked.
  kiln_ok load -i "$WORK/$name.tar"
  expect_eq "load $kind" "Loaded image: $name:latest" "$OUT"
  unpack "$name"
  if [ -n "$want" ]; then
    expect_eq "$kind refused (rc)" 1 "$RC"
    expect_eq "$kind error" "$want" "$(echo "$ERR" | norm)"
  else
    [ "$RC" = 0 ] || fail "$kind: $ERR"
  fi
  expect_eq "$kind: sentinel untouched" "$BEFORE" "$(sentinel_state)"
  cmp -s /etc/passwd "$WORK/passwd.before" || fail "$kind: /etc/passwd changed"
  [ ! -e "/x" ] && [ ! -e "$WORK/dotdot" ] || fail "$kind: wrote outside"
  # The store still works.
  kiln_ok images -q
  kiln_ok import "$WORK/rootfs.tar" "after-$kind:1"
}

# refused KIND MESSAGE: the whole error of a build FROM hostile-KIND.
refused() {
  check_case "$1" "error: Dockerfile:1:1: layer sha256:X: $2
 1 | FROM hostile-$1
   | ^
while applying layer sha256:X to WORK/root/tmp/S/snap-S"
}
UP=../../../../../../../../..WORK/sentinel
refused dotdot "entry 1 \"$UP/dotdot\": path \"$UP/dotdot\" escapes the layer root"
refused symlink 'entry 2 "esc/through": parent "esc" is a symlink'
refused symlink_rel 'entry 2 "esc/through": parent "esc" is a symlink'
refused hardlink 'entry 1 "passwd": hard link target "/etc/passwd" not found'
refused hardlink_up "entry 1 \"x\": hard link target \"$UP/victim\" escapes the layer root"
refused whiteout "entry 1 \"$UP/.wh.victim\": path \"$UP/.wh.victim\" escapes the layer root"
refused hugesize 'entry 1 "huge": truncated data'
refused truncated 'entry 1 "big": truncated data'

# The same layers as rootfs tarballs for `kiln import`, which flattens
# (whiteouts applied, not kept): the other unpack path.
imported() { # KIND MESSAGE
  local d=$WORK/layer-$1
  mkdir -p "$d"
  tar -C "$d" -xf "$WORK/hostile-$1.tar"
  local m
  m=$(jq -r '.manifests[0].digest' "$d/index.json")
  cp "$d/blobs/sha256/$(jq -r '.layers[0].digest' "$d/blobs/sha256/${m#sha256:}" | cut -d: -f2)" "$WORK/layer-$1.tgz"
  run_kiln import "$WORK/layer-$1.tgz" "imported-$1:1"
  expect_eq "import $1 rc" 1 "$RC"
  expect_eq "import $1" "error: WORK/layer-$1.tgz: $2
while applying WORK/layer-$1.tgz to WORK/root/work/S/S/rootfs
while importing WORK/layer-$1.tgz" "$(echo "$ERR" | norm)"
  expect_eq "import $1: sentinel untouched" "$BEFORE" "$(sentinel_state)"
  cmp -s /etc/passwd "$WORK/passwd.before" || fail "import $1: /etc/passwd changed"
}
imported dotdot "entry 1 \"$UP/dotdot\": path \"$UP/dotdot\" escapes the layer root"
imported symlink 'entry 2 "esc/through": parent "esc" is a symlink'
imported hardlink 'entry 1 "passwd": hard link target "/etc/passwd" not found'
imported whiteout "entry 1 \"$UP/.wh.victim\": path \"$UP/.wh.victim\" escapes the layer root"
imported truncated 'entry 1 "big": truncated data'

# Hostile docker-archive manifests: paths out of the archive are refused
# at load time, before anything is stored.
python3 - "$WORK" "$SENTINEL" <<'PY'
import io, json, sys, tarfile
work, sentinel = sys.argv[1:3]
def put(tf, name, data=b""):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))
with tarfile.open(work + "/config-escape.tar", "w") as tf:
    put(tf, "manifest.json", json.dumps([{"Config": "../../../../etc/passwd", "RepoTags": ["h1:latest"], "Layers": []}]).encode())
with tarfile.open(work + "/layer-absolute.tar", "w") as tf:
    put(tf, "../../../../../../../.." + sentinel + "/outer", b"pwned")
    put(tf, "manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["h2:latest"], "Layers": ["/etc/passwd"]}]).encode())
    put(tf, "c.json", b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:' + b"0" * 64 + b'"]}}')
PY
run_kiln load -i "$WORK/config-escape.tar"
expect_eq "config escape rc" 1 "$RC"
expect_eq "config escape" "error: $WORK/config-escape.tar: manifest.json[0].Config: invalid path \"../../../../etc/passwd\": outside the archive
while loading $WORK/config-escape.tar" "$ERR"
run_kiln load -i "$WORK/layer-absolute.tar"
expect_eq "layer absolute rc" 1 "$RC"
expect_eq "layer absolute" "error: $WORK/layer-absolute.tar: manifest.json[0].Layers[0]: invalid path \"/etc/passwd\": outside the archive
while loading $WORK/layer-absolute.tar" "$ERR"
expect_eq "archives: sentinel untouched" "$BEFORE" "$(sentinel_state)"
kiln_ok images h1
expect_eq "nothing loaded" "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE" "$OUT"

# An absolute name is taken relative to the layer root, as docker does:
# accepted, and it lands inside.
check_case absolute ""
[ -f "$WORK/out-hostile-absolute$SENTINEL/absolute" ] || fail "absolute entry not under the output root"
expect_eq "absolute entry content" pwned "$(cat "$WORK/out-hostile-absolute$SENTINEL/absolute")"
# A harmless layer built the same way works.
check_case good ""
expect_eq "good layer" "hello
added" "$(cat "$WORK/out-hostile-good/bin/hello" "$WORK/out-hostile-good/f")"
# No failed unpack left staging directories behind.
expect_eq "store tmp/work after the next command" "" "$(find "$KILN_ROOT/tmp" "$KILN_ROOT/work" -mindepth 1)"
# Only the two accepted bases and their COPY layers became snapshots.
expect_eq "snapshots" 4 "$(find "$KILN_ROOT/snapshots" -mindepth 1 -maxdepth 1 | wc -l)"
