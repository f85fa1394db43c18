#!/bin/bash
# --cache-to mode=min against mode=max (issue #7). A builder stage makes a
# file the final stage copies, plus a step whose result the final image does
# not contain and an empty step (no layer, so only the stage's keys tell
# that it is not in the final image). A fresh store importing the mode=min
# cache re-runs the builder's steps (its results are not in the final image) and reuses every
# step of the final stage, so the image comes out the same; importing the
# mode=max cache reuses every step of both stages.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

registry_busybox

CTX=$WORK/ctx
mkdir -p "$CTX"
echo hello >"$CTX/a.txt"
# The builder's /built is the same whenever it runs, so the final stage's
# COPY --from (keyed by content) hits after the builder re-ran; every other
# RUN writes `date +%N`, so a re-run shows in the layers.
cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM $REGISTRY/busybox AS builder
RUN echo built >/built
RUN date +%N >/scratch-only
RUN true

FROM $REGISTRY/busybox
COPY a.txt /a.txt
RUN date +%N >/stamp
COPY --from=builder /built /built
DOCKERFILE

layers() { image_config "$1" | jq -c .rootfs.diff_ids; }
# cached_states PLAIN_PROGRESS: step_states without the FROM/internal lines.
cached_states() { step_states "$1" | grep -v -E -e '^\[internal\]' -e '(\[| )1/[0-9]+\] ' || true; }
records() {  # records REF: the number of records in the pushed cache config
  skopeo inspect --tls-verify=false --raw "docker://$1" >"$WORK/m.json"
  skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$WORK/oci-$2:c" >/dev/null
  jq '.records | length' "$(_blob "$WORK/oci-$2" "$(jq -r .config.digest "$WORK/m.json")")"
}

kiln_ok build --progress=plain -t app \
  --cache-to "type=registry,ref=$REGISTRY/cache/app:min,mode=min" \
  --cache-to "type=registry,ref=$REGISTRY/cache/app:default" "$CTX"
LAYERS=$(layers app)
expect_eq "first build runs everything" "[builder 2/4] DONE
[builder 3/4] DONE
[builder 4/4] DONE
[stage-1 2/4] DONE
[stage-1 3/4] DONE
[stage-1 4/4] DONE" "$(cached_states "$ERR")"

# mode=min (the default) holds the final stage's three steps, not the
# builder's empty `RUN true`; mode=max, exported by a rebuild that hits
# every step, all six.
expect_eq "min records" 3 "$(records "$REGISTRY/cache/app:min" min)"
expect_eq "default mode is min" 3 "$(records "$REGISTRY/cache/app:default" default)"
kiln_ok build --progress=plain -t app --cache-to "type=registry,ref=$REGISTRY/cache/app:max,mode=max" "$CTX"
expect_eq "max records" 6 "$(records "$REGISTRY/cache/app:max" max)"

export KILN_ROOT=$WORK/root-min
kiln_ok build --progress=plain -t app --cache-from "type=registry,ref=$REGISTRY/cache/app:min" "$CTX"
expect_eq "rebuild from mode=min" "[builder 2/4] DONE
[builder 3/4] DONE
[builder 4/4] DONE
[stage-1 2/4] CACHED
[stage-1 3/4] CACHED
[stage-1 4/4] CACHED" "$(cached_states "$ERR")"
expect_eq "layers from mode=min" "$LAYERS" "$(layers app)"

export KILN_ROOT=$WORK/root-max
kiln_ok build --progress=plain -t app --cache-from "type=registry,ref=$REGISTRY/cache/app:max" "$CTX"
expect_eq "rebuild from mode=max" "[builder 2/4] CACHED
[builder 3/4] CACHED
[builder 4/4] CACHED
[stage-1 2/4] CACHED
[stage-1 3/4] CACHED
[stage-1 4/4] CACHED" "$(cached_states "$ERR")"
expect_eq "layers from mode=max" "$LAYERS" "$(layers app)"
