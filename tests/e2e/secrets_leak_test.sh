#!/bin/bash
# The secrets leak suite: many builds with long random secrets (file and env
# sources, every mount option, a non-root user, multi-stage, cache hits, a
# failing step that prints the secret, SIGINT and kill -9 while a secret is
# mounted), then every byte under $KILN_ROOT (layer blobs decompressed),
# every output (-o oci/local/tar), kiln's stdout and stderr and /run/kiln
# are searched for the secrets in raw, hex and base64 (3 alignments) form.
# Any hit fails. After each build /proc/mounts must hold no secret tmpfs.
source "$(dirname "$0")/lib.sh"
SCAN="python3 $(cd "$(dirname "$0")" && pwd)/secrets_scan.py"

# 48 random bytes, base64'd: 64 bytes no other file can contain by chance.
S1=$(head -c 48 /dev/urandom | base64 -w0)
S2=$(head -c 48 /dev/urandom | base64 -w0)
S3=$(head -c 48 /dev/urandom | base64 -w0)
printf '%s\n%s\n%s\n' "$S1" "$S2" "$S3" >"$WORK/secrets.list"
mkdir -p "$WORK/secrets"
printf '%s' "$S1" >"$WORK/secrets/s1"
export TOKEN_FROM_ENV=$S2
# s3 is multi-line: each line on its own is masked too.
printf 'line-one-%s\n%s\n' "${S3:0:20}" "${S3:20}" >"$WORK/secrets/s3"
printf '%s\n%s\n' "line-one-${S3:0:20}" "${S3:20}" >>"$WORK/secrets.list"
SUM1=$(printf '%s' "$S1" | sha256sum | cut -c1-64)
SUM2=$(printf '%s' "$S2" | sha256sum | cut -c1-64)
SECRET_FLAGS=(--secret "id=s1,src=$WORK/secrets/s1" --secret id=s2,env=TOKEN_FROM_ENV
  --secret "id=s3,src=$WORK/secrets/s3")
RUNDIR=/run/kiln/$(printf '%s' "$KILN_ROOT" | sha256sum | cut -c1-12)
LOGS=$WORK/logs
mkdir -p "$LOGS"

# Mounts under this test's directories or this store's run dir (where its
# secret tmpfs live); other tests' stores may hold secret mounts meanwhile.
secret_mounts() { grep -E " ($WORK|$RUNDIR)[/ ]" /proc/mounts || true; }
expect_no_mounts() { expect_eq "mounts left after $1" "" "$(secret_mounts)"; }
# build NAME ARGS...: kiln build, keeping stdout/stderr in $LOGS/NAME.{out,err}.
n_builds=0
build() {
  local name=$1
  shift
  run_kiln build --progress=plain "${SECRET_FLAGS[@]}" "$@"
  printf '%s' "$OUT" >"$LOGS/$name.out"
  printf '%s' "$ERR" >"$LOGS/$name.err"
  n_builds=$((n_builds + 1))
  expect_no_mounts "$name"
}

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest

# --- 1. Every mount option, file and env sources, USER app, multi-stage. ---
mkdir -p "$WORK/ctx" "$WORK/out"
cat >"$WORK/ctx/Dockerfile" <<'EOF'
FROM busybox AS base
RUN --mount=type=secret,id=s1 wc -c </run/secrets/s1 >/len1 && sha256sum /run/secrets/s1 | cut -c1-64 >/sum1
RUN --mount=type=secret,id=s1,target=/etc/app/token,mode=0440,uid=1000,gid=1000 \
    stat -c '%a %u %g' /etc/app/token >/stat1 && sha256sum /etc/app/token | cut -c1-64 >/sum1b
RUN --mount=type=secret,id=s2,env=TOKEN,required=true \
    printf '%s' "$TOKEN" | sha256sum | cut -c1-64 >/sum2 && test ! -e /run/secrets/s2
RUN --mount=type=secret,id=s2,dst=/run/s2file,env=TOK2,required \
    test "$(cat /run/s2file)" = "$TOK2" && echo both >/both
RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo skipped >/absent
RUN --mount=type=secret,id=s3 cat /run/secrets/s3 | wc -l >/lines3
RUN mkdir -p /home/app && chown app:app /home/app
USER app
RUN --mount=type=secret,id=s1,uid=1000,mode=0400 id -u >/home/app/uid && \
    sha256sum /run/secrets/s1 | cut -c1-64 >/home/app/sum1
