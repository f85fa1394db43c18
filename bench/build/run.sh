#!/usr/bin/env bash
# Build-engine benchmark: measures kiln against the build engine's targets on
# this machine and prints a table "target | measured | verdict".
#
#   KILN=/work/build-bench/kiln bench/build/run.sh [TARGET...]
#
# TARGETs (default: all): noop runtrue copy parallel rss
#   noop      no-op rebuild of a 30-instruction Dockerfile, all cached   <= 50 ms
#   runtrue   cost of one `RUN true` step (5-RUN build minus 0-RUN build, both
#             --no-cache, divided by 5) vs a bare `runc run` of true      <= 1.5x
#   copy      COPY . /app of a 300 MiB / 20,000-file context, cold store,
#             vs `tar -C CTX -c . | sha256sum`                             <= 2x
#             and the rebuild after one small file changed                <= 0.5 s
#   parallel  three independent stages of ~1.5 s CPU each                 <= 1.15 x 2.25 s
#             (the 2.25 s is 1.5 x the measured CPU time of one stage)
#   rss       peak RSS of kiln building the 300 MiB context (cold)        <= 100 MiB
#
# Where a Docker engine answers `docker info`, noop, runtrue, copy and parallel
# are also built with its BuildKit (DOCKER_BUILDKIT=1, --network=host, the same
# Dockerfiles, contexts and busybox base, imported as busybox:latest), and the
# table shows kiln's time as a ratio to BuildKit's (issue #4). Without one
# those columns say n/a. Setup: DEVELOPERS.md.
#
# Environment: KILN (default /work/build-bench/kiln), WORK (scratch, default
# /tmp/kiln-bench-build; the generated contexts are kept there between runs),
# RUNS (hyperfine runs per series, default 5), DOCKER (default docker: a client
# that builds with BuildKit, e.g. Debian's docker.io; a CLI >= 23 needs the
# buildx plugin) and DOCKER_HOST. Needs root, runc, hyperfine, busybox-static,
# python3, /usr/bin/time. Contexts are generated, never committed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
KILN=${KILN:-/work/build-bench/kiln}
W=${WORK:-/tmp/kiln-bench-build}
RUNS=${RUNS:-5}
DOCKER=${DOCKER:-docker}
targets=${*:-noop runtrue copy parallel rss}
[ -x "$KILN" ] || { echo "bench/build: kiln binary $KILN not found (set KILN=)" >&2; exit 2; }
for t in hyperfine runc python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench/build: $t is needed" >&2; exit 2; }
done
mkdir -p "$W/json" "$W/logs" "$W/df"
res=$W/results.tsv
: >"$res"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$W/meta.txt"

# record KEY VALUE: one measured number (seconds, KiB or a ratio) for the table.
record() { printf '%s\t%s\n' "$1" "$2" >>"$res"; }

# median NAME: the median wall time in seconds of series NAME.
median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$W/json/$1.json"; }
# cpu NAME: the mean CPU time (user + sys, children included) in seconds of
# series NAME; less disturbed by other load on the machine than wall time.
cpu() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["user"] + r["system"])' "$W/json/$1.json"; }

# series NAME RUNS WARMUP PREPARE CMD: one hyperfine series. CMD is run once
# beforehand with its output kept in logs/NAME.log, so a failing build shows its
# error instead of a bare hyperfine abort. PREPARE may be empty.
series() {
  local name=$1 runs=$2 warm=$3 prep=$4 cmd=$5
  [ -n "$prep" ] && bash -c "$prep"
  if ! bash -c "$cmd" >"$W/logs/$name.log" 2>&1; then
    echo "bench/build: $name FAILED: $cmd" >&2
    tail -n 15 "$W/logs/$name.log" >&2
    record "$name" FAIL
    return 1
  fi
  local args=(--runs "$runs" --warmup "$warm" --export-json "$W/json/$name.json" -n "$name")
  [ -n "$prep" ] && args+=(--prepare "$prep")
  hyperfine "${args[@]}" "$cmd" >>"$W/logs/hyperfine.log" 2>&1 || { record "$name" FAIL; return 1; }
  record "$name" "$(median "$name")"
  record "${name}_cpu" "$(cpu "$name")"
}

