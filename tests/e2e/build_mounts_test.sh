#!/bin/bash
# RUN --mount (bind from the context and from a stage, rw writes discarded,
# cache persisting across builds with id sharing, tmpfs), RUN --network,
# and clean layers: a layer holds exactly what its step changed, never
# mount points, /proc, /dev, /etc/hosts or secrets residue.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX/sub"
echo ctxfile >"$CTX/c.txt"
echo subfile >"$CTX/sub/s.txt"
echo s3cr3t-value >"$WORK/secret.txt"
ctx_state() { (cd "$CTX" && find . -printf '%p %s %y\n' | sort && cat c.txt); }
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM busybox AS src
RUN mkdir /s && echo fromstage > /s/f

FROM busybox
RUN --mount=type=bind,target=/ctx cat /ctx/c.txt && if (echo x > /ctx/new) 2>/dev/null; then echo writable; else echo read-only; fi
RUN --mount=type=bind,source=sub,target=/sub,rw echo junk > /sub/new && cat /sub/s.txt /sub/new
RUN --mount=type=bind,from=src,source=/s,target=/st cat /st/f
RUN --mount=type=bind,from=src,source=/s,target=/st,rw echo junk > /st/f && cat /st/f
RUN --mount=type=cache,target=/cache echo x >> /cache/log && echo "cache lines: $(wc -l < /cache/log)"
RUN --mount=type=cache,id=shared,target=/c2 echo y >> /c2/log
RUN --mount=type=cache,id=shared,target=/c3,sharing=locked echo "shared lines: $(wc -l < /c3/log)"
RUN --mount=type=tmpfs,target=/t grep -c ' /t tmpfs ' /proc/mounts && touch /t/x
RUN --network=none ls /sys/class/net
RUN --mount=type=secret,id=tok,target=/run/secrets/tok cat /run/secrets/tok > /dev/null && echo used-secret > /with-secret
RUN echo kept > /kept && mkdir -p /var/data && echo v > /var/data/f
DOCKERFILE
BEFORE=$(ctx_state)

kiln_ok build --progress=plain --secret id=tok,src="$WORK/secret.txt" -t mounts \
  -o "type=local,dest=$WORK/out" "$CTX"
expect_eq "step output" '[stage-1 2/12] ctxfile
[stage-1 2/12] read-only
[stage-1 3/12] subfile
[stage-1 3/12] junk
[stage-1 4/12] fromstage
[stage-1 5/12] junk
[stage-1 6/12] cache lines: 1
[stage-1 8/12] shared lines: 1
[stage-1 9/12] 1
[stage-1 10/12] lo' "$(step_output "$ERR" | grep -v '/bin/sh: can')"
expect_eq "context untouched by rw bind" "$BEFORE" "$(ctx_state)"

# Mount targets and the steps' scratch never reach the image.
for p in ctx sub st cache c2 c3 t run/secrets/tok; do
  [ ! -e "$WORK/out/$p" ] || fail "/$p leaked into the image"
done
expect_eq "secret value nowhere in the files" "" "$(grep -r -a -l s3cr3t-value "$WORK/out" || true)"
expect_eq "secret value not in the config" "" "$(image_config mounts | grep -a s3cr3t-value || true)"
expect_eq "files written" "kept v" "$(cat "$WORK/out/kept" "$WORK/out/var/data/f" | tr '\n' ' ' | sed 's/ $//')"

# Layers: only what each step changed (the RUNs that wrote nothing made none).
expect_eq "layers" '== layer 1
with-secret
== layer 2
kept
var/
var/data/
var/data/f' "$(layer_listings mounts)"
expect_eq "history" 'RUN /bin/sh -c cat /ctx/c.txt && if (echo x > /ctx/new) 2>/dev/null; then echo writable; else echo read-only; fi # buildkit (empty)
RUN /bin/sh -c echo junk > /sub/new && cat /sub/s.txt /sub/new # buildkit (empty)
RUN /bin/sh -c cat /st/f # buildkit (empty)
RUN /bin/sh -c echo junk > /st/f && cat /st/f # buildkit (empty)
RUN /bin/sh -c echo x >> /cache/log && echo "cache lines: $(wc -l < /cache/log)" # buildkit (empty)
RUN /bin/sh -c echo y >> /c2/log # buildkit (empty)
RUN /bin/sh -c echo "shared lines: $(wc -l < /c3/log)" # buildkit (empty)
RUN /bin/sh -c grep -c '"'"' /t tmpfs '"'"' /proc/mounts && touch /t/x # buildkit (empty)
RUN /bin/sh -c ls /sys/class/net # buildkit (empty)
RUN /bin/sh -c cat /run/secrets/tok > /dev/null && echo used-secret > /with-secret # buildkit
RUN /bin/sh -c echo kept > /kept && mkdir -p /var/data && echo v > /var/data/f # buildkit' \
  "$(image_history mounts | sed 1d)"

# The cache mount persists across builds (--no-cache re-runs the steps).
kiln_ok build --progress=plain --no-cache --secret id=tok,src="$WORK/secret.txt" "$CTX"
expect_eq "cache mount persisted" '[stage-1 6/12] cache lines: 2
[stage-1 8/12] shared lines: 2' "$(step_output "$ERR" | grep 'lines:')"

# A step writing into /etc/hosts, /etc/resolv.conf or /dev keeps no trace of
# the runtime's mounts there, while its own files are kept.
printf 'FROM busybox\nRUN mkdir -p /etc/app && echo conf > /etc/app/conf && cat /etc/hosts > /dev/null\n' \
  >"$CTX/Dockerfile"
kiln_ok build -q -t clean "$CTX"
expect_eq "no runtime residue" '== layer 1
etc/
etc/app/
etc/app/conf' "$(layer_listings clean)"

# RUN --network=host sees the host's interfaces.
printf 'FROM busybox\nRUN --network=host ls /sys/class/net\n' >"$CTX/Dockerfile"
kiln_ok build --progress=plain "$CTX"
expect_eq "host network" "$(ls /sys/class/net | sed 's|^|[2/2] |')" "$(step_output "$ERR")"
echo PASS
