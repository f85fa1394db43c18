#!/bin/bash
# kiln build on bad input: each error names the file:line, quotes the line
# with a caret where a Dockerfile location is known, and exits 1 (2 for
# usage errors); the whole stderr is compared.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$WORK/ctx
mkdir -p "$CTX" "$WORK/outside"
echo secret >"$WORK/outside/x"
echo in >"$CTX/in.txt"
ln -s "$WORK/outside" "$CTX/out-link"
ln -s ../outside/x "$CTX/rel-link"

# build_fails DOCKERFILE_TEXT: builds $CTX with that Dockerfile, expecting exit 1.
build_fails() {
  printf '%s\n' "$1" >"$CTX/Dockerfile"
  run_kiln build -q "$CTX"
  expect_eq "exit status for: $1" 1 "$RC"
  expect_eq "no stdout for: $1" "" "$OUT"
}

# Missing context path.
run_kiln build -q "$WORK/nope"
expect_eq "missing context rc" 1 "$RC"
expect_eq "missing context" "error: unable to prepare context: path \"$WORK/nope\" not found" "$ERR"

# Missing Dockerfile in an existing context.
run_kiln build -q "$WORK/outside"
expect_eq "missing Dockerfile rc" 1 "$RC"
expect_eq "missing Dockerfile" "error: failed to read dockerfile: open $WORK/outside/Dockerfile: no such file or directory
hint: pass the Dockerfile with -f, or run kiln build in the directory that has it" "$ERR"

# COPY of a missing file.
build_fails $'FROM busybox\nCOPY missing.txt /x'
expect_eq "missing COPY source" 'error: Dockerfile:2:1: failed to compute cache key: "/missing.txt": not found
 2 | COPY missing.txt /x
   | ^
hint: the path must exist in the build context and not be excluded by .dockerignore' "$ERR"

# A wildcard that matches nothing.
build_fails $'FROM busybox\nCOPY *.nothing /x/'
expect_eq "empty wildcard" 'error: Dockerfile:2:1: failed to compute cache key: no source files were specified matching "*.nothing"
 2 | COPY *.nothing /x/
   | ^
hint: the path must exist in the build context and not be excluded by .dockerignore' "$ERR"

# ../ cannot leave the context: it is cleaned to a path inside it.
build_fails $'FROM busybox\nCOPY ../outside/x /x'
expect_eq "COPY ../" 'error: Dockerfile:2:1: failed to compute cache key: "/outside/x": not found
 2 | COPY ../outside/x /x
   | ^
hint: the path must exist in the build context and not be excluded by .dockerignore' "$ERR"

# Symlinks leading out of the context resolve inside it (absolute and relative).
build_fails $'FROM busybox\nCOPY out-link/x /x'
expect_eq "COPY through absolute symlink" 'error: Dockerfile:2:1: failed to compute cache key: "/out-link/x": not found
 2 | COPY out-link/x /x
   | ^
hint: the path must exist in the build context and not be excluded by .dockerignore' "$ERR"
build_fails $'FROM busybox\nCOPY rel-link /x'
expect_eq "COPY through relative symlink" 'error: Dockerfile:2:1: failed to compute cache key: "/rel-link": not found
 2 | COPY rel-link /x
   | ^
hint: the path must exist in the build context and not be excluded by .dockerignore' "$ERR"

# Several sources need a directory destination.
echo in2 >"$CTX/in2.txt"
build_fails $'FROM busybox\nCOPY in.txt in2.txt /nodir'
expect_eq "several sources" 'error: Dockerfile:2:1: When using COPY with more than one source file, the destination must be a directory and end with a /
 2 | COPY in.txt in2.txt /nodir
   | ^' "$ERR"

# A bind mount of a missing context path.
build_fails $'FROM busybox\nRUN --mount=type=bind,source=nope,target=/x true'
expect_eq "missing bind source" 'error: Dockerfile:2:1: stat nope: No such file or directory
 2 | RUN --mount=type=bind,source=nope,target=/x true
   | ^' "$ERR"

# Unknown instruction: caret and suggestion.
build_fails $'FROM busybox\n\nRUNN echo hi'
expect_eq "unknown instruction" 'error: Dockerfile:3:1: unknown instruction "RUNN" (did you mean "RUN"?)
 3 | RUNN echo hi
   | ^' "$ERR"

