#!/bin/bash
# --build-context NAME=DIR: COPY --from=NAME, RUN --mount=from=NAME and
# FROM NAME read that directory with its own .dockerignore (the main
# context's rules do not apply to it), a change in it reruns the steps that
# read it, and a missing directory is an error.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
DOCS=$WORK/docs
mkdir -p "$CTX" "$DOCS/sub"
printf '*.md\n' >"$CTX/.dockerignore"
printf 'private.txt\n' >"$DOCS/.dockerignore"
echo readme >"$DOCS/README.md"
echo private >"$DOCS/private.txt"
echo s >"$DOCS/sub/s.txt"
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM docs AS fromdocs

FROM busybox
COPY --from=docs . /docs/
COPY --from=fromdocs /sub/s.txt /from-stage.txt
RUN --mount=from=docs,target=/m cat /m/README.md /m/sub/s.txt
DOCKERFILE

kiln_ok build --progress=plain --build-context docs="$DOCS" -t named -o "type=local,dest=$WORK/out" "$CTX"
expect_eq "files" "./docs d 755 0:0
./docs/.dockerignore f 644 0:0 12
./docs/README.md f 644 0:0 7
./docs/sub d 755 0:0
./docs/sub/s.txt f 644 0:0 2
./from-stage.txt f 644 0:0 2" "$(tree "$WORK/out" | grep -e '^./docs' -e '^./from-stage')"
expect_eq "mount" "[stage-1 4/4] readme
[stage-1 4/4] s" "$(step_output "$ERR")"

# Unchanged: cached; a changed file reruns the steps that read it.
kiln_ok build --progress=plain --build-context docs="$DOCS" "$CTX"
expect_eq "cached" "" "$(step_states "$ERR" | grep -v -e CACHED -e internal -e '1/4\]' -e 'fromdocs 1/1' || true)"
echo s2 >"$DOCS/sub/s.txt"
kiln_ok build --progress=plain --build-context docs="$DOCS" -o "type=local,dest=$WORK/out2" "$CTX"
expect_eq "rerun after change" "[stage-1 4/4] s2" "$(step_output "$ERR" | tail -1)"
expect_eq "copied again" "s2" "$(cat "$WORK/out2/from-stage.txt")"
# Files the named context's .dockerignore excludes are not there.
[ ! -e "$WORK/out/docs/private.txt" ] || fail "private.txt was copied"

run_kiln build --progress=quiet --build-context docs="$WORK/nope" "$CTX"
expect_eq "missing dir exit" 1 "$RC"
expect_eq "missing dir" "error: --build-context docs: directory \"$WORK/nope\" not found" "$ERR"

echo PASS
