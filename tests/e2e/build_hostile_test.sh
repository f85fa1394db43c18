#!/bin/bash
# A base image whose layer plants symlinks out of the root (/tmp/x -> /etc,
# /work -> a host sentinel dir, /up -> ../../..<sentinel>): WORKDIR, COPY
# and RUN mounts through them stay inside the image; nothing on the host
# changes.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

SENTINEL=$WORK/sentinel
mkdir -p "$SENTINEL" "$WORK/ctx"
echo victim >"$SENTINEL/victim"
sentinel_state() { (cd "$SENTINEL" && find . -printf '%p %s %y %m\n' | sort && cat victim); }
BEFORE=$(sentinel_state)

bash "$KILN_SRC/scripts/make-busybox-rootfs.sh" "$WORK/busybox.tar"
python3 "$KILN_SRC/tests/testdata/build/symlink_image.py" "$WORK/hostile.tar" hostile:1 "$WORK/busybox.tar" "$SENTINEL"
kiln_ok load -i "$WORK/hostile.tar"
expect_eq "load" "Loaded image: hostile:1" "$OUT"

echo payload >"$WORK/ctx/f"
cat >"$WORK/ctx/Dockerfile" <<'DOCKERFILE'
FROM hostile:1
WORKDIR /work/sub
COPY f /tmp/x/kiln-hostile-f
COPY f /up/f2
COPY f relative-f
RUN --mount=type=cache,target=/tmp/x/kiln-hostile-c touch /tmp/x/kiln-hostile-c/in-cache
RUN --mount=type=cache,target=/work/c2 touch /work/c2/in-cache
RUN --mount=type=tmpfs,target=/up/t touch /up/t/in-tmpfs
RUN --mount=type=bind,target=/work/b true
RUN echo from-run > /work/run-file && ls /tmp/x/kiln-hostile-f /up/f2 /work/sub/relative-f
DOCKERFILE
kiln_ok build --progress=plain -t built "$WORK/ctx"
expect_eq "the image saw its own paths" "[10/10] /tmp/x/kiln-hostile-f
[10/10] /up/f2
[10/10] /work/sub/relative-f" "$(step_output "$ERR")"
expect_eq "sentinel untouched" "$BEFORE" "$(sentinel_state)"
# (Only kiln's own names: other processes may change /etc meanwhile.)
[ ! -e /etc/kiln-hostile-f ] && [ ! -e /etc/kiln-hostile-c ] || fail "wrote into the host's /etc"

# The writes landed inside the image, under the symlinks' in-image targets.
kiln_ok build -q -o "type=local,dest=$WORK/out" "$WORK/ctx"
expect_eq "sentinel untouched by export" "$BEFORE" "$(sentinel_state)"
expect_eq "in-image files" "payload
payload
payload
from-run" "$(cat "$WORK/out/etc/kiln-hostile-f" "$WORK/out/$SENTINEL/f2" "$WORK/out/$SENTINEL/sub/relative-f" \
  "$WORK/out/$SENTINEL/run-file")"
# A stage that symlinks a bind source to an absolute path: the mount shows
# that path inside the stage, never the host directory of the same name.
mkdir -p "$WORK/ctx2"
cat >"$WORK/ctx2/Dockerfile" <<'DOCKERFILE'
FROM hostile:1 AS src
ARG SENTINEL
RUN mkdir -p "$SENTINEL" && echo in-image > "$SENTINEL/inside" && ln -s "$SENTINEL" /s
FROM hostile:1
RUN --mount=type=bind,from=src,source=/s,target=/x ls /x
RUN --mount=type=bind,from=src,source=/s,target=/x,rw touch /x/written
DOCKERFILE
kiln_ok build --progress=plain --build-arg SENTINEL="$SENTINEL" "$WORK/ctx2"
expect_eq "bind source symlink resolved in the stage" "[stage-1 2/3] inside" "$(step_output "$ERR")"
expect_eq "sentinel untouched by bind mounts" "$BEFORE" "$(sentinel_state)"
echo PASS
