#!/bin/bash
# Interrupting kiln build: SIGINT during a RUN exits 130 and leaves no
# mounts and no runc containers behind; after kill -9 the next build
# cleans up the dead build's run directory, container and mounts.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX"
printf 'FROM busybox\nRUN echo started && sleep 30\n' >"$CTX/Dockerfile"
RUN_BASE=$(kiln_run_base)

# kiln_mounts: mounts under this test's store or run directory.
kiln_mounts() { grep -E " ($KILN_ROOT|$RUN_BASE)[/ ]" /proc/mounts || true; }
# containers: runc containers in this store's run directories.
containers() {
  for d in "$RUN_BASE"/*/runc; do
    [ -d "$d" ] && runc --root "$d" list -q
  done
  true
}
# wait_started LOG: waits until the RUN printed "started".
wait_started() {
  for _ in $(seq 150); do
    grep -q ' started$' "$1" && return 0
    sleep 0.1
  done
  fail "the RUN did not start: $(cat "$1")"
}

# SIGINT.
"$KILN" build --progress=plain "$CTX" >"$WORK/int.out" 2>&1 &
PID=$!
wait_started "$WORK/int.out"
[ -n "$(containers)" ] || fail "no container while the RUN runs"
kill -INT $PID
START=$(date +%s)
set +e
wait $PID
RC=$?
set -e
expect_eq "SIGINT exit status" 130 "$RC"
[ $(($(date +%s) - START)) -lt 10 ] || fail "SIGINT took too long"
expect_eq "SIGINT error" 'error: Dockerfile:2:1: interrupted
 2 | RUN echo started && sleep 30
   | ^' "$(sed -n '/^error:/,$p' "$WORK/int.out" | grep -v '^while running step kiln-[0-9a-f]*$')"
expect_eq "no mounts after SIGINT" "" "$(kiln_mounts)"
expect_eq "no containers after SIGINT" "" "$(containers)"
expect_eq "no run dirs after SIGINT" "" "$(ls "$RUN_BASE")"

# The next build works (and the interrupted step was not cached).
printf 'FROM busybox\nRUN echo started && sleep 0.1\n' >"$CTX/Dockerfile"
kiln_ok build --progress=plain "$CTX"
expect_eq "build after SIGINT" "[2/2] DONE" "$(step_states "$ERR" | grep 2/2)"

# kill -9: the dead build leaves its run dir, container and mounts; the
# next build removes them.
printf 'FROM busybox\nRUN echo started && sleep 30\n' >"$CTX/Dockerfile"
"$KILN" build --progress=plain "$CTX" >"$WORK/kill.out" 2>&1 &
PID=$!
wait_started "$WORK/kill.out"
kill -9 $PID
wait $PID 2>/dev/null || true
STALE=$(ls "$RUN_BASE")
[ -n "$STALE" ] || fail "kill -9 left no run dir to clean"
[ -n "$(containers)" ] || fail "kill -9 left no container to clean"
printf 'FROM busybox\nRUN echo after-kill\n' >"$CTX/Dockerfile"
kiln_ok build --progress=plain "$CTX"
expect_eq "build after kill -9" "[2/2] after-kill" "$(step_output "$ERR")"
expect_eq "stale run dir removed" "" "$(ls "$RUN_BASE")"
expect_eq "no containers after kill -9 cleanup" "" "$(containers)"
expect_eq "no mounts after kill -9 cleanup" "" "$(kiln_mounts)"
echo PASS