# --- fixtures ----------------------------------------------------------------
if [ ! -f "$W/bb.tar" ]; then "$repo/scripts/make-busybox-rootfs.sh" "$W/bb.tar"; fi
# Re-imported on every run: the store is the binary's under test.
rm -rf "$W/root-template"
"$KILN" --root "$W/root-template" import "$W/bb.tar" busybox:latest >/dev/null
# fresh_root DIR: an empty kiln store holding only the busybox base image.
# The old store is renamed into trash/ and deleted after the timing: on a
# filesystem mounted with online discard deleting 40,000 files takes minutes.
mkdir -p "$W/trash"
fresh_root() { if [ -e "$1" ]; then mv "$1" "$W/trash/$(date +%s%N)"; fi; cp -a "$W/root-template" "$1"; }
reset_cmd() { echo "mv $1 $W/trash/\$(date +%s%N) 2>/dev/null; cp -a $W/root-template $1 && sync"; }
for kind in small big; do
  if [ ! -f "$W/ctx-$kind.done" ]; then
    rm -rf "$W/ctx-$kind"
    echo "generating the $kind context..."
    python3 "$here/gen_context.py" "$kind" "$W/ctx-$kind"
    touch "$W/ctx-$kind.done"
  fi
done
S=$W/ctx-small B=$W/ctx-big

