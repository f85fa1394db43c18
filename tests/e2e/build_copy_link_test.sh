#!/bin/bash
# COPY of a directory to where the image has nothing yet is written straight
# into the step's upper dir. Built again after an edit, the files that did
# not change (same content digest, same metadata) are hard links into the
# previous build's snapshot, the others are copied, and the layer is
# byte-for-byte the one a fresh store builds.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
mkdir -p "$WORK/ctx/sub"
echo alpha >"$WORK/ctx/a.txt"
echo beta >"$WORK/ctx/sub/b.txt"
echo gamma >"$WORK/ctx/c.txt"
head -c 3000000 /dev/urandom >"$WORK/ctx/big.bin"
ln "$WORK/ctx/a.txt" "$WORK/ctx/a-link.txt"
ln -s sub/b.txt "$WORK/ctx/b-symlink"
chmod 644 "$WORK"/ctx/*.txt "$WORK/ctx/sub/b.txt" "$WORK/ctx/big.bin"
touch -h -d '2024-01-02 03:04:05' "$WORK"/ctx/* "$WORK/ctx/sub/b.txt"
printf 'FROM busybox:latest\nCOPY . /app/\n' >"$WORK/Dockerfile"
# Digests are remembered only for files whose ctime is not too recent
# (store/hash_cache.h, racy_window_ns).
sleep 2.5

kiln_ok build -q -t v1 -f "$WORK/Dockerfile" "$WORK/ctx"
echo BETA >"$WORK/ctx/sub/b.txt"     # new content
chmod 600 "$WORK/ctx/c.txt"          # same content, other mode
touch -d '2024-01-02 03:04:05' "$WORK/ctx/sub/b.txt"
kiln_ok build -q -t v2 -f "$WORK/Dockerfile" "$WORK/ctx"

# The two COPY snapshots: the directories holding app/a.txt.
snaps=()
for s in "$KILN_ROOT"/snapshots/*/; do [ -e "$s/app/a.txt" ] && snaps+=("$s"); done
expect_eq "COPY snapshots" 2 "${#snaps[@]}"
same() { [ "$(stat -c %i "${snaps[0]}/app/$1")" = "$(stat -c %i "${snaps[1]}/app/$1")" ] && echo linked || echo copied; }
expect_eq "what was linked" "a.txt linked
a-link.txt linked
big.bin linked
sub/b.txt copied
c.txt copied" "$(for f in a.txt a-link.txt big.bin sub/b.txt c.txt; do echo "$f $(same "$f")"; done)"

# The image is what it must be...
kiln_ok build -q -t v2 -f "$WORK/Dockerfile" -o "type=local,dest=$WORK/out" "$WORK/ctx"
expect_eq "edited file" BETA "$(cat "$WORK/out/app/sub/b.txt")"
expect_eq "tree" "./a-link.txt f 644 0:0 6
./a.txt f 644 0:0 6
./b-symlink l 777 0:0 9
./big.bin f 644 0:0 3000000
./c.txt f 600 0:0 6
./sub d 755 0:0
./sub/b.txt f 644 0:0 5" "$(tree "$WORK/out/app")"
cmp "$WORK/ctx/big.bin" "$WORK/out/app/big.bin"
# ...and its COPY layer is the one a store that never saw v1 builds (but
# for the mtime of /app, which COPY creates at build time, as BuildKit does).
copy_layer() {
  kiln_ok save -o "$WORK/s.tar" v2
  rm -rf "$WORK/s" && mkdir "$WORK/s" && tar -xf "$WORK/s.tar" -C "$WORK/s"
  for b in "$WORK"/s/blobs/sha256/*; do
    if tar -tf "$b" 2>/dev/null | grep -x app/a.txt >/dev/null; then
      tar --full-time -tvf "$b" | grep -v ' app/$'
      tar -xOf "$b" app/big.bin app/sub/b.txt app/c.txt | sha256sum
    fi
  done
}
linked=$(copy_layer)
expect_eq "layers" 1 "$(echo "$linked" | grep -c 'app/big.bin')"
export KILN_ROOT=$WORK/root-fresh
import_busybox
kiln_ok build -q -t v2 -f "$WORK/Dockerfile" "$WORK/ctx"
expect_eq "COPY layer of a fresh build" "$linked" "$(copy_layer)"

# `WORKDIR /srv/app` then `COPY . .`: the directory exists but is empty,
# which is the same case (it is copied up first).
printf 'FROM busybox:latest\nWORKDIR /srv/app\nCOPY . .\n' >"$WORK/Dockerfile.wd"
kiln_ok build -q -t wd -f "$WORK/Dockerfile.wd" "$WORK/ctx"
echo 'beta 3' >"$WORK/ctx/sub/b.txt"
kiln_ok build -q -t wd -f "$WORK/Dockerfile.wd" -o "type=local,dest=$WORK/out-wd" "$WORK/ctx"
expect_eq "edited file under WORKDIR" "beta 3" "$(cat "$WORK/out-wd/srv/app/sub/b.txt")"
snaps=()
for s in "$KILN_ROOT"/snapshots/*/; do [ -e "$s/srv/app/a.txt" ] && snaps+=("$s"); done
expect_eq "COPY snapshots under WORKDIR" 2 "${#snaps[@]}"
expect_eq "linked under WORKDIR" "$(stat -c %i "${snaps[0]}/srv/app/big.bin")" "$(stat -c %i "${snaps[1]}/srv/app/big.bin")"
expect_eq "COPY layer under WORKDIR" "srv/
srv/app/
srv/app/a-link.txt
srv/app/a.txt
srv/app/b-symlink
srv/app/big.bin
srv/app/c.txt
srv/app/sub/
srv/app/sub/b.txt" "$(layer_listings wd 2 | grep -v '^==')"

# The same with a relative --root (kiln once compared the merged dir's
# relative path with the kernel's absolute one and fell back to overlayfs).
rel() { (cd "$WORK" && "$KILN" --root rel-root "$@") >"$WORK/rel.log" 2>&1 || fail "kiln --root rel-root $*: $(cat "$WORK/rel.log")"; }
rel import "$WORK/busybox.tar" busybox:latest
rel build -q -t r -f "$WORK/Dockerfile" "$WORK/ctx"
echo 'beta 4' >"$WORK/ctx/sub/b.txt"
rel build -q -t r -f "$WORK/Dockerfile" "$WORK/ctx"
snaps=()
for s in "$WORK"/rel-root/snapshots/*/; do [ -e "$s/app/a.txt" ] && snaps+=("$s"); done
expect_eq "COPY snapshots, relative --root" 2 "${#snaps[@]}"
expect_eq "linked, relative --root" "$(stat -c %i "${snaps[0]}/app/big.bin")" "$(stat -c %i "${snaps[1]}/app/big.bin")"
# RUN too (runc and overlayfs need absolute upper and work dirs).
printf 'FROM busybox:latest\nRUN echo ran > /ran\n' >"$WORK/Dockerfile.run"
rel build -q -t run -f "$WORK/Dockerfile.run" -o "type=local,dest=$WORK/out-run" "$WORK/ctx"
expect_eq "RUN with a relative --root" ran "$(cat "$WORK/out-run/ran")"

# kiln's digest xattr stays out of the layer.
kiln_ok save -o "$WORK/v2.tar" v2
mkdir "$WORK/v2" && tar -xf "$WORK/v2.tar" -C "$WORK/v2"
for l in "$WORK"/v2/blobs/sha256/*; do
  if grep -aq 'trusted.kiln' "$l"; then fail "blob $l mentions trusted.kiln"; fi
done
echo PASS
