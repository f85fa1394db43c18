#!/bin/bash
# kiln compose build/config end to end: the examples, a multi-service project
# with file and environment secrets, profiles, extends, several -f files,
# .env, a service named on the command line, additional_contexts
# service:base ordering; `compose config` output; the runtime-secret warning;
# the undefined-secret error. Images are <project>-<service>.
source "$(dirname "$0")/lib.sh"
SCAN="python3 $(cd "$(dirname "$0")" && pwd)/secrets_scan.py"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
# out_of IMAGE: the image's files in $WORK/out-IMAGE, through kiln build -o.
out_of() {
  mkdir -p "$WORK/empty"
  printf 'FROM %s\n' "$1" >"$WORK/empty/Dockerfile"
  kiln_ok build -q -o "type=local,dest=$WORK/out-$1" "$WORK/empty"
}
images_names() { "$KILN" images | awk 'NR > 1 && $1 != "busybox" && $1 != "<none>" {print $1}' | sort | tr '\n' ' '; }

# --- The examples. ---
cp -r "$KILN_SRC/examples/secret-file" "$KILN_SRC/examples/secret-env" "$WORK/"
cd "$WORK/secret-file"
kiln_ok compose --progress plain build
echo "$ERR" | grep -qE '^#5 DONE [0-9.]+s$' || fail "secret-file diff step: $ERR"
expect_eq "secret-file end" "Service app  Built" "$(echo "$ERR" | tail -1)"
cd "$WORK/secret-env"
run_kiln compose build
expect_eq "secret-env without API_TOKEN" \
  '1 error: compose.yaml:10:3: secrets.api_token: environment variable "API_TOKEN" is not set (neither in the environment nor in the .env file)' \
  "$RC $(echo "$ERR" | head -1)"
API_TOKEN=abcdefghijkl123 kiln_ok compose --progress plain build
expect_eq "secret-env end" "Service fetcher  Built" "$(echo "$ERR" | tail -1)"
out_of secret-env-fetcher
expect_eq "secret-env artifact" "fetched artifact with a token of 15 bytes" "$(cat "$WORK/out-secret-env-fetcher/artifact.txt")"
expect_eq "images" "secret-env-fetcher secret-file-app " "$(images_names)"

# --- A multi-service project. ---
NPM=$(head -c 48 /dev/urandom | base64 -w0)
API=$(head -c 48 /dev/urandom | base64 -w0)
printf '%s\n%s\n' "$NPM" "$API" >"$WORK/secrets.list"
mkdir -p "$WORK/shop"
cd "$WORK/shop"
mkdir -p base web worker
cat >compose.yaml <<'EOF'
name: shop
services:
  base:
    build:
      context: ./base
  web:
    build:
      context: ./web
      additional_contexts:
        base: service:base
      secrets:
        - npm_token
        - source: api_key
          target: API_KEY_FILE
      args:
        VERSION: ${VERSION}
  worker:
    extends:
      service: web
    build:
      context: ./worker
    profiles: [jobs]
secrets:
  npm_token:
    file: ./npm_token.txt
  api_key:
    environment: SHOP_API_KEY
EOF
cat >compose.ci.yaml <<'EOF'
services:
  web:
    build:
      args:
        CHANNEL: ci
EOF
printf 'VERSION=1.2.3\n' >.env
printf 'FROM busybox\nRUN echo base >/base.txt\n' >base/Dockerfile
cat >web/Dockerfile <<'EOF'
FROM base
ARG VERSION CHANNEL=dev
RUN --mount=type=secret,id=npm_token,required \
    --mount=type=secret,id=API_KEY_FILE,env=API_KEY,required \
    sha256sum /run/secrets/npm_token | cut -c1-64 >/npm.sum && \
    printf '%s' "$API_KEY" | sha256sum | cut -c1-64 >/api.sum && \
    echo "$VERSION $CHANNEL $(cat /base.txt)" >/info.txt
EOF
sed 's|/info.txt|/worker.txt|' web/Dockerfile >worker/Dockerfile
printf '%s\n' "$NPM" >npm_token.txt
export SHOP_API_KEY=$API

kiln_ok compose -f compose.yaml -f compose.ci.yaml --progress plain build
# base is built before web reads it; worker (profile jobs) is not built.
expect_eq "built services" "Service base  Built
Service web  Built" "$(echo "$ERR" | grep '^Service ')"
b=$(echo "$ERR" | grep -n '^#[0-9]* \[base 2/2\] RUN' | head -1 | cut -d: -f1)
w=$(echo "$ERR" | grep -n '^#[0-9]* \[web 1/3\] FROM base' | head -1 | cut -d: -f1)
[ -n "$b" ] && [ -n "$w" ] && [ "$b" -lt "$w" ] || fail "web did not wait for base: $ERR"
expect_eq "images" "secret-env-fetcher secret-file-app shop-base shop-web " "$(images_names)"
out_of shop-web
expect_eq "web sums" "$(printf '%s\n' "$NPM" | sha256sum | cut -c1-64)
$(printf '%s' "$API" | sha256sum | cut -c1-64)
1.2.3 ci base" "$(cd "$WORK/out-shop-web" && cat npm.sum api.sum info.txt)"

