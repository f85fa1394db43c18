#!/bin/bash
# The main job, on a fresh Debian 12 machine as root: installs what kiln
# needs from Debian's archive, builds and installs kiln, makes a busybox base
# image locally from Debian's busybox-static (no network needed), then builds
# the two example Compose projects whose build secrets (one from a file, one
# from the environment) never reach the image, lists the images, and audits
# them for the secrets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
install -m 0755 build/kiln /usr/local/bin/kiln
export KILN_ROOT=${KILN_ROOT:-/var/lib/kiln}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== base image: busybox from Debian's busybox-static"
scripts/make-busybox-rootfs.sh "$tmp/busybox.tar"
kiln import "$tmp/busybox.tar" busybox:latest

echo "== examples/secret-file: the secret comes from ./mysecret.txt"
(cd examples/secret-file && kiln compose --progress plain build)

echo "== examples/secret-env: the secret comes from \$API_TOKEN"
API_TOKEN=$(head -c 24 /dev/urandom | base64)
export API_TOKEN
(cd examples/secret-env && kiln compose --progress plain build)

echo "== images"
kiln images
kiln history secret-env-fetcher

echo "== audit: no layer, config or history entry holds a secret"
kiln audit secret-env-fetcher --secret id=api_token,env=API_TOKEN
kiln audit secret-file-app --secret id=mysecret,src=examples/secret-file/mysecret.txt

echo "== save as an OCI archive"
kiln save --format oci -o "$tmp/secret-env.tar" secret-env-fetcher
ls -l "$tmp/secret-env.tar"
