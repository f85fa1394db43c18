#!/bin/bash
# .dockerignore's `!` reaching into an excluded directory (BuildKit): with
# `dir` then `!dir/sub`, `COPY . /app` copies dir/sub with dir/ created for
# it and nothing else of dir (`COPY dir /x` too); a directory looked into
# that holds nothing included is not created. The COPY's cache key follows
# exactly what is copied.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest

CTX=$WORK/ctx
mkdir -p "$CTX/dir/sub/deep" "$CTX/dir/other" "$CTX/logs/old"
echo f >"$CTX/dir/sub/f"
echo g >"$CTX/dir/sub/deep/g"
echo h >"$CTX/dir/other/h"
echo top >"$CTX/dir/top.txt"
echo a >"$CTX/logs/a.log"
echo b >"$CTX/logs/old/b.keep"
echo k >"$CTX/keep.txt"
printf 'dir\n!dir/sub\nlogs\n!logs/*.keep\n' >"$CTX/.dockerignore"
printf 'FROM busybox\nCOPY . /app\n' >"$CTX/Dockerfile"

kiln_ok build --progress=plain -t reinclude:1 "$CTX"
expect_eq "COPY layer" '== layer 1
app/
app/.dockerignore
app/Dockerfile
app/dir/
app/dir/sub/
app/dir/sub/deep/
app/dir/sub/deep/g
app/dir/sub/f
app/keep.txt' "$(layer_listings reinclude:1)"

# Changing what stays excluded keeps the key; changing what is re-included
# does not.
echo changed >"$CTX/dir/other/h"
echo new >"$CTX/logs/c.log"
kiln_ok build --progress=plain -t reinclude:2 "$CTX"
expect_eq "excluded change is cached" '[1/2] DONE
[2/2] CACHED
[internal] DONE' "$(step_states "$ERR")"
echo changed >"$CTX/dir/sub/f"
kiln_ok build --progress=plain -t reinclude:3 "$CTX"
expect_eq "re-included change reruns" '[1/2] DONE
[2/2] DONE
[internal] DONE' "$(step_states "$ERR")"

# A source naming the excluded directory itself copies what is included
# again below it.
printf 'FROM busybox\nCOPY dir /x\n' >"$CTX/Dockerfile.dir"
kiln_ok build -q -f "$CTX/Dockerfile.dir" -t reinclude:dir "$CTX"
expect_eq "COPY dir layer" '== layer 1
x/
x/sub/
x/sub/deep/
x/sub/deep/g
x/sub/f' "$(layer_listings reinclude:dir)"
