#!/bin/bash
# A built layer's blob file is written from its snapshot the first time the
# image leaves the store (docs/formats/store.md, "Layer blobs from
# snapshots"): the build leaves none, prune keeps the snapshot that holds
# the bytes until the file exists, the exported bytes are the diff ids, and
# a snapshot changed behind kiln's back fails the export.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX/app" "$CTX/other"
echo alpha >"$CTX/app/a.txt"
echo gamma >"$CTX/other/c.txt"
printf 'FROM busybox\nCOPY app /app\nRUN echo built >/app/b.txt\n' >"$CTX/Dockerfile"
printf 'FROM busybox\nCOPY other /other\n' >"$CTX/Dockerfile.other"

# diff_ids IMG: the image's layer diff ids, one a line.
diff_ids() { kiln_ok inspect "$1" && echo "$OUT" | jq -r '.[0].RootFS.Layers[]'; }
blob_file() { echo "$KILN_ROOT/blobs/sha256/${1#sha256:}"; }
snapshot_dir() { echo "$KILN_ROOT/snapshots/${1#sha256:}"; }
# chain PARENT DIFF: the chain id of DIFF on top of chain PARENT.
chain() { echo "sha256:$(printf '%s %s' "$1" "$2" | sha256sum | cut -d' ' -f1)"; }

kiln_ok build -q -t blobs:1 "$CTX"
mapfile -t DIFFS < <(diff_ids blobs:1)
expect_eq "layers" 3 "${#DIFFS[@]}"
COPY_CHAIN=$(chain "${DIFFS[0]}" "${DIFFS[1]}")
RUN_CHAIN=$(chain "$COPY_CHAIN" "${DIFFS[2]}")
for d in "${DIFFS[1]}" "${DIFFS[2]}"; do
  [ ! -e "$(blob_file "$d")" ] || fail "the build wrote blob $d"
done

# --- prune drops the build cache; the tagged image's snapshots stay -----------
kiln_ok prune -f
for c in "$COPY_CHAIN" "$RUN_CHAIN"; do
  [ -d "$(snapshot_dir "$c")" ] || fail "prune removed snapshot $c, which holds a blob of blobs:1"
done

# --- the first export writes the blobs; their bytes are the diff ids -----------
D=$WORK/oci
oci_unpack blobs:1 "$D"
MANIFEST=$(_blob "$D" "$(jq -r '.manifests[0].digest' "$D/index.json")")
expect_eq "manifest layers are the diff ids" "$(printf '%s\n' "${DIFFS[@]:1}")" \
  "$(jq -r '.layers[1:][].digest' "$MANIFEST")"
for d in "${DIFFS[1]}" "${DIFFS[2]}"; do
  expect_eq "exported $d" "${d#sha256:}" "$(sha256sum "$(_blob "$D" "$d")" | cut -d' ' -f1)"
  [ -f "$(blob_file "$d")" ] || fail "export did not store blob $d"
done
expect_eq "COPY layer" 'app/
app/a.txt' "$(tar -tf "$(_blob "$D" "${DIFFS[1]}")")"
expect_eq "RUN layer b.txt" built "$(tar -xOf "$(_blob "$D" "${DIFFS[2]}")" app/b.txt)"

# --- with the files written, prune lets the snapshots go; export still works ---
kiln_ok prune -f
for c in "$COPY_CHAIN" "$RUN_CHAIN"; do
  [ ! -e "$(snapshot_dir "$c")" ] || fail "prune kept snapshot $c after its blob was written"
done
kiln_ok save -o "$WORK/again.tar" blobs:1
expect_eq "re-exported layers" "$(printf '%s\n' "${DIFFS[@]}")" \
  "$(skopeo inspect --config "docker-archive:$WORK/again.tar" | jq -r '.rootfs.diff_ids[]')"

# --- a snapshot changed behind kiln's back fails the export, storing nothing ---
kiln_ok build -q -t blobs:2 -f "$CTX/Dockerfile.other" "$CTX"
mapfile -t OTHER < <(diff_ids blobs:2)
OTHER_CHAIN=$(chain "${OTHER[0]}" "${OTHER[1]}")
echo GAMMA >"$(snapshot_dir "$OTHER_CHAIN")/other/c.txt"
run_kiln save -o "$WORK/bad.tar" blobs:2
expect_eq "tampered exit" 1 "$RC"
[[ "$ERR" =~ ^error:\ blob\ digest\ mismatch:\ expected\ ${OTHER[1]},\ got\ sha256:[0-9a-f]{64}$'\n'while\ writing\ layer\ ${OTHER[1]}\ from\ snapshot\ $OTHER_CHAIN ]] ||
  fail "tampered save printed: $ERR"
[ ! -e "$(blob_file "${OTHER[1]}")" ] || fail "a blob was stored from the tampered snapshot"
echo "PASS"
