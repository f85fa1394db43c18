#!/usr/bin/env bash
# Builds each case here with BuildKit (docker 20.10's, through
# /work/shared/tools/anchors-up.sh) and with kiln, and prints what each build
# shows: /out and /out2 written by RUN, and the image config. The expected
# values in src/dockerfile/buildkit_compat_test.cc come from these runs.
#
# Usage: compare.sh [CASE...]   (default: every case)
# Env: KILN (default build/kiln), DOCKER_HOST as set by anchors-up.sh --env.
# A case is a directory with a Dockerfile (context: the directory, or its
# ctx/ if present) and an optional `args` file of extra build flags.
set -u
here=$(cd "$(dirname "$0")" && pwd)
kiln=${KILN:-build/kiln}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
config='{Env,Labels,Cmd,Entrypoint,WorkingDir,User,ExposedPorts,OnBuild,Shell,Healthcheck,StopSignal,Volumes}'

buildkit() {  # dir tag args...
  local ctx=$1 tag=$2; shift 2
  DOCKER_BUILDKIT=1 /usr/bin/docker build --network=host -t "$tag" "$@" "$ctx" >"$root/log" 2>&1 ||
    { echo "  failed: $(grep -E 'error|failed' "$root/log" | tail -1)"; return; }
  for f in out out2; do
    /usr/bin/docker run --rm --entrypoint "" "$tag" sh -c "test -e /$f && { printf '  $f: '; cat /$f; }"
  done
  echo "  config: $(/usr/bin/docker image inspect "$tag" --format '{{json .Config}}' | jq -c "$config")"
}

kiln_build() {  # dir tag args...
  local ctx=$1 tag=$2; shift 2
  local k=("$kiln" --root "$root/kiln" --insecure-registry 127.0.0.1:5000)
  "${k[@]}" build --progress plain -t "$tag" -o "type=local,dest=$root/out" "$@" "$ctx" >"$root/log" 2>&1 ||
    { echo "  failed: $(grep -E '^error' "$root/log" | tail -1)"; return; }
  for f in out out2; do [ -e "$root/out/$f" ] && { printf '  %s: ' $f; cat "$root/out/$f"; }; done
  "${k[@]}" build -q -t "$tag" "$@" "$ctx" >/dev/null 2>&1
  echo "  config: $("${k[@]}" inspect "$tag" | jq -c ".[0].Config | $config")"
  rm -rf "$root/out"
}

cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=($(cd "$here" && ls -d */ | tr -d /))
for c in "${cases[@]}"; do
  dir=$here/$c ctx=$here/$c
  [ -d "$dir/ctx" ] && ctx=$dir/ctx
  df=$dir/Dockerfile; [ -f "$df" ] || df=$ctx/Dockerfile
  args=(); [ -f "$dir/args" ] && read -ra args <"$dir/args"
  echo "== $c"
  echo " buildkit:"; buildkit "$ctx" "kiln-compare-$c" -f "$df" "${args[@]}"
  echo " kiln:"; kiln_build "$ctx" "kiln-compare-$c" -f "$df" "${args[@]}"
done
