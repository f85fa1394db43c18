#!/bin/bash
# kiln build outputs and flags: -o type=oci/docker/tar/local, -o -,
# --iidfile, --metadata-file, -q, -f elsewhere, -f -, a context on stdin,
# --progress=rawjson, --platform.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX" "$WORK/elsewhere"
echo hi >"$CTX/f"
printf 'FROM busybox\nCOPY f /f\nCMD ["cat", "/f"]\n' >"$CTX/Dockerfile"

kiln_ok build -q -t out:1 \
  -o "type=oci,dest=$WORK/img.oci.tar" -o "type=docker,dest=$WORK/img.docker.tar" \
  -o "type=tar,dest=$WORK/fs.tar" -o "type=local,dest=$WORK/fs" \
  --iidfile "$WORK/iid" --metadata-file "$WORK/meta.json" "$CTX"
ID=$OUT
[[ "$ID" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "-q printed more than the ID: $OUT"
expect_eq "-q prints nothing else" "" "$ERR"
expect_eq "--iidfile" "$ID" "$(cat "$WORK/iid")"
MANIFEST=$(jq -r '.[0].RepoDigests[0]' <("$KILN" inspect out:1) | sed 's/.*@//')
expect_eq "--metadata-file" "{
  \"containerimage.config.digest\": \"$ID\",
  \"containerimage.digest\": \"$MANIFEST\",
  \"image.name\": \"docker.io/library/out:1\"
}" "$(cat "$WORK/meta.json")"

# skopeo reads the OCI and docker archives as images.
expect_eq "oci archive" "$MANIFEST amd64 linux 2" \
  "$(skopeo inspect "oci-archive:$WORK/img.oci.tar" | jq -r '"\(.Digest) \(.Architecture) \(.Os) \(.Layers | length)"')"
expect_eq "oci archive config" '["cat","/f"]' \
  "$(skopeo inspect --config "oci-archive:$WORK/img.oci.tar" | jq -c .config.Cmd)"
expect_eq "docker archive" "amd64 linux 2" \
  "$(skopeo inspect --config "docker-archive:$WORK/img.docker.tar" | jq -r '"\(.architecture) \(.os) \(.rootfs.diff_ids | length)"')"
expect_eq "docker archive config digest" "$ID" \
  "$(skopeo inspect --raw "docker-archive:$WORK/img.docker.tar" | jq -r .config.digest)"

# type=tar and type=local hold the image's file system.
expect_eq "tar output has the file" "hi" "$(tar -xOf "$WORK/fs.tar" f 2>/dev/null || tar -xOf "$WORK/fs.tar" ./f)"
expect_eq "local output has the file" "hi" "$(cat "$WORK/fs/f")"
expect_eq "tar and local agree" "$(cd "$WORK/fs" && find . -mindepth 1 | sed 's|^\./||' | sort)" \
  "$(tar -tf "$WORK/fs.tar" | sed 's|^\./||; s|/$||' | grep -v '^$' | sort)"
# -o - writes the tar to stdout.
"$KILN" build -q -o - "$CTX" >"$WORK/stdout.tar" 2>"$WORK/stdout.err" || fail "-o -: $(cat "$WORK/stdout.err")"
expect_eq "-o - is the same tar listing" "$(tar -tf "$WORK/fs.tar")" "$(tar -tf "$WORK/stdout.tar")"

# -f elsewhere, -f - and a context on stdin.
printf 'FROM busybox\nCOPY f /g\n' >"$WORK/elsewhere/Other.Dockerfile"
kiln_ok build -q -f "$WORK/elsewhere/Other.Dockerfile" -o "type=local,dest=$WORK/other" "$CTX"
expect_eq "-f elsewhere" "hi" "$(cat "$WORK/other/g")"
printf 'FROM busybox\nCOPY f /h\n' | "$KILN" build -q -f - -o "type=local,dest=$WORK/stdin-df" "$CTX" >/dev/null \
  || fail "-f - failed"
expect_eq "-f -" "hi" "$(cat "$WORK/stdin-df/h")"
tar -C "$CTX" -cf - Dockerfile f | "$KILN" build -q -o "type=local,dest=$WORK/stdin-ctx" - >/dev/null \
  || fail "context - failed"
expect_eq "context -" "hi" "$(cat "$WORK/stdin-ctx/f")"

# --progress=rawjson: every stderr line is a JSON event.
kiln_ok build --progress=rawjson --no-cache "$CTX"
echo "$ERR" | jq -e . >/dev/null || fail "rawjson stderr is not JSON lines: $ERR"
expect_eq "rawjson events" 'started [internal] load build definition from Dockerfile
done
started [1/3] FROM busybox
done [1/3] FROM busybox
started [2/3] COPY f /f
done [2/3] COPY f /f
image' "$(echo "$ERR" | jq -r '[.event, .name // empty] | join(" ")')"
expect_eq "rawjson image event" "$(echo "$ERR" | tail -1 | jq -r .id)" "$(echo "$ERR" | tail -1 | jq -r .id | grep -E '^sha256:[0-9a-f]{64}$')"

# --platform of another architecture.
run_kiln build --platform linux/arm64 "$CTX"
expect_eq "--platform rc" 1 "$RC"
expect_eq "--platform" 'error: platform "linux/arm64" is not supported: kiln builds for the host (linux/amd64) only
hint: drop --platform, or build on a machine of that platform' "$ERR"
kiln_ok build -q --platform linux/amd64 "$CTX"
echo PASS
