#!/bin/bash
# kiln audit IMAGE|ARCHIVE --secret ...: finds a secret baked into a layer
# (naming the layer and the path), secret-looking ARG/ENV names, a build
# arg's value in the history, and passes on the clean examples, in the store
# and on `kiln save` archives.
source "$(dirname "$0")/lib.sh"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
LONG=$(head -c 48 /dev/urandom | base64 -w0)
# As `echo $TOKEN >file` writes it: with a newline at the end.
printf '%s\n' "$LONG" >"$WORK/long.txt"
mkdir -p "$WORK/ctx"
cd "$WORK/ctx"

# --- A secret written into a layer (the leak guard turned off). ---
printf 'FROM busybox\nRUN --mount=type=secret,id=s cp /run/secrets/s /baked\nRUN echo clean >/clean\n' >Dockerfile.bake
kiln_ok build -q --secret-leaks=off --secret "id=s,src=$WORK/long.txt" -f Dockerfile.bake -t baked .
run_kiln audit --secret "id=s,src=$WORK/long.txt" baked
expect_eq "audit exit" "1" "$RC"
[[ "$OUT" =~ ^layer\ (sha256:[0-9a-f]{64}):\ secret\ \"s\"\ found\ \(raw\)\ in\ content\ of\ baked$ ]] ||
  fail "audit output: $OUT"
LAYER=${BASH_REMATCH[1]}
expect_eq "audit stderr" 'error: baked: 1 finding
hint: rebuild without writing secrets into layers, ENV, ARG or labels' "$ERR"
# The named layer is the image's second layer (the RUN that copied it).
kiln_ok save -o "$WORK/baked.tar" baked
MANIFEST=$(tar -xOf "$WORK/baked.tar" index.json | jq -r '.manifests[0].digest')
expect_eq "layer named" "$LAYER" \
  "$(tar -xOf "$WORK/baked.tar" "blobs/sha256/${MANIFEST#sha256:}" | jq -r '.layers[1].digest')"
# The archive gives the same finding.
run_kiln audit --secret "id=s,src=$WORK/long.txt" "$WORK/baked.tar"
expect_eq "archive audit" "1
layer $LAYER: secret \"s\" found (raw) in content of baked
error: $WORK/baked.tar: 1 finding
hint: rebuild without writing secrets into layers, ENV, ARG or labels" "$RC
$OUT
$ERR"
# -q: nothing printed, the exit status tells.
run_kiln audit -q --secret "id=s,src=$WORK/long.txt" baked
expect_eq "quiet audit" "1 " "$RC $OUT"
# Without the secret there is nothing to find.
run_kiln audit baked
expect_eq "audit without secrets" "0 baked: no secrets found (0 secrets checked, plus secret-looking ARG/ENV names)" \
  "$RC $OUT"
# The secret base64'd into a layer is found too.
printf 'FROM busybox\nRUN --mount=type=secret,id=s base64 -w 0 /run/secrets/s >/b64\n' >Dockerfile.b64
kiln_ok build -q --secret-leaks=off --secret "id=s,src=$WORK/long.txt" -f Dockerfile.b64 -t b64 .
run_kiln audit --secret "id=s,src=$WORK/long.txt" b64
[[ "$RC $OUT" =~ ^1\ layer\ sha256:[0-9a-f]{64}:\ secret\ \"s\"\ found\ \(base64\)\ in\ content\ of\ b64$ ]] ||
  fail "base64 audit: $RC $OUT"

# --- Secret-looking names and a build arg's value in the history. ---
cat >Dockerfile.names <<'EOF'
FROM busybox
ARG PASSWORD
ENV API_TOKEN=abc KEYBOARD=us
ARG VERSION
ARG PUBLIC_KEY
RUN true
EOF
kiln_ok build -q --build-arg PASSWORD=hunter2 --build-arg "VERSION=$LONG" --build-arg PUBLIC_KEY=x \
  -f Dockerfile.names -t names .
run_kiln audit --secret "id=v,src=$WORK/long.txt" names
expect_eq "names audit" '1
config history[5].created_by: secret "v" found (raw)
config Env: ENV API_TOKEN looks like a secret and is stored in the image
history[1]: build arg PASSWORD looks like a secret and is recorded in the image
error: names: 3 findings
hint: rebuild without writing secrets into layers, ENV, ARG or labels' "$RC
$OUT
$ERR"
# The value from the environment, with no newline, is found the same way.
export AUDIT_VALUE=$LONG
run_kiln audit --secret id=v,env=AUDIT_VALUE names
expect_eq "env secret audit" 'config history[5].created_by: secret "v" found (raw)' "$(echo "$OUT" | head -1)"
kiln_ok history --no-trunc names
echo "$OUT" | grep -qF "VERSION=$LONG" || fail "the build arg is not in the history: $OUT"

# --- The clean examples pass. ---
cp -r "$KILN_SRC/examples/secret-env" "$WORK/secret-env"
cd "$WORK/secret-env"
export API_TOKEN=$LONG
kiln_ok compose build
kiln_ok audit --secret id=api_token,env=API_TOKEN secret-env-fetcher
expect_eq "clean example audit" \
  "secret-env-fetcher: no secrets found (1 secret checked, plus secret-looking ARG/ENV names)" "$OUT"
kiln_ok save -o "$WORK/clean.tar" secret-env-fetcher
kiln_ok audit --secret id=api_token,env=API_TOKEN "$WORK/clean.tar"
expect_eq "clean archive audit" \
  "$WORK/clean.tar: no secrets found (1 secret checked, plus secret-looking ARG/ENV names)" "$OUT"
cp -r "$KILN_SRC/examples/secret-file" "$WORK/secret-file"
cd "$WORK/secret-file"
kiln_ok compose build
kiln_ok audit --secret id=mysecret,src=mysecret.txt secret-file-app
expect_eq "blog example audit" "secret-file-app: no secrets found (1 secret checked, plus secret-looking ARG/ENV names)
warning: secret \"mysecret\" is shorter than 6 bytes; the leak guard does not search for it" "$OUT
$ERR"

# --- Errors. ---
run_kiln audit --secret id=x,src=nope.txt baked
expect_eq "missing secret source" '1 error: secret "x": file nope.txt: No such file or directory' "$RC $ERR"
run_kiln audit
expect_eq "no argument" '2 error: "kiln audit" requires exactly 1 argument
hint: usage: kiln audit [OPTIONS] IMAGE|ARCHIVE' "$RC $ERR"
run_kiln audit no-such-image
expect_eq "unknown image exit" "1" "$RC"
echo PASS