# The 30-instruction Dockerfile (after FROM): ARG, ENV, LABEL, WORKDIR, COPY, RUN.
cat >"$W/df/steps30" <<'DF'
FROM busybox:latest
ARG APP_VERSION=1.2.3
ARG FLAVOR=release
ENV APP_HOME=/opt/app
ENV APP_VERSION=${APP_VERSION}
LABEL org.opencontainers.image.title="steps30"
LABEL org.opencontainers.image.version="${APP_VERSION}"
WORKDIR ${APP_HOME}
COPY files/a.txt ./
RUN cat a.txt > combined.txt
ENV STAGE=one
COPY files/b.txt ./
RUN cat b.txt >> combined.txt && test "$STAGE" = one
WORKDIR ${APP_HOME}/conf
COPY files/conf/ ./
RUN ls -1 *.conf > listing.txt && test "$(wc -l < listing.txt)" -eq 5
ARG EXTRA=none
ENV EXTRA=${EXTRA}
RUN echo "flavor=${FLAVOR} extra=${EXTRA}" > build.env
LABEL stage="two"
COPY files/c.txt ${APP_HOME}/
RUN wc -c < ${APP_HOME}/c.txt > ${APP_HOME}/c.size
WORKDIR /
RUN mkdir -p /data && echo ok > /data/status
ENV PATH=${APP_HOME}/bin:${PATH}
USER root
RUN echo hello > /data/hello.out
WORKDIR ${APP_HOME}
RUN sha256sum combined.txt conf/*.conf > sums.txt
COPY files/d.txt ./
RUN ls -la > final-listing.txt
DF
printf 'FROM busybox:latest\nENV X=1\n' >"$W/df/run0"
{ echo 'FROM busybox:latest'; for i in 1 2 3 4 5; do echo "RUN true # $i"; done; } >"$W/df/run5"
printf 'FROM busybox:latest\nCOPY . /app\n' >"$W/df/copy"

k() { echo "$KILN --root $1 build --progress=plain"; }

# --- BuildKit ------------------------------------------------------------------
# bk is set when the engine answers and a probe build works. Its images carry
# the label kiln.bench so the untagged ones are removed at the end.
bk=""
if command -v "$DOCKER" >/dev/null && "$DOCKER" info >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=1
  # The layer's diff id is the digest of the uncompressed tar, so this imports
  # only when busybox:latest is not bb.tar already.
  if [ "$("$DOCKER" image inspect -f '{{index .RootFS.Layers 0}}' busybox:latest 2>/dev/null)" != \
       "sha256:$(sha256sum <"$W/bb.tar" | cut -d' ' -f1)" ]; then
    "$DOCKER" import "$W/bb.tar" busybox:latest >/dev/null
  fi
  printf 'FROM busybox:latest\nRUN true\n' >"$W/df/probe"
  if "$DOCKER" build --network=host --progress=plain --label kiln.bench=1 --no-cache -f "$W/df/probe" "$S" \
      >"$W/logs/buildkit-probe.log" 2>&1; then
    bk=1
    echo "BuildKit: Docker engine $("$DOCKER" version -f '{{.Server.Version}}') through $DOCKER" | tee -a "$W/meta.txt"
  else
    echo "bench/build: $DOCKER answers but cannot build with BuildKit, so its columns say n/a:" >&2
    tail -n 5 "$W/logs/buildkit-probe.log" >&2
  fi
fi
d() { echo "$DOCKER build --network=host --progress=plain --label kiln.bench=1"; }

# --- no-op rebuild -----------------------------------------------------------
if [[ " $targets " == *" noop "* ]]; then
  fresh_root "$W/root-noop"
  series noop "$((RUNS * 4))" 2 "" "$(k "$W/root-noop") -t bench/steps30 -f $W/df/steps30 $S" || true
  [ -z "$bk" ] || series bk_noop "$((RUNS * 4))" 2 "" "$(d) -t bench/steps30 -f $W/df/steps30 $S" || true
fi

# --- RUN true vs bare runc ---------------------------------------------------
if [[ " $targets " == *" runtrue "* ]]; then
  rf=$W/runc/rootfs
  if [ ! -d "$rf/bin" ]; then
    mkdir -p "$rf" && tar -C "$rf" -xf "$W/bb.tar"
    (cd "$W/runc" && rm -f config.json && runc spec)
    python3 - "$W/runc/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": "rootfs", "readonly": True}
json.dump(c, open(sys.argv[1], "w"))
PY
  fi
  series runc_bare "$((RUNS * 6))" 3 "" "runc --root $W/runc-state run --bundle $W/runc bench-bare" || true
  fresh_root "$W/root-run"
  series run0 "$((RUNS * 3))" 1 "" "$(k "$W/root-run") --no-cache -f $W/df/run0 $S" || true
  series run5 "$((RUNS * 3))" 1 "" "$(k "$W/root-run") --no-cache -f $W/df/run5 $S" || true
  if [ -n "$bk" ]; then
    series bk_run0 "$((RUNS * 3))" 1 "" "$(d) --no-cache -f $W/df/run0 $S" || true
    series bk_run5 "$((RUNS * 3))" 1 "" "$(d) --no-cache -f $W/df/run5 $S" || true
  fi
fi

# --- COPY . of 300 MiB / 20,000 files ------------------------------------------
edit_file=src/d07/s03/f07342.txt
if [[ " $targets " == *" copy "* ]]; then
  series tar_sha "$RUNS" 1 "" "tar -C $B -c . | sha256sum" || true
  # Moved aside, not deleted: deleting 20,000 files just before a run slows
  # ext4's inode allocation in the next one.
  series cp_ref "$RUNS" 0 "mv $W/cp-ref $W/trash/\$(date +%s%N) 2>/dev/null; sync" "cp -a $B $W/cp-ref" || true
  series copy_cold "$RUNS" 0 "$(reset_cmd "$W/root-copy")" \
    "$(k "$W/root-copy") -t bench/copy -f $W/df/copy $B" || true
  series copy_warm "$RUNS" 1 "" "$(k "$W/root-copy") -t bench/copy -f $W/df/copy $B" || true
  cp -p "$B/$edit_file" "$W/edit-orig"
  edit="printf 'edit %s\n' \$(date +%s%N) > $B/$edit_file && sync"
  series copy_edit "$RUNS" 1 "$edit" "$(k "$W/root-copy") -t bench/copy -f $W/df/copy $B" || true
  cp -p "$W/edit-orig" "$B/$edit_file"
  if [ -n "$bk" ]; then
    # Cold: no build cache (the context's synced copy included) and no image.
    series bk_copy_cold "$RUNS" 0 \
      "$DOCKER rmi -f bench/copy >/dev/null 2>&1; $DOCKER builder prune -af >/dev/null && sync" \
      "$(d) -t bench/copy -f $W/df/copy $B" || true
    series bk_copy_warm "$RUNS" 1 "" "$(d) -t bench/copy -f $W/df/copy $B" || true
    series bk_copy_edit "$RUNS" 1 "$edit" "$(d) -t bench/copy -f $W/df/copy $B" || true
    cp -p "$W/edit-orig" "$B/$edit_file"
  fi
fi

# --- three parallel stages ------------------------------------------------------
# shellcheck disable=SC2016 # the $ in single quotes are for the build's shell
if [[ " $targets " == *" parallel "* ]]; then
  # Calibrate: SPIN iterations of a busybox shell loop take ~1.5 s of CPU.
  loop='i=0; while [ $i -lt $0 ]; do i=$((i+1)); done'
  cal=$( { /usr/bin/time -f '%U %S' busybox sh -c "$loop" 300000 >/dev/null; } 2>&1 | awk '{print $1 + $2}')
  spin=$(python3 -c "print(int(300000 * 1.5 / max($cal, 0.01)))")
  stage=$( { /usr/bin/time -f '%U %S' busybox sh -c "$loop" "$spin" >/dev/null; } 2>&1 | awk '{print $1 + $2}')
  record spin "$spin"
  record stage_cpu "$stage"
  { echo 'ARG SPIN=1'
    for s in a b c; do
      printf 'FROM busybox:latest AS stage-%s\nARG SPIN\n' "$s"
      printf 'RUN i=0 && while [ $i -lt $SPIN ]; do i=$((i+1)); done && echo "%s $i" > /out-%s\n' "$s" "$s"
    done
    echo 'FROM busybox:latest'
    for s in a b c; do echo "COPY --from=stage-$s /out-$s /res/"; done
  } >"$W/df/par3"
  { echo 'ARG SPIN=1'
    printf 'FROM busybox:latest AS stage-a\nARG SPIN\n'
    printf 'RUN i=0 && while [ $i -lt $SPIN ]; do i=$((i+1)); done && echo "a $i" > /out-a\n'
    echo 'FROM busybox:latest'
    echo 'COPY --from=stage-a /out-a /res/'
  } >"$W/df/par1"
  fresh_root "$W/root-par"
  series par1 "$RUNS" 0 "" "$(k "$W/root-par") --no-cache --build-arg SPIN=$spin -f $W/df/par1 $S" || true
  series par3 "$RUNS" 0 "" "$(k "$W/root-par") --no-cache --build-arg SPIN=$spin -f $W/df/par3 $S" || true
  [ -z "$bk" ] || series bk_par3 "$RUNS" 0 "" "$(d) --no-cache --build-arg SPIN=$spin -f $W/df/par3 $S" || true
fi

# --- peak RSS -------------------------------------------------------------------
# shellcheck disable=SC2046 # k's command line is split into words on purpose
if [[ " $targets " == *" rss "* ]]; then
  fresh_root "$W/root-rss"
  if /usr/bin/time -o "$W/rss.txt" -f %M $(k "$W/root-rss") -t bench/copy -f "$W/df/copy" "$B" >"$W/logs/rss.log" 2>&1; then
    record rss_cold_kib "$(tail -n1 "$W/rss.txt")"
  else
    record rss_cold_kib FAIL; tail -n 15 "$W/logs/rss.log" >&2
  fi
  if /usr/bin/time -o "$W/rss.txt" -f %M $(k "$W/root-rss") -t bench/copy -f "$W/df/copy" "$B" >>"$W/logs/rss.log" 2>&1; then
    record rss_warm_kib "$(tail -n1 "$W/rss.txt")"
  fi
fi

if [ -n "$bk" ]; then
  # The 300 MiB image and the build cache of every edit would stay in the engine.
  "$DOCKER" rmi -f bench/copy >/dev/null 2>&1 || true
  "$DOCKER" image prune -f --filter label=kiln.bench=1 >/dev/null || true
  "$DOCKER" builder prune -af >/dev/null || true
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$W/meta.txt"
python3 "$here/table.py" "$res"
rm -rf "$W/trash"