RUN --mount=type=secret,id=s1 if cat /run/secrets/s1 >/dev/null 2>&1; then echo readable; else echo denied; fi >/home/app/denied
FROM busybox
COPY --from=base /len1 /sum1 /stat1 /sum1b /sum2 /both /absent /lines3 /home/app/uid /home/app/sum1 /home/app/denied /out/
RUN --mount=type=secret,id=s1,target=relative/tok cat /relative/tok >/dev/null && echo ok >/out/relative
RUN if test -e /run/secrets || test -e /etc/app || test -e /relative; then echo residue; else echo none; fi >/out/residue
EOF
build first -t leak:1 -o "type=oci,dest=$WORK/out/oci.tar" -o "type=local,dest=$WORK/out/local" \
  -o "type=tar,dest=$WORK/out/rootfs.tar" "$WORK/ctx"
[ "$RC" = 0 ] || fail "first build exited $RC: $ERR"
expect_eq "values seen in the steps" "64
$SUM1
440 1000 1000
$SUM1
$SUM2
both
skipped
2
1000
$SUM1
denied
ok" "$(cd "$WORK/out/local/out" && cat len1 sum1 stat1 sum1b sum2 both absent lines3 uid sum1 denied relative)"
# No /run/secrets residue in the image (mount points are not committed).
expect_eq "mount points seen by a later stage" "none" "$(cat "$WORK/out/local/out/residue")"
[ ! -e "$WORK/out/local/run/secrets" ] || fail "/run/secrets exists in the local output"
[ ! -e "$WORK/out/local/etc/app" ] || fail "/etc/app (a secret target) exists in the local output"
[ ! -e "$WORK/out/local/relative" ] || fail "/relative (a secret target) exists in the local output"
if tar -tf "$WORK/out/rootfs.tar" | grep -E '^(\./)?(run/secrets|etc/app|relative)(/|$)'; then
  fail "secret mount points in the tar output"
fi

# --- 2. The same build again: every step is a cache hit. ---
build cached -t leak:2 "$WORK/ctx"
[ "$RC" = 0 ] || fail "cached build exited $RC: $ERR"
n_cached=$(grep -c ' CACHED$' "$LOGS/cached.err" || true)
expect_eq "cached steps" "12" "$n_cached"
# A rotated secret does not re-run the steps (BuildKit's default).
printf '%s' "$S3" >"$WORK/secrets/s1-rotated"
run_kiln build --progress=plain --secret "id=s1,src=$WORK/secrets/s1-rotated" --secret id=s2,env=TOKEN_FROM_ENV \
  --secret "id=s3,src=$WORK/secrets/s3" -t leak:3 "$WORK/ctx"
[ "$RC" = 0 ] || fail "rotated build exited $RC: $ERR"
printf '%s' "$ERR" >"$LOGS/rotated.err"
expect_eq "cached steps with a rotated secret" "12" "$(grep -c ' CACHED$' "$LOGS/rotated.err" || true)"

# --- 3. A step prints the secrets, then fails: the output shows ****. ---
mkdir -p "$WORK/fail"
cat >"$WORK/fail/Dockerfile" <<'EOF'
FROM busybox
RUN --mount=type=secret,id=s1 --mount=type=secret,id=s2,env=TOKEN --mount=type=secret,id=s3 \
    cat /run/secrets/s1; echo; echo "token=$TOKEN"; echo "first=$(sed -n 1p /run/secrets/s3)"; \
    echo "second=$(sed -n 2p /run/secrets/s3)"; sleep 0.1; echo "to stderr: $TOKEN" >&2; exit 3
EOF
build fail "$WORK/fail"
expect_eq "failing step exit" "1" "$RC"
for line in '\*\*\*\*' 'token=\*\*\*\*' 'first=\*\*\*\*' 'second=\*\*\*\*' 'to stderr: \*\*\*\*'; do
  grep -qE "^#3 [0-9.]+ $line\$" "$LOGS/fail.err" || fail "no masked line $line in: $ERR"
done
expect_eq "hint lines" "  ****
  token=****
  first=****
  second=****
  to stderr: ****" "$(sed -n '/^hint: last output lines:$/,$p' "$LOGS/fail.err" | tail -n +2)"
