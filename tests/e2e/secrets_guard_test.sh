#!/bin/bash
# Docker's blog example (examples/secret-file) and the leak guard around it,
# masking of secrets in plain and rawjson progress, and the errors for bad
# secret input (missing sources, size limit, required secrets, env names,
# --ssh sources).
source "$(dirname "$0")/lib.sh"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
LONG=$(head -c 48 /dev/urandom | base64 -w0)
printf '%s\n' "$LONG" >"$WORK/long.txt"

# --- The blog example: `foo` is below the masking threshold. ---
cp -r "$KILN_SRC/examples/secret-file" "$WORK/blog"
cd "$WORK/blog"
kiln_ok build --progress=plain --secret id=mysecret,src=mysecret.txt -t blog .
expect_eq "blog warning" ' 1 warning found:
 - SecretTooShortToMask: secret "mysecret" is shorter than 6 bytes; it will not be masked in output or searched for by the leak guard' \
  "$(echo "$ERR" | sed -n '/warning found:$/,/^ - /p')"
echo "$ERR" | grep -qE '^#5 \[4/4\] RUN diff /tmp/expected /tmp/actual$' || fail "no diff step in: $ERR"
echo "$ERR" | grep -qE '^#5 DONE [0-9.]+s$' || fail "the diff step did not pass: $ERR"

# The same Dockerfile with a long secret: stopped by the leak guard at the
# step that writes it to /tmp/actual. --no-cache: a secret's value is not part
# of the cache key, so a cached step would never be checked.
run_kiln build --no-cache --progress=plain --secret "id=mysecret,src=$WORK/long.txt" .
expect_eq "leak guard exit" "1" "$RC"
expect_eq "leak guard error" 'error: Dockerfile:3:1: secret leaked into the layer: secret "mysecret" found (raw) in content of tmp/actual
 3 | RUN --mount=type=secret,id=mysecret \
   | ^
hint: write secrets only to paths that are not kept, or pass --secret-leaks=warn if this is intended' \
  "$(echo "$ERR" | sed -n '/^error: /,$p')"
echo "$ERR" | grep -qF '#4 ERROR: secret leaked into the layer: secret "mysecret" found (raw) in content of tmp/actual' ||
  fail "no step error in: $ERR"
if echo "$ERR$OUT" | grep -qF "$LONG"; then fail "the secret is in kiln's output"; fi

# --secret-leaks=warn and off: the build goes on (the example's diff step is
# dropped: it compares against "foo").
head -n 4 Dockerfile >Dockerfile.long
run_kiln build --no-cache --progress=plain --secret-leaks=warn --secret "id=mysecret,src=$WORK/long.txt" \
  -f Dockerfile.long -t blog:warn .
[ "$RC" = 0 ] || fail "--secret-leaks=warn exited $RC: $ERR"
expect_eq "leak warning" ' 1 warning found:
 - SecretLeak: secret leaked into the layer: secret "mysecret" found (raw) in content of tmp/actual (Dockerfile.long:3)' \
  "$(echo "$ERR" | sed -n '/warning found:$/,/^ - /p')"
run_kiln build --no-cache --progress=plain --secret-leaks=off --secret "id=mysecret,src=$WORK/long.txt" \
  -f Dockerfile.long -t blog:off .
[ "$RC" = 0 ] || fail "--secret-leaks=off exited $RC: $ERR"
if echo "$ERR" | grep -q 'warning'; then fail "--secret-leaks=off warned: $ERR"; fi
# long.txt ends in a newline, which $(cat ...) strips: the copy is still found.
printf 'FROM busybox\nRUN --mount=type=secret,id=tok printf "v=%%s;" "$(cat /run/secrets/tok)" >/f\n' >Dockerfile.strip
run_kiln build --progress=plain --secret "id=tok,src=$WORK/long.txt" -f Dockerfile.strip .
expect_eq "stripped copy" '1 error: Dockerfile.strip:2:1: secret leaked into the layer: secret "tok" found (raw) in content of f' \
  "$RC $(echo "$ERR" | grep '^error: ')"
run_kiln build --secret-leaks=maybe .
expect_eq "bad --secret-leaks" "2 error: invalid --secret-leaks \"maybe\": want error, warn or off" "$RC $ERR"

# --- Masking: whole values, each line of a multi-line value, mid-line. ---
mkdir -p "$WORK/mask"
cd "$WORK/mask"
printf 'FROM busybox\nRUN --mount=type=secret,id=s cat /run/secrets/s\n' >Dockerfile
kiln_ok build --progress=plain --secret "id=s,src=$WORK/long.txt" .
expect_eq "plain masked output" "#3 ****" "$(echo "$ERR" | grep -E '^#3 [0-9.]+ ' | sed -E 's/^#3 [0-9.]+ /#3 /')"
kiln_ok build --no-cache --progress=rawjson --secret "id=s,src=$WORK/long.txt" .
expect_eq "rawjson masked output" '"****"' "$(echo "$ERR" | grep '^{' | jq -c 'select(.event == "output") | .data')"
printf 'abcdefgh1\nsecond-line-xyz\nyes\n' >multi.txt
cat >Dockerfile.multi <<'EOF'
FROM busybox
RUN --mount=type=secret,id=s sed -n 2p /run/secrets/s; echo -; sed -n 1p /run/secrets/s; \
    sed -n 3p /run/secrets/s; echo "in the middle: x$(sed -n 1p /run/secrets/s)y"; cat /run/secrets/s