# A --from that names no stage is read as an image; a near stage name is
# suggested. The proxy makes the pull fail the same way everywhere.
export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
build_fails $'FROM busybox AS build\nRUN echo > /a\nFROM busybox\nCOPY --from=buld /a /x'
unset https_proxy HTTPS_PROXY
expect_eq "unknown stage" 'error: Dockerfile:4:1: GET https://registry-1.docker.io/v2/library/buld/manifests/latest: Failed to connect to 127.0.0.1 port 9 after N ms: Couldn'"'"'t connect to server
 4 | COPY --from=buld /a /x
   | ^
while fetching manifest latest
while pulling docker.io/library/buld:latest
hint: "buld" is not a stage of this Dockerfile, so it was read as an image; did you mean stage "build"?' \
  "$(echo "$ERR" | sed -E 's/after [0-9]+ ms/after N ms/')"

# A stage used before it is defined.
printf 'FROM busybox AS first\nCOPY --from=later /a /x\nFROM busybox AS later\n' >"$CTX/Dockerfile"
run_kiln build -q --target first "$CTX"
expect_eq "stage used before definition rc" 1 "$RC"
expect_eq "stage used before definition" 'error: Dockerfile:2:1: stage "later" must be defined before it is used
 2 | COPY --from=later /a /x
   | ^' "$ERR"

# A failing RUN: exit code, file:line and the last output lines.
build_fails $'FROM busybox\nRUN echo one; echo two; echo three; exit 3'
expect_eq "failing RUN" 'error: Dockerfile:2:1: process "/bin/sh -c echo one; echo two; echo three; exit 3" did not complete successfully: exit code: 3
 2 | RUN echo one; echo two; echo three; exit 3
   | ^
hint: last output lines:
  one
  two
  three' "$ERR"
# The plain progress shows the output and the failed step.
run_kiln build --progress=plain "$CTX"
expect_eq "failing RUN (plain) rc" 1 "$RC"
expect_eq "failing RUN (plain)" '#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s

#2 [1/2] FROM busybox
#2 DONE 0.0s

#3 [2/2] RUN echo one; echo two; echo three; exit 3
#3 T one
#3 T two
#3 T three
#3 ERROR: process "/bin/sh -c echo one; echo two; echo three; exit 3" did not complete successfully: exit code: 3
error: Dockerfile:2:1: process "/bin/sh -c echo one; echo two; echo three; exit 3" did not complete successfully: exit code: 3
 2 | RUN echo one; echo two; echo three; exit 3
   | ^
hint: last output lines:
  one
  two
  three' "$(echo "$ERR" | sed -E 's/^(#[0-9]+) [0-9]+\.[0-9]+ /\1 T /')"

# Exec form: the argv is shown as JSON.
build_fails $'FROM busybox\nRUN ["/bin/false"]'
expect_eq "failing exec-form RUN" 'error: Dockerfile:2:1: process "[\"/bin/false\"]" did not complete successfully: exit code: 1
 2 | RUN ["/bin/false"]
   | ^' "$ERR"

# Unsupported platform.
printf 'FROM busybox\n' >"$CTX/Dockerfile"
run_kiln build -q --platform linux/arm64 "$CTX"
expect_eq "platform rc" 1 "$RC"
expect_eq "platform" 'error: platform "linux/arm64" is not supported: kiln builds for the host (linux/amd64) only
hint: drop --platform, or build on a machine of that platform' "$ERR"

# A base image that is not in the store (and cannot be pulled).
export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
build_fails $'FROM nosuchimage:1'
unset https_proxy HTTPS_PROXY
expect_eq "missing base" 'error: Dockerfile:1:1: GET https://registry-1.docker.io/v2/library/nosuchimage/manifests/1: Failed to connect to 127.0.0.1 port 9 after N ms: Couldn'"'"'t connect to server
 1 | FROM nosuchimage:1
   | ^
while fetching manifest 1
while pulling docker.io/library/nosuchimage:1' "$(echo "$ERR" | sed -E 's/after [0-9]+ ms/after N ms/')"
echo PASS
