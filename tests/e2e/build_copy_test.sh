#!/bin/bash
# COPY and ADD: wildcards, directory contents, destination rules, --chown
# by name and id, --chmod, --from a stage, --parents, --exclude,
# .dockerignore, heredocs; checked as the exported file tree.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
# A copy of the checked-in context with modes fixed (git keeps only +x).
cp -r "$KILN_SRC/tests/testdata/build/copy" "$WORK/ctx"
find "$WORK/ctx" -type d -exec chmod 755 {} + && find "$WORK/ctx" -type f -exec chmod 644 {} +

kiln_ok build -q -t copied -o "type=local,dest=$WORK/out" "$WORK/ctx"
BASE=$(tar -tf "$WORK/busybox.tar" | sed 's|^\./||; s|/$||' | grep -v '^$' | cut -d/ -f1 | sort -u | tr '\n' '|' | sed 's/|$//')
expect_eq "tree" './added.txt f 644 0:0 4
./all d 755 0:0
./all/.dockerignore f 644 0:0 12
./all/Dockerfile f 644 0:0 870
./all/docs d 755 0:0
./all/docs/d.txt f 644 0:0 4
./all/src d 755 0:0
./all/src/a d 755 0:0
./all/src/a/b d 755 0:0
./all/src/a/b/deep.txt f 644 0:0 5
./all/src/a/skip.log f 644 0:0 5
./all/src/one.txt f 644 0:0 4
./all/src/readme.md f 644 0:0 3
./all/src/two.txt f 644 0:0 4
./chmod f 600 0:0 4
./chmod-dir d 700 0:0
./chmod-dir/b d 700 0:0
./chmod-dir/b/deep.txt f 700 0:0 5
./chmod-dir/skip.log f 700 0:0 5
./chown-dir d 755 1000:1000
./chown-dir/b d 755 1000:1000
./chown-dir/b/deep.txt f 644 1000:1000 5
./chown-dir/skip.log f 644 1000:1000 5
./chown-id f 644 1000:65534 4
./chown-name f 644 1000:1000 4
./contents d 755 0:0
./contents/a d 755 0:0
./contents/a/b d 755 0:0
./contents/a/b/deep.txt f 644 0:0 5
./contents/a/skip.log f 644 0:0 5
./contents/one.txt f 644 0:0 4
./contents/readme.md f 644 0:0 3
./contents/two.txt f 644 0:0 4
./excluded d 755 0:0
./excluded-wild d 755 0:0
./excluded-wild/b d 755 0:0
./excluded-wild/b/deep.txt f 644 0:0 5
./excluded-wild/one.txt f 644 0:0 4
./excluded-wild/skip.log f 644 0:0 5
./excluded-wild/two.txt f 644 0:0 4
./excluded/b d 755 0:0
./excluded/b/deep.txt f 644 0:0 5
./existing d 755 0:0
./existing/one.txt f 644 0:0 4
./fromstage d 755 0:0
./fromstage/sub d 755 0:0
./fromstage/sub/artifact f 644 1000:1000 6
./heredoc.txt f 644 0:0 14
./heredocs d 755 0:0
./heredocs/A f 644 0:0 6
./heredocs/B f 644 0:0 7
./intodir d 755 0:0
./intodir/one.txt f 644 0:0 4
./multi d 755 0:0
./multi/one.txt f 644 0:0 4
./multi/two.txt f 644 0:0 4
./parents d 755 0:0
./parents/docs d 755 0:0
./parents/docs/d.txt f 644 0:0 4
./parents/src d 755 0:0
./parents/src/a d 755 0:0
./parents/src/a/b d 755 0:0
./parents/src/a/b/deep.txt f 644 0:0 5
./rel d 755 0:0
./rel/one.txt f 644 0:0 4
./rel/relative.txt f 644 0:0 4
./rel/two.txt f 644 0:0 4
./renamed.txt f 644 0:0 4
./wild d 755 0:0
./wild/one.txt f 644 0:0 4
./wild/two.txt f 644 0:0 4' "$(tree "$WORK/out" | grep -v -E "^\./($BASE)( |/)")"
expect_eq "heredoc content" "hello heredoc" "$(cat "$WORK/out/heredoc.txt")"
expect_eq "heredoc files" $'first\nsecond' "$(cat "$WORK/out/heredocs/A" "$WORK/out/heredocs/B")"

# The history shows each COPY as written.
expect_eq "history" 'COPY src/*.txt /wild/ # buildkit
COPY src /contents # buildkit
COPY src/one.txt /renamed.txt # buildkit
COPY src/one.txt /intodir/ # buildkit
COPY src/one.txt /existing # buildkit
COPY src/one.txt src/two.txt /multi/ # buildkit
COPY src/two.txt relative.txt # buildkit
COPY src/one.txt src/two.txt . # buildkit
COPY src/one.txt /chown-name # buildkit
COPY src/one.txt /chown-id # buildkit
COPY src/a /chown-dir # buildkit
COPY src/two.txt /chmod # buildkit
COPY src/a /chmod-dir # buildkit
COPY /out /fromstage # buildkit
COPY src/a/b/deep.txt docs/d.txt /parents/ # buildkit
COPY src/a /excluded # buildkit
COPY src/* /excluded-wild/ # buildkit
COPY . /all/ # buildkit
COPY <<EOT /heredoc.txt # buildkit
COPY <<A <<B /heredocs/ # buildkit
ADD src/one.txt /added.txt # buildkit' "$(image_history copied | grep -E '^(COPY|ADD)')"
echo PASS