EOF
kiln_ok build --progress=plain --secret id=s,src=multi.txt -f Dockerfile.multi .
# "yes" is under 6 bytes: not masked.
expect_eq "multi-line masked output" "****
-
****
yes
in the middle: x****y
****" "$(echo "$ERR" | grep -E '^#3 [0-9.]+ ' | sed -E 's/^#3 [0-9.]+ //')"
kiln_ok build --no-cache --progress=rawjson --secret id=s,src=multi.txt -f Dockerfile.multi .
expect_eq "multi-line rawjson output" "****
-
****
yes
in the middle: x****y
****" "$(echo "$ERR" | grep '^{' | jq -j 'select(.event == "output") | .data')"
if echo "$ERR" | grep -qE 'abcdefgh1|second-line-xyz'; then fail "a secret line is in the output: $ERR"; fi

# --- Bad input: every source is read before anything runs. ---
printf 'FROM busybox\nRUN touch /ran\n' >Dockerfile.plain
# The exact stderr shows nothing started (no progress lines).
bad_secret() { # bad_secret FLAG EXPECTED_RC EXPECTED_STDERR
  run_kiln build --progress=plain --secret "$1" -f Dockerfile.plain .
  expect_eq "--secret $1" "$2 $3" "$RC $ERR"
}
bad_secret id=x,src=nope.txt 1 'error: secret "x": file nope.txt: No such file or directory'
bad_secret id=x 1 'error: secret "x": neither env var x nor file x exists'
bad_secret id=gh,env=KILN_E2E_UNSET_VAR 1 'error: secret "gh": env var KILN_E2E_UNSET_VAR is not set'
bad_secret src=nope 1 'error: secret "nope": file nope: No such file or directory'
bad_secret id=a,sorce=b 2 'error: --secret "id=a,sorce=b": unexpected key "sorce" (did you mean "source"?)'
head -c 512001 /dev/zero | tr '\0' a >big.txt
bad_secret id=big,src=big.txt 1 'error: secret "big": file big.txt is 512001 bytes, over the 500 KiB limit'
head -c 512000 /dev/zero | tr '\0' a >limit.txt
kiln_ok build --progress=quiet --secret id=big,src=limit.txt -f Dockerfile.plain .

printf 'FROM busybox\nRUN true\nRUN --mount=type=secret,id=npm,required cat /run/secrets/npm\n' >Dockerfile.req
run_kiln build --progress=plain -f Dockerfile.req .
expect_eq "required secret" '1 error: Dockerfile.req:3:1: secret "npm" is required but was not provided
 3 | RUN --mount=type=secret,id=npm,required cat /run/secrets/npm
   | ^
hint: pass --secret id=npm,src=PATH' "$RC $(echo "$ERR" | sed -n '/^error: /,$p')"
# Another secret provided, but not this one: the same error.
run_kiln build --progress=plain --secret "id=other,src=$WORK/long.txt" -f Dockerfile.req .
expect_eq "required secret, others given" '1 error: Dockerfile.req:3:1: secret "npm" is required but was not provided' \
  "$RC $(echo "$ERR" | grep '^error: ')"

printf 'FROM busybox\nRUN --mount=type=secret,id=npm,env=1BAD true\n' >Dockerfile.env
run_kiln build --progress=plain --secret "id=npm,src=$WORK/long.txt" -f Dockerfile.env .
expect_eq "invalid env name" '1 error: Dockerfile.env:2:1: secret "npm": invalid env name "1BAD"' \
  "$RC $(echo "$ERR" | grep '^error: ')"

# --ssh sources are checked before the build too.
run_kiln build --progress=plain --ssh "default=$WORK/no-such.sock" -f Dockerfile.plain .
expect_eq "missing ssh socket" "1 error: ssh \"default\": $WORK/no-such.sock: No such file or directory" "$RC $ERR"
run_kiln build --progress=plain --ssh "k=$WORK/no-such-key,$WORK/long.txt" -f Dockerfile.plain .
expect_eq "missing ssh key" "1 error: ssh \"k\": $WORK/no-such-key: No such file or directory" "$RC $ERR"
run_kiln build --progress=plain --ssh "k=$WORK/long.txt" -f Dockerfile.plain .
expect_eq "not a key" "1 error: ssh \"k\": ssh key $WORK/long.txt: not a PEM private key OpenSSL can read" "$RC $ERR"
(unset SSH_AUTH_SOCK; run_kiln build --progress=plain --ssh default -f Dockerfile.plain .
 expect_eq "ssh without agent" '1 error: ssh "default": SSH_AUTH_SOCK is not set
hint: start ssh-agent, or pass --ssh ID=KEYFILE' "$RC $ERR")
echo PASS
