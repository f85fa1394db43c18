#!/bin/bash
# Image verbs over a store holding an imported busybox rootfs: import,
# images, tag, rmi, inspect, history, prune, system df, ID-prefix lookups,
# and the errors for unknown images and invalid references.
source "$(dirname "$0")/lib.sh"

# Normalises the CREATED column ("N seconds ago", "About a minute ago")
# and its padding, which depends on that text.
norm_created() {
  sed -E 's/(Less than a second|[0-9]+ seconds?|About a minute) ago/X ago/; s/CREATED +/CREATED   /; s/X ago +/X ago   /'
}

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
[[ "$OUT" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "import printed $OUT"
expect_eq "import stderr" "" "$ERR"
ID=$OUT
SHORT=${ID:7:12}

# images: docker's table (tabwriter: min width 10, padding 3).
kiln_ok images
HSIZE=$(echo "$OUT" | awk 'NR==2{print $NF}')
expect_eq "images" "REPOSITORY   TAG       IMAGE ID       CREATED   SIZE
busybox      latest    $SHORT   X ago   $HSIZE" "$(echo "$OUT" | norm_created)"
[[ "$HSIZE" =~ ^[0-9.]+MB$ ]] || fail "size column $HSIZE"
kiln_ok images -q
expect_eq "images -q" "$SHORT" "$OUT"
kiln_ok images -q --no-trunc
expect_eq "images -q --no-trunc" "$ID" "$OUT"

# inspect: valid JSON with the ID, tags and one layer.
kiln_ok inspect busybox
expect_eq "inspect .Id" "$ID" "$(echo "$OUT" | jq -r '.[0].Id')"
expect_eq "inspect RepoTags" '["busybox:latest"]' "$(echo "$OUT" | jq -c '.[0].RepoTags')"
expect_eq "inspect layers" "1" "$(echo "$OUT" | jq '.[0].RootFS.Layers | length')"
expect_eq "inspect Os" "linux" "$(echo "$OUT" | jq -r '.[0].Os')"
# ID prefixes and full IDs find the same image.
for q in "$SHORT" "${ID:7:5}" "$ID" "${ID:7}" docker.io/library/busybox:latest busybox:latest; do
  kiln_ok inspect "$q"
  expect_eq "inspect $q" "$ID" "$(echo "$OUT" | jq -r '.[0].Id')"
done

# tag: a second name for the same image.
kiln_ok tag busybox localhost:5000/tools/bb:v1
expect_eq "tag stdout" "" "$OUT"
kiln_ok tag "$SHORT" mybox
kiln_ok images
expect_eq "images after tag" "REPOSITORY                TAG       IMAGE ID       CREATED   SIZE
busybox                   latest    $SHORT   X ago   $HSIZE
mybox                     latest    $SHORT   X ago   $HSIZE
localhost:5000/tools/bb   v1        $SHORT   X ago   $HSIZE" "$(echo "$OUT" | norm_created)"
kiln_ok images busybox
expect_eq "images filtered by name" "REPOSITORY   TAG       IMAGE ID       CREATED   SIZE
busybox      latest    $SHORT   X ago   $HSIZE" "$(echo "$OUT" | norm_created)"
kiln_ok images localhost:5000/tools/bb:v1 -q
expect_eq "images filtered by name:tag" "$SHORT" "$OUT"
kiln_ok images nothing
expect_eq "images filtered to nothing" "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE" "$OUT"

# history: docker's table; an import is one layer with the import comment.
kiln_ok history busybox
# (CREATED BY is empty for an import; norm_created swallows its padding.)
expect_eq "history" "IMAGE          CREATED   CREATED BY   SIZE      COMMENT
$SHORT   X ago   $HSIZE    Imported from $WORK/rootfs.tar" "$(echo "$OUT" | norm_created)"
header=$(echo "$OUT" | sed -n 1p)
row=$(echo "$OUT" | sed -n 2p)
before_size=${header%%SIZE*}
before_value=${row%%"$HSIZE"*}
expect_eq "history SIZE column offset" "${#before_size}" "${#before_value}"
kiln_ok history --human=false mybox
[[ "$(echo "$OUT" | sed -n 2p)" =~ ^$SHORT\ \ \ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\ +[0-9]+\ +Imported\ from ]] ||
  fail "history --human=false: $OUT"

# system df before any removal: one image, nothing reclaimable.
kiln_ok system df
[[ "$(echo "$OUT" | sed -n 1p)" == "TYPE           TOTAL     SIZE      RECLAIMABLE" ]] || fail "df header: $OUT"
[[ "$(echo "$OUT" | sed -n 2p)" =~ ^Images\ {9}1\ {9}[0-9.]+MB\ +0B\ \(0%\)$ ]] || fail "df images row: $OUT"

# rmi by one of several names only untags; by ID with several names is a
# conflict unless forced; the last name untags and deletes.
kiln_ok rmi mybox
expect_eq "rmi one of three names" "Untagged: mybox:latest" "$OUT"
run_kiln rmi "$SHORT"
expect_eq "rmi conflict rc" 1 "$RC"
expect_eq "rmi conflict" "error: conflict: unable to delete $SHORT (must be forced) - image is referenced in multiple repositories" "$ERR"
kiln_ok rmi localhost:5000/tools/bb:v1
expect_eq "rmi second name" "Untagged: localhost:5000/tools/bb:v1" "$OUT"
kiln_ok tag busybox other:2
kiln_ok rmi -f "${ID:7:6}"
expect_eq "rmi -f by ID prefix" "Untagged: busybox:latest
Untagged: other:2
Deleted: $ID" "$OUT"
kiln_ok images -q
expect_eq "no images left" "" "$OUT"

# prune: a dangling (untagged) image goes; -a takes tagged ones too.
kiln_ok import "$WORK/rootfs.tar"
ID2=$OUT
kiln_ok images
expect_eq "dangling image row" "REPOSITORY   TAG       IMAGE ID       CREATED   SIZE
<none>       <none>    ${ID2:7:12}   X ago   $HSIZE" "$(echo "$OUT" | norm_created)"
kiln_ok import -m keep "$WORK/rootfs.tar" keep:1
ID3=$OUT
# Reclaimed bytes depend on whether the two imports fell in the same second
# (same config, so fewer unique blobs): B or kB.
kiln_ok prune
[[ "$OUT" =~ ^"Deleted Images:
deleted: $ID2

Total reclaimed space: "[0-9.]+k?B$ ]] || fail "prune output: $OUT"
kiln_ok images -q --no-trunc
expect_eq "prune keeps tagged images" "$ID3" "$OUT"
kiln_ok prune
expect_eq "prune with nothing to do" "Total reclaimed space: 0B" "$OUT"
kiln_ok prune -a -f
[[ "$OUT" =~ ^"Deleted Images:
untagged: keep:1
deleted: $ID3

Total reclaimed space: "[0-9.]+MB$ ]] || fail "prune -a output: $OUT"
kiln_ok system df
expect_eq "df after prune" "TYPE           TOTAL     SIZE      RECLAIMABLE
Images         0         0B        0B (0%)
Layers         0         0B        0B (0%)
Build Cache    0         0B        0B (0%)
Cache Mounts   0         0B        0B (0%)" "$OUT"
expect_eq "no blobs left" "" "$(find "$KILN_ROOT/blobs" -type f 2>/dev/null)"

# Errors: unknown images and invalid references, whole messages.
kiln_ok import "$WORK/rootfs.tar" busybox
for cmd in "inspect nope" "history nope" "rmi nope" "save -o $WORK/x.tar nope" "push nope" \
           "inspect sha256:0000000000000000000000000000000000000000000000000000000000000000"; do
  run_kiln $cmd
  expect_eq "$cmd rc" 1 "$RC"
  expect_eq "$cmd" "error: no such image: \"${cmd##* }\"" "$ERR"
done
run_kiln tag nope x
expect_eq "tag unknown source" 'error: no such image: "nope"' "$ERR"
run_kiln tag busybox Foo
expect_eq "tag invalid rc" 1 "$RC"
expect_eq "tag invalid" 'error: invalid reference format "Foo": repository name must be lowercase' "$ERR"
run_kiln tag nope Foo
expect_eq "tag checks the target first" 'error: invalid reference format "Foo": repository name must be lowercase' "$ERR"
run_kiln import "$WORK/rootfs.tar" Bad
expect_eq "import invalid name" 'error: invalid reference format "Bad": repository name must be lowercase' "$ERR"
run_kiln rmi
expect_eq "rmi no args rc" 2 "$RC"
expect_eq "rmi no args" 'error: "kiln rmi" requires at least 1 argument
hint: usage: kiln rmi [OPTIONS] IMAGE [IMAGE...]' "$ERR"
run_kiln tag busybox
expect_eq "tag one arg" 'error: "kiln tag" requires exactly 2 arguments
hint: usage: kiln tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]' "$ERR"
run_kiln import "$WORK/missing.tar" x
expect_eq "import missing rc" 1 "$RC"
expect_eq "import missing" "error: open $WORK/missing.tar: No such file or directory" "$ERR"
# An ambiguous ID prefix: two images whose IDs share a first hex digit.
for i in $(seq 1 40); do
  kiln_ok import -m "n$i" "$WORK/rootfs.tar"
done
prefix=$("$KILN" images -q | cut -c1 | sort | uniq -d | head -1)
[ -n "$prefix" ] || fail "no shared first digit among 41 IDs"
run_kiln inspect "$prefix"
expect_eq "ambiguous rc" 1 "$RC"
[[ "$ERR" =~ ^"error: ambiguous image ID \"$prefix\": matches "[0-9]+" images"$ ]] || fail "ambiguous: $ERR"
# inspect prints what it finds, then fails for what it does not (docker).
run_kiln inspect busybox nope
expect_eq "inspect partial rc" 1 "$RC"
expect_eq "inspect partial stdout" '[["busybox:latest"]]' "$(echo "$OUT" | jq -c '[.[].RepoTags]')"
expect_eq "inspect partial stderr" 'error: no such image: "nope"' "$ERR"
run_kiln inspect nope
expect_eq "inspect none found" "[]" "$OUT"