grep -qF 'Dockerfile:2' "$LOGS/fail.err" || fail "error does not name Dockerfile:2: $ERR"
grep -qF 'exit code: 3' "$LOGS/fail.err" || fail "error does not give the exit code: $ERR"
# The same with rawjson progress.
run_kiln build --progress=rawjson "${SECRET_FLAGS[@]}" "$WORK/fail"
printf '%s' "$OUT" >"$LOGS/fail-json.out"
printf '%s' "$ERR" >"$LOGS/fail-json.err"
expect_eq "rawjson failing step exit" "1" "$RC"
grep -qF '****' "$LOGS/fail-json.err" || fail "no **** in rawjson output: $ERR"
expect_no_mounts "rawjson failure"

# --- 4. SIGINT and kill -9 while the secret is mounted. ---
mkdir -p "$WORK/slow"
# A sleep no other process on the machine runs.
SLEEP=$((100000 + RANDOM))
cat >"$WORK/slow/Dockerfile" <<EOF
FROM busybox
RUN --mount=type=secret,id=s1 --mount=type=secret,id=s2,env=TOKEN sleep $SLEEP
EOF
# wait_for_secret_mount: until the step's secret tmpfs is mounted.
wait_for_secret_mount() {
  for _ in $(seq 200); do
    grep -qE " $RUNDIR/[^ ]*/secrets-[0-9a-f]+ tmpfs " /proc/mounts && pgrep -fx "sleep $SLEEP" >/dev/null && return 0
    sleep 0.05
  done
  fail "the secret tmpfs was never mounted"
}
"$KILN" build --progress=plain "${SECRET_FLAGS[@]}" "$WORK/slow" >"$LOGS/sigint.out" 2>"$LOGS/sigint.err" &
pid=$!
wait_for_secret_mount
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
expect_eq "exit status after SIGINT" "130" "$rc"
expect_no_mounts "SIGINT"
expect_eq "/run/kiln after SIGINT" "" "$(ls -A "$RUNDIR")"

"$KILN" build --progress=plain "${SECRET_FLAGS[@]}" "$WORK/slow" >"$LOGS/kill9.out" 2>"$LOGS/kill9.err" &
pid=$!
wait_for_secret_mount
kill -9 $pid
wait $pid 2>/dev/null || true
# The next build cleans up what the dead one left: its container, the
# secret tmpfs and its run directory.
build after-kill9 -t leak:4 "$WORK/ctx"
[ "$RC" = 0 ] || fail "build after kill -9 exited $RC: $ERR"
expect_eq "/run/kiln after the cleanup" "" "$(ls -A "$RUNDIR")"
if pgrep -fx "sleep $SLEEP" >/dev/null; then fail "the killed build's step still runs"; fi

# --- 5. Save, then scan everything. ---
kiln_ok save -o "$WORK/out/saved.tar" leak:1
kiln_ok inspect leak:1
printf '%s' "$OUT" >"$LOGS/inspect.out"
kiln_ok history --no-trunc leak:1
printf '%s' "$OUT" >"$LOGS/history.out"
grep -qF 'RUN /bin/sh -c cat /relative/tok' "$LOGS/history.out" || fail "history lacks the RUN steps: $OUT"
set +e
report=$($SCAN "$WORK/secrets.list" "$KILN_ROOT" "$WORK/out" "$LOGS" "$RUNDIR")
rc=$?
set -e
[ "$rc" = 0 ] || fail "secrets found: $report"
# The scan read the layers: a few hundred files, not an empty tree. (Built
# layers are snapshot directories in the store; only saved ones also have a
# blob file, so this store holds about 200.)
n=$(echo "$report" | sed -n 's/^scanned \([0-9]*\) files$/\1/p')
[ "$n" -gt 150 ] || fail "scanned only $n files"

# The scanner itself finds a secret that is there (a layer written with the
# leak guard off, in the store and in an OCI archive; built layers are
# stored uncompressed, pulled ones may be gzip).
mkdir -p "$WORK/bad"
printf 'FROM busybox\nRUN --mount=type=secret,id=s1 cp /run/secrets/s1 /baked\n' >"$WORK/bad/Dockerfile"
build bad --secret-leaks=off -t baked -o "type=oci,dest=$WORK/bad.tar" "$WORK/bad"
[ "$RC" = 0 ] || fail "--secret-leaks=off build exited $RC: $ERR"
set +e
report=$($SCAN "$WORK/secrets.list" "$WORK/bad.tar")
rc=$?
set -e
expect_eq "scanner on a baked secret" "1" "$rc"
echo "$report" | grep -qE '^HIT .*/bad.tar!blobs/sha256/[0-9a-f]{64}(!gunzip)?!baked: secret#0 raw$' ||
  fail "scanner did not find the baked secret in the OCI layer: $report"
echo PASS
