#!/bin/bash
# The opt-in change-aware secret cache (issue #5): with
# `--secret id=ID,src=FILE,cache=value` a RUN that mounts the secret reruns
# when its value changes and is a cache hit while it does not; without
# `cache=value` the value never affects the cache (BuildKit's behaviour).
# The HMAC key stays in the store (<root>/secrets/cache.key, 0600): neither
# the values nor the key reach any other file of the store, the image or an
# exported cache, and an exported cache imported into another store cannot
# hit the secret's step.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX"
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM busybox
RUN echo independent > /independent
RUN --mount=type=secret,id=npm echo "installed with a $(wc -c < /run/secrets/npm)-byte token" > /installed && cat /installed
DOCKERFILE
V1=npm-token-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
V2=npm-token-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s' "$V1" >"$WORK/token.txt"

# build LABEL ARGS...: a plain-progress build; $STATES holds the RUN steps' states.
build() {
  kiln_ok build --progress=plain "$@" "$CTX"
  STATES=$(step_states "$ERR" | grep -e '2/3' -e '3/3' | tr '\n' ' ' | sed 's/ $//')
}

build --secret "id=npm,src=$WORK/token.txt,cache=value"
expect_eq "first build" "[2/3] DONE [3/3] DONE" "$STATES"
[ "$(stat -c %a "$KILN_ROOT/secrets/cache.key")" = 600 ] || fail "cache.key mode $(stat -c %a "$KILN_ROOT/secrets/cache.key")"
expect_eq "key size" 32 "$(stat -c %s "$KILN_ROOT/secrets/cache.key")"

build --secret "id=npm,src=$WORK/token.txt,cache=value"
expect_eq "same value: cache hit" "[2/3] CACHED [3/3] CACHED" "$STATES"

printf '%s' "$V2" >"$WORK/token.txt"
build --secret "id=npm,src=$WORK/token.txt,cache=value" -t secretcache -o "type=local,dest=$WORK/out" \
  --cache-to "type=local,dest=$WORK/cache,mode=max"
expect_eq "changed value: the secret's step reruns" "[2/3] CACHED [3/3] DONE" "$STATES"

printf '%s' "$V1" >"$WORK/token.txt"
build --secret "id=npm,src=$WORK/token.txt,cache=value"
expect_eq "first value again: its result is still cached" "[2/3] CACHED [3/3] CACHED" "$STATES"

# Default (no cache=value): the value stays out of the key, so once built,
# a changed value is a hit.
build --secret "id=npm,src=$WORK/token.txt"
expect_eq "default mode builds its own key" "[2/3] CACHED [3/3] DONE" "$STATES"
printf '%s' "$V2" >"$WORK/token.txt"
build --secret "id=npm,src=$WORK/token.txt"
expect_eq "default mode ignores the value" "[2/3] CACHED [3/3] CACHED" "$STATES"

# Another store (another HMAC key) importing the exported cache: the plain
# step hits, the secret's step cannot.
KEY_COPY=$WORK/cache.key
cp "$KILN_ROOT/secrets/cache.key" "$KEY_COPY"
kiln_ok save --format oci -o "$WORK/busybox-saved.tar" busybox:latest  # keeps the manifest digest
export KILN_ROOT=$WORK/root2
kiln_ok load -i "$WORK/busybox-saved.tar"
build --secret "id=npm,src=$WORK/token.txt,cache=value" --cache-from "type=local,src=$WORK/cache"
expect_eq "imported cache" "[2/3] CACHED [3/3] DONE" "$STATES"
cmp -s "$KEY_COPY" "$KILN_ROOT/secrets/cache.key" && fail "two stores share a cache key"

# Nothing outside the key file holds the values or the key.
printf '%s\n%s\n' "$V1" "$V2" >"$WORK/values.list"
set +e
report=$(python3 "$KILN_SRC/tests/e2e/secrets_scan.py" "$WORK/values.list" "$WORK/root" "$WORK/root2" "$WORK/out" "$WORK/cache")
rc=$?
set -e
[ "$rc" = 0 ] || fail "secret values found: $report"
python3 - "$KEY_COPY" "$WORK/root" "$WORK/root2" "$WORK/out" "$WORK/cache" <<'PY' || fail "the HMAC key leaked"
import base64, os, sys
key = open(sys.argv[1], "rb").read()
forms = [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key)[:40]]
bad = False
for top in sys.argv[2:]:
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            if p.endswith("/secrets/cache.key") or os.path.islink(p):
                continue
            data = open(p, "rb").read()
            if any(x in data for x in forms):
                print("key found in", p)
                bad = True
sys.exit(1 if bad else 0)
PY

run_kiln build --progress=quiet --secret "id=npm,src=$WORK/token.txt,cache=always" "$CTX"
expect_eq "bad cache mode exit" 2 "$RC"
expect_eq "bad cache mode" "error: --secret \"id=npm,src=$WORK/token.txt,cache=always\": invalid cache=always: want cache=id or cache=value" "$ERR"

echo PASS
