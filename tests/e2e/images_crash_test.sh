#!/bin/bash
# A kiln load killed with SIGKILL mid-way leaves a usable store: images
# works, the next load succeeds, and no temp files outlive the next command.
source "$(dirname "$0")/lib.sh"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
ID=$OUT

# A ~200 MB rootfs of random data, as a docker archive.
mkdir -p "$WORK/big/data"
for i in 1 2 3 4; do head -c 50M /dev/urandom >"$WORK/big/data/r$i"; done
tar --numeric-owner -C "$WORK/big" -cf "$WORK/big.tar" .
rm -rf "$WORK/big"
export KILN_ROOT=$WORK/bigroot
kiln_ok import "$WORK/big.tar" big:1
BIG=$OUT
kiln_ok save --format docker -o "$WORK/big-image.tar" big:1
rm -f "$WORK/big.tar"
export KILN_ROOT=$WORK/root
rm -rf "$WORK/bigroot"

for delay in 0.1 0.5 1.5; do
  "$KILN" load -i "$WORK/big-image.tar" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  status=0
  wait "$pid" 2>/dev/null || status=$?
  # The first kill must land mid-load, or this test proves nothing.
  [ "$delay" != 0.1 ] || expect_eq "load killed mid-way (exit status)" 137 "$status"
  kiln_ok images -q --no-trunc
  [[ "$OUT" == *"$ID"* ]] || fail "busybox is gone after a killed load: $OUT"
  leftovers=$(find "$KILN_ROOT/tmp" "$KILN_ROOT/work" -mindepth 1 2>/dev/null | wc -l)
  expect_eq "tmp leftovers after the next command (delay $delay)" 0 "$leftovers"
done

kiln_ok load -i "$WORK/big-image.tar"
expect_eq "load after kills" "Loaded image: big:1" "$OUT"
kiln_ok inspect big:1
expect_eq "big ID" "$BIG" "$(echo "$OUT" | jq -r '.[0].Id')"
kiln_ok import "$WORK/rootfs.tar" another:1
expect_eq "tmp after all" 0 "$(find "$KILN_ROOT/tmp" "$KILN_ROOT/work" -mindepth 1 2>/dev/null | wc -l)"
# A load from stdin killed mid-way: its spooled copy goes with the session.
"$KILN" load <"$WORK/big-image.tar" >/dev/null 2>&1 &
pid=$!
sleep 0.1
kill -9 "$pid"
status=0
wait "$pid" 2>/dev/null || status=$?
expect_eq "stdin load killed (exit status)" 137 "$status"
kiln_ok images -q
expect_eq "tmp after a killed stdin load" 0 "$(find "$KILN_ROOT/tmp" "$KILN_ROOT/work" -mindepth 1 2>/dev/null | wc -l)"
# Nothing was left in the system temp dir either.
expect_eq "no /tmp spool" "" "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'kiln-load-*' -newer "$WORK/big-image.tar" 2>/dev/null)"
