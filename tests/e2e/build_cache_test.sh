#!/bin/bash
# The build cache: a rebuild is all CACHED and runs no container; changing
# one COPYed file re-runs that step and the later ones; touch keeps the
# cache; --no-cache re-runs everything; two concurrent builds of the same
# Dockerfile on one store both succeed and run each step once. Multi-stage:
# --target builds only what it needs, independent stages run in parallel.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX"
echo a >"$CTX/a.txt"
echo b >"$CTX/b.txt"
# Every RUN that really runs appends its name to a file in a cache mount,
# which survives builds: the log counts container runs.
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM busybox
RUN --mount=type=cache,id=runs,target=/runs echo first >> /runs/log && echo first > /first
COPY a.txt /a.txt
RUN --mount=type=cache,id=runs,target=/runs echo copy-a >> /runs/log && cat /a.txt > /copy-of-a
COPY b.txt /b.txt
RUN --mount=type=cache,id=runs,target=/runs echo copy-b >> /runs/log && cat /b.txt > /copy-of-b
DOCKERFILE
printf 'FROM busybox\nRUN --mount=type=cache,id=runs,target=/runs cat /runs/log && : > /runs/log\n' >"$WORK/Dockerfile.log"
# runs: the RUNs that ran since the last call (read with a build that
# always runs, then truncated).
runs() {
  kiln_ok build --progress=plain --no-cache -f "$WORK/Dockerfile.log" "$CTX"
  step_output "$ERR" | sed 's/^\[2\/2\] //' | tr '\n' ' ' | sed 's/ $//'
}

kiln_ok build --progress=plain -t c1 "$CTX"
expect_eq "first build" '[1/6] DONE
[2/6] DONE
[3/6] DONE
[4/6] DONE
[5/6] DONE
[6/6] DONE
[internal] DONE' "$(step_states "$ERR")"
expect_eq "first build runs" "first copy-a copy-b" "$(runs)"

kiln_ok build --progress=plain -t c2 "$CTX"
expect_eq "rebuild all cached" '[1/6] DONE
[2/6] CACHED
[3/6] CACHED
[4/6] CACHED
[5/6] CACHED
[6/6] CACHED
[internal] DONE' "$(step_states "$ERR")"
expect_eq "rebuild runs nothing" "" "$(runs)"
expect_eq "same layers" "$(image_config c1 | jq -c .rootfs)" "$(image_config c2 | jq -c .rootfs)"

# Changing b.txt: its COPY and the later RUN re-run, the rest is cached.
echo B >"$CTX/b.txt"
kiln_ok build --progress=plain -o "type=local,dest=$WORK/out" "$CTX"
expect_eq "content change" '[1/6] DONE
[2/6] CACHED
[3/6] CACHED
[4/6] CACHED
[5/6] DONE
[6/6] DONE
[internal] DONE' "$(step_states "$ERR")"
expect_eq "content change runs" "copy-b" "$(runs)"
expect_eq "new content" "B" "$(cat "$WORK/out/copy-of-b")"

# touch changes mtimes only: the cache key covers content.
touch -d '2001-01-01' "$CTX/a.txt" "$CTX/b.txt"
kiln_ok build --progress=plain "$CTX"
expect_eq "touch keeps the cache" "" "$(step_states "$ERR" | grep -v CACHED | grep -v '\[1/6\]\|internal')"
expect_eq "touch runs nothing" "" "$(runs)"

# A mode change is content.
chmod 600 "$CTX/a.txt"
kiln_ok build --progress=plain "$CTX"
expect_eq "chmod invalidates" '[3/6] DONE
[4/6] DONE
[5/6] DONE
[6/6] DONE' "$(step_states "$ERR" | grep DONE | grep -v '\[1/6\]\|internal')"
expect_eq "chmod runs" "copy-a copy-b" "$(runs)"

kiln_ok build --progress=plain --no-cache "$CTX"
expect_eq "--no-cache" "" "$(step_states "$ERR" | grep CACHED)"
expect_eq "--no-cache runs" "first copy-a copy-b" "$(runs)"

# Two concurrent builds of a new Dockerfile on one store: both succeed,
# produce the same image, and each RUN runs once in total.
cat >"$CTX/Dockerfile.par" <<'DOCKERFILE'
FROM busybox
RUN --mount=type=cache,id=runs,target=/runs echo slow >> /runs/log && sleep 1 && echo one > /one
RUN --mount=type=cache,id=runs,target=/runs echo fast >> /runs/log && echo two > /two
DOCKERFILE
"$KILN" build --progress=plain --iidfile "$WORK/iid1" -f "$CTX/Dockerfile.par" "$CTX" >"$WORK/b1.out" 2>&1 &
P1=$!
"$KILN" build --progress=plain --iidfile "$WORK/iid2" -f "$CTX/Dockerfile.par" "$CTX" >"$WORK/b2.out" 2>&1 &
P2=$!
wait $P1 || fail "concurrent build 1: $(cat "$WORK/b1.out")"
wait $P2 || fail "concurrent build 2: $(cat "$WORK/b2.out")"
expect_eq "concurrent runs" "slow fast" "$(runs)"
expect_eq "concurrent steps" '[1/3] DONE
[1/3] DONE
[2/3] CACHED
[2/3] DONE
[3/3] CACHED
[3/3] DONE
[internal] DONE
[internal] DONE' "$(step_states "$(cat "$WORK/b1.out" "$WORK/b2.out")")"
expect_eq "same layers from both" "$(image_config "$(cat "$WORK/iid1")" | jq -c .rootfs)" \
  "$(image_config "$(cat "$WORK/iid2")" | jq -c .rootfs)"

# Multi-stage: --target builds only the stages it needs; three independent
# stages that sleep 2 s each run in parallel (serially they take 6 s).
cat >"$CTX/Dockerfile.ms" <<'DOCKERFILE'
FROM busybox AS a
RUN sleep 2 && echo a > /a
FROM busybox AS b
RUN sleep 2 && echo b > /b
FROM busybox AS c
RUN sleep 2 && echo c > /c
FROM busybox AS unused
RUN echo never > /never
FROM busybox
COPY --from=a /a /from-a
COPY --from=b /b /from-b
COPY --from=c /c /from-c
DOCKERFILE
START=$(date +%s%N)
kiln_ok build --progress=plain -f "$CTX/Dockerfile.ms" -o "type=local,dest=$WORK/ms" "$CTX"
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
expect_eq "all needed stages" '[a 1/2] DONE
[a 2/2] DONE
[b 1/2] DONE
[b 2/2] DONE
[c 1/2] DONE
[c 2/2] DONE
[internal] DONE
[stage-4 1/4] DONE
[stage-4 2/4] DONE
[stage-4 3/4] DONE
[stage-4 4/4] DONE' "$(step_states "$ERR")"
[ "$ELAPSED_MS" -lt 5000 ] || fail "independent stages did not run in parallel: ${ELAPSED_MS} ms"
kiln_ok build --progress=plain --target b -f "$CTX/Dockerfile.ms" "$CTX"
expect_eq "--target b" '[b 1/2] DONE
[b 2/2] CACHED
[internal] DONE' "$(step_states "$ERR")"
expect_eq "COPY --from each stage" "a b c" "$(cat "$WORK/ms/from-a" "$WORK/ms/from-b" "$WORK/ms/from-c" | tr '\n' ' ' | sed 's/ $//')"
[ ! -e "$WORK/ms/never" ] || fail "unused stage leaked"
echo PASS
