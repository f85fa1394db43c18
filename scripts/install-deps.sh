#!/bin/bash
# Installs everything kiln's build, tests and examples need on Debian 12, from
# Debian's archive only. Safe to run repeatedly.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev zlib1g-dev libdeflate-dev libzstd-dev libarchive-dev libsqlite3-dev
  libcurl4-openssl-dev nlohmann-json3-dev libyaml-dev libfmt-dev libexpected-dev
  libgtest-dev libgmock-dev
  # run time: the OCI runtime and the static busybox used as the base image
  runc busybox-static
  # tests: a real registry, image tools that must accept kiln's output, ssh
  docker-registry skopeo umoci apache2-utils openssh-client openssh-server git
  jq python3 ca-certificates openssl curl
  # tests: a Docker engine for --load (tests/e2e/load_test.sh starts its own)
  docker.io
  # benchmarks (bench/exec/run.sh)
  hyperfine
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