# Without compose.ci.yaml, with --profile jobs: worker too, via extends
# (secrets, args and the service:base context come from web).
kiln_ok compose --profile jobs build
expect_eq "built with --profile" "Service base  Built
Service web  Built
Service worker  Built" "$(echo "$ERR" | grep '^Service ')"
out_of shop-worker
expect_eq "worker" "1.2.3 dev base" "$(cat "$WORK/out-shop-worker/worker.txt")"
# A service named on the command line: it and the service its
# additional_contexts read from are built (its profile is enabled by naming
# it); web is not.
kiln_ok compose build worker
expect_eq "named service" "Service base  Built
Service worker  Built" "$(echo "$ERR" | grep '^Service ')"
kiln_ok compose build base
expect_eq "named base" "Service base  Built" "$(echo "$ERR" | grep '^Service ')"
run_kiln compose build wrker
expect_eq "unknown service" '1 error: no such service: "wrker" (did you mean "worker"?)' "$RC $ERR"
# --env-file and the environment override .env.
printf 'VERSION=9.9\n' >other.env
kiln_ok compose --env-file other.env build web
out_of shop-web
expect_eq "--env-file" "9.9 dev base" "$(cat "$WORK/out-shop-web/info.txt")"

# Nothing of the secrets anywhere in the store or kiln's output.
printf '%s' "$OUT$ERR" >"$WORK/last.log"
set +e
report=$($SCAN "$WORK/secrets.list" "$KILN_ROOT" "$WORK/last.log" "$WORK"/out-*)
rc=$?
set -e
[ "$rc" = 0 ] || fail "secrets found: $report"

# --- compose config. ---
kiln_ok compose -f compose.yaml -f compose.ci.yaml config
expect_eq "compose config" "name: shop
services:
  base:
    build:
      context: $WORK/shop/base
      dockerfile: Dockerfile
    networks:
      default: null
  web:
    build:
      context: $WORK/shop/web
      dockerfile: Dockerfile
      args:
        CHANNEL: ci
        VERSION: 1.2.3
      additional_contexts:
        base: service:base
      secrets:
        - source: npm_token
        - source: api_key
          target: API_KEY_FILE
    networks:
      default: null
networks:
  default:
    name: shop_default
secrets:
  api_key:
    name: shop_api_key
    environment: SHOP_API_KEY
  npm_token:
    name: shop_npm_token
    file: $WORK/shop/npm_token.txt" "$OUT"
kiln_ok compose --profile jobs config --services
expect_eq "config --services" "base
web
worker" "$OUT"
if echo "$OUT" | grep -qF "$API"; then fail "compose config printed a secret value"; fi

# --- An environment secret printed by a step is masked. ---
mkdir -p "$WORK/mask"
cd "$WORK/mask"
printf 'services:\n  app:\n    build:\n      context: .\n      secrets: [tok]\nsecrets:\n  tok:\n    environment: MASK_TOKEN\n' >compose.yaml
printf 'FROM busybox\nRUN --mount=type=secret,id=tok,env=T echo "t=$T"\n' >Dockerfile
MASK_TOKEN=$API kiln_ok compose --progress plain build
expect_eq "masked compose output" "t=****" "$(echo "$ERR" | grep -E '^#[0-9]+ [0-9.]+ ' | sed -E 's/^#[0-9]+ [0-9.]+ //')"
if echo "$ERR" | grep -qF "$API"; then fail "the secret is in compose's output"; fi

# --- Warnings and errors. ---
mkdir -p "$WORK/rt"
cd "$WORK/rt"
cat >compose.yaml <<'EOF'
services:
  app:
    build: .
    secrets:
      - db_pass
secrets:
  db_pass:
    file: ./db.txt
EOF
printf 'FROM busybox\nRUN --mount=type=secret,id=db_pass test ! -e /run/secrets/db_pass\n' >Dockerfile
echo dbpassword123 >db.txt
kiln_ok compose --progress quiet build
expect_eq "runtime secret warning" 'WARN[0000] compose.yaml:5: service "app": secret "db_pass" is listed under services.app.secrets (runtime) but the Dockerfile mounts it at build time; add it under services.app.build.secrets
Service app  Built' "$ERR"
expect_eq "image" "rt-app" "$("$KILN" images | awk '$1 ~ /^rt-/ {print $1}')"

mkdir -p "$WORK/und"
cd "$WORK/und"
cat >compose.yaml <<'EOF'
services:
  app:
    build:
      context: .
      secrets:
        - nope
EOF
printf 'FROM busybox\n' >Dockerfile
run_kiln compose build
expect_eq "undefined secret" '1 error: compose.yaml:6:11: services.app.build.secrets[0]: undefined secret "nope"
 6 |         - nope
   |           ^' "$RC $ERR"
run_kiln compose config
expect_eq "undefined secret (config)" "1" "$RC"
echo PASS
