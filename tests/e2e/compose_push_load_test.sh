#!/bin/bash
# kiln compose build --push and --load: a project whose web service reads
# base's image (additional_contexts service:base) is pushed to a real
# registry (docker-registry, checked with skopeo; a service without `image:`
# is built but not pushed, as docker compose does) and loaded into a real
# Docker engine (Debian's dockerd, started here), where `docker run` runs the
# services' images. Also --with-dependencies and a context naming an unknown
# service.
source "$(dirname "$0")/lib.sh"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
start_registry
export REGISTRY
mkdir -p "$WORK/shop"
cd "$WORK/shop"
mkdir -p base web tool
cat >compose.yaml <<'EOF'
name: shop
services:
  web:
    image: ${REGISTRY}/shop/web:1.0
    build:
      context: ./web
      additional_contexts:
        base: service:base
      tags:
        - ${REGISTRY}/shop/web:latest
      labels:
        org.example.tier: front
    depends_on: [tool]
  base:
    image: ${REGISTRY}/shop/base:1.0
    build: ./base
  tool:
    build: ./tool
EOF
printf 'FROM busybox\nRUN echo base >/base.txt\n' >base/Dockerfile
printf 'FROM base\nRUN echo "web on $(cat /base.txt)" >/web.txt\nCMD ["cat", "/web.txt"]\n' >web/Dockerfile
printf 'FROM busybox\nRUN echo tool >/tool.txt\nCMD ["cat", "/tool.txt"]\n' >tool/Dockerfile
# The manifest digest the registry holds (push gzips built layers, so it is
# not the stored manifest's).
manifest_of() { skopeo inspect --tls-verify=false "docker://$1" | jq -r .Digest; }

# --- --push. ---
kiln_ok compose --progress plain build --push
# Every service is built (base before web, which reads it); only those
# with an image name are pushed, under every tag.
expect_eq "built" "Service base  Built
Service web  Built
Service tool  Built" "$(echo "$ERR" | grep '^Service ')"
WEB=$(manifest_of "$REGISTRY/shop/web:1.0")
BASE=$(manifest_of "$REGISTRY/shop/base:1.0")
expect_eq "pushed" "pushed $REGISTRY/shop/base:1.0: digest: $BASE
pushed $REGISTRY/shop/web:1.0: digest: $WEB
pushed $REGISTRY/shop/web:latest: digest: $WEB" "$(echo "$ERR" | grep '^pushed ' | sed 's/ size: [0-9]*$//' | sort)"
expect_eq "registry web:1.0" "$WEB" \
  "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/shop/web:1.0" | jq -r .Digest)"
expect_eq "registry web:latest" "$WEB" \
  "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/shop/web:latest" | jq -r .Digest)"
expect_eq "registry base:1.0" "$BASE" \
  "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/shop/base:1.0" | jq -r .Digest)"
expect_eq "web tags" '["1.0","latest"]' \
  "$(skopeo list-tags --tls-verify=false "docker://$REGISTRY/shop/web" | jq -c '.Tags | sort')"
expect_eq "catalog" '["shop/base","shop/web"]' "$(curl -fsS "http://$REGISTRY/v2/_catalog" | jq -c '.repositories | sort')"
# web's image is base's layers plus its own, with its label and command.
expect_eq "web layers" "$(($(skopeo inspect --tls-verify=false "docker://$REGISTRY/shop/base:1.0" | jq '.Layers | length') + 1))" \
  "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/shop/web:1.0" | jq '.Layers | length')"
expect_eq "web config" '{"Cmd":["cat","/web.txt"],"Labels":{"org.example.tier":"front"}}' \
  "$(skopeo inspect --tls-verify=false --config "docker://$REGISTRY/shop/web:1.0" | jq -c '.config | {Cmd, Labels}')"
expect_eq "local image" "shop-tool" "$("$KILN" images | awk '$1 == "shop-tool" {print $1}')"

# A context naming an unknown service fails before anything is built.
sed 's/service:base/service:bsae/' compose.yaml >bad.yaml
run_kiln compose -f bad.yaml build --push web
expect_eq "unknown context service" '1 error: bad.yaml:8:15: services.web.build.additional_contexts.base: undefined service "bsae" (did you mean "base"?)
 8 |         base: service:bsae
   |               ^' "$RC $ERR"

# --- --load. ---
if ! start_docker_engine; then
  echo "SKIP: --load part: dockerd is not installed (apt-get install docker.io)"
  echo PASS
  exit 0
fi
# Named: web and the service it reads; tool (a depends_on) only with
# --with-dependencies.
kiln_ok compose --progress quiet build --load web
expect_eq "built for --load" "Service base  Built
Service web  Built" "$(echo "$ERR" | grep '^Service ')"
id_of() { "$KILN" inspect "$1" | jq -r '.[0].Id'; }
expect_eq "docker has web" "$(id_of "$REGISTRY/shop/web:1.0")" \
  "$(docker image inspect --format '{{.Id}}' "$REGISTRY/shop/web:1.0")"
expect_eq "docker has web:latest" "$(id_of "$REGISTRY/shop/web:1.0")" \
  "$(docker image inspect --format '{{.Id}}' "$REGISTRY/shop/web:latest")"
expect_eq "docker has base" "$(id_of "$REGISTRY/shop/base:1.0")" \
  "$(docker image inspect --format '{{.Id}}' "$REGISTRY/shop/base:1.0")"
docker image inspect shop-tool >/dev/null 2>&1 && fail "tool was loaded without --with-dependencies"
expect_eq "docker run web" "web on base" "$(docker run --rm --network none "$REGISTRY/shop/web:1.0")"

kiln_ok compose --progress quiet build --load --with-dependencies web
expect_eq "built with deps" "Service base  Built
Service web  Built
Service tool  Built" "$(echo "$ERR" | grep '^Service ')"
expect_eq "docker has tool" "$(id_of shop-tool)" "$(docker image inspect --format '{{.Id}}' shop-tool)"
expect_eq "docker run tool" "tool" "$(docker run --rm --network none shop-tool)"
expect_eq "docker labels" '{"org.example.tier":"front"}' \
  "$(docker image inspect "$REGISTRY/shop/web:1.0" | jq -c '.[0].Config.Labels')"
echo PASS
