#!/bin/bash
# ADD <http url> against a local HTTP server (python3 -m http.server):
# destination naming, mode 0600 and Last-Modified as mtime, --chown/--chmod,
# a remote tar left packed, --checksum, the content-keyed cache (downloaded
# each build, cached while unchanged), and the errors: 404, unreachable
# host, checksum mismatch. ADD <git url> against `git daemon`: #ref:subdir,
# --keep-git-dir, submodules, the commit-keyed cache and a bad ref. Remote
# build contexts: a tarball URL, a Dockerfile URL, a git repository.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox

# --- The HTTP server. ---
WWW=$WORK/www
mkdir -p "$WWW/dl"
printf 'echo tool v1\n' >"$WWW/dl/tool.sh"
touch -d @1700000000 "$WWW/dl/tool.sh"
mkdir -p "$WORK/tarsrc" && echo inside >"$WORK/tarsrc/f"
tar -C "$WORK/tarsrc" -cf "$WWW/app.tar" f
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$WWW" "$PORT" >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
stop_http() { kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null || true; }
on_exit stop_http
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/app.tar" >/dev/null && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT

CTX=$WORK/ctx
mkdir -p "$CTX"
SUM=$(sha256sum "$WWW/dl/tool.sh" | cut -d' ' -f1)
cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM busybox
ADD $URL/dl/tool.sh /usr/local/bin/tool
ADD $URL/app.tar /opt/
ADD --chown=app:app --chmod=750 $URL/dl/tool.sh?x=1 /home/app/
ADD --checksum=sha256:$SUM $URL/dl/tool.sh /checked
RUN stat -c '%n %a %u:%g %s %Y' /usr/local/bin/tool /opt/app.tar /home/app/tool.sh /checked && cat /checked
DOCKERFILE

kiln_ok build --progress=plain -t remote "$CTX"
expect_eq "downloaded files" "[6/6] /usr/local/bin/tool 600 0:0 13 1700000000
[6/6] /opt/app.tar 600 0:0 $(stat -c %s "$WWW/app.tar") 1700000000
[6/6] /home/app/tool.sh 750 1000:1000 13 1700000000
[6/6] /checked 600 0:0 13 1700000000
[6/6] echo tool v1" "$(step_output "$ERR" | sed "s/ $(stat -c %Y "$WWW/app.tar")\$/ 1700000000/")"
expect_eq "history" "ADD $URL/dl/tool.sh /usr/local/bin/tool # buildkit
ADD $URL/app.tar /opt/ # buildkit
ADD $URL/dl/tool.sh?x=1 /home/app/ # buildkit
ADD $URL/dl/tool.sh /checked # buildkit" "$(image_history remote | grep '^ADD')"

# Unchanged content: every step is a cache hit, though the files were
# downloaded again (BuildKit keys a download by its content).
: >"$WORK/http.log"
kiln_ok build --progress=plain -t remote "$CTX"
expect_eq "second build cached" "[2/6] CACHED
[3/6] CACHED
[4/6] CACHED
[5/6] CACHED
[6/6] CACHED" "$(step_states "$ERR" | grep -v -e 1/6 -e internal)"
# --checksum lets the cache answer without a download.
expect_eq "downloads on a cache hit" "3" "$(grep -c 'GET /' "$WORK/http.log")"

# Changed content: the steps that fetched it rerun (the --checksum one now
# fails: the server's file no longer matches it).
printf 'echo tool v2\n' >"$WWW/dl/tool.sh"
cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM busybox
ADD $URL/dl/tool.sh /usr/local/bin/tool
RUN cat /usr/local/bin/tool
DOCKERFILE
kiln_ok build --progress=plain "$CTX"
expect_eq "changed content reruns" "[3/3] echo tool v2" "$(step_output "$ERR")"

# A URL as the build context: a tarball is the context, a plain file is the
# Dockerfile (with an empty context).
mkdir -p "$WORK/urlctx"
printf 'FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n' >"$WORK/urlctx/Dockerfile"
echo hello-from-tarball >"$WORK/urlctx/hello.txt"
tar -C "$WORK/urlctx" -czf "$WWW/ctx.tar.gz" .
printf 'FROM busybox\nRUN echo from-a-plain-dockerfile\n' >"$WWW/Dockerfile.remote"
kiln_ok build --progress=plain "$URL/ctx.tar.gz"
expect_eq "tarball context" "[3/3] hello-from-tarball" "$(step_output "$ERR")"
kiln_ok build --progress=plain "$URL/Dockerfile.remote"
expect_eq "Dockerfile URL" "[2/2] from-a-plain-dockerfile" "$(step_output "$ERR")"
run_kiln build --progress=quiet "$URL/missing.tar"
expect_eq "missing URL context" "error: GET $URL/missing.tar: HTTP status 404" "$ERR"

# --- Errors. ---
printf 'FROM busybox\nADD --checksum=sha256:%s %s/dl/tool.sh /t\n' "$SUM" "$URL" >"$CTX/Dockerfile"
run_kiln build --progress=quiet "$CTX"
expect_eq "checksum mismatch exit" 1 "$RC"
expect_eq "checksum mismatch" "error: Dockerfile:2:1: checksum mismatch for $URL/dl/tool.sh: expected sha256:$SUM, got sha256:$(sha256sum "$WWW/dl/tool.sh" | cut -d' ' -f1)" \
  "$(echo "$ERR" | grep '^error:')"

printf 'FROM busybox\nADD %s/nope.txt /t\n' "$URL" >"$CTX/Dockerfile"
run_kiln build --progress=quiet "$CTX"
expect_eq "404 exit" 1 "$RC"
expect_eq "404" "error: Dockerfile:2:1: GET $URL/nope.txt: HTTP status 404" "$(echo "$ERR" | grep '^error:')"

printf 'FROM busybox\nADD http://127.0.0.1:1/x.txt /t\n' >"$CTX/Dockerfile"
run_kiln build --progress=quiet "$CTX"
expect_eq "unreachable exit" 1 "$RC"
expect_eq "unreachable" "error: Dockerfile:2:1: GET http://127.0.0.1:1/x.txt: Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server" \
  "$(echo "$ERR" | grep '^error:' | sed -E 's/after [0-9]+ ms/after 0 ms/')"

printf 'FROM busybox\nCOPY %s/dl/tool.sh /t\n' "$URL" >"$CTX/Dockerfile"
run_kiln build --progress=quiet "$CTX"
expect_eq "COPY of a URL" "error: Dockerfile:2:1: source can't be a URL for COPY" "$(echo "$ERR" | grep '^error:')"

# --- ADD <git url>, served by git daemon. ---
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
SRC=$WORK/gitsrc
git init -q -b main "$SRC"
mkdir -p "$SRC/docs"
echo top >"$SRC/README"
echo guide-v1 >"$SRC/docs/guide.md"
git -C "$SRC" add -A && git -C "$SRC" commit -q -m one && git -C "$SRC" tag v1
V1_COMMIT=$(git -C "$SRC" rev-parse HEAD)
echo guide-v2 >"$SRC/docs/guide.md"
git -C "$SRC" commit -q -am two
mkdir -p "$WORK/git"
GPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A submodule, fetched from the daemon too.
git init -q -b main "$WORK/libsrc"
echo lib >"$WORK/libsrc/lib.txt"
git -C "$WORK/libsrc" add -A && git -C "$WORK/libsrc" commit -q -m lib
git clone -q --bare "$WORK/libsrc" "$WORK/git/lib.git"
git -C "$SRC" -c protocol.file.allow=always submodule add -q "git://127.0.0.1:$GPORT/lib.git" lib 2>/dev/null ||
  { git -C "$SRC" -c protocol.file.allow=always submodule add -q "$WORK/git/lib.git" lib &&
    git -C "$SRC" config -f .gitmodules submodule.lib.url "git://127.0.0.1:$GPORT/lib.git"; }
mkdir -p "$SRC/app"
printf 'FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n' >"$SRC/app/Dockerfile"
echo hello-from-git >"$SRC/app/hello.txt"
ln -s /etc "$SRC/app/escape"
git -C "$SRC" add -A
git -C "$SRC" commit -q -m "add lib and app"
git clone -q --bare "$SRC" "$WORK/git/repo.git"
git daemon --reuseaddr --export-all --base-path="$WORK/git" --listen=127.0.0.1 --port="$GPORT" "$WORK/git" \
  >"$WORK/gitd.log" 2>&1 &
GITD_PID=$!
stop_gitd() { kill "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null || true; }
on_exit stop_gitd
GIT=git://127.0.0.1:$GPORT/repo.git
for _ in $(seq 50); do git ls-remote "$GIT" >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM busybox
ADD $GIT#v1:docs /v1/
ADD --keep-git-dir=true $GIT#main /main
ADD $GIT /head
RUN find /v1 /head | sort && cat /v1/guide.md /main/docs/guide.md && test -f /main/.git/HEAD && echo has-git-dir
DOCKERFILE
kiln_ok build --progress=plain "$CTX"
expect_eq "git checkouts" "[5/5] /head
[5/5] /head/.gitmodules
[5/5] /head/README
[5/5] /head/app
[5/5] /head/app/Dockerfile
[5/5] /head/app/escape
[5/5] /head/app/hello.txt
[5/5] /head/docs
[5/5] /head/docs/guide.md
[5/5] /head/lib
[5/5] /head/lib/lib.txt
[5/5] /v1
[5/5] /v1/guide.md
[5/5] guide-v1
[5/5] guide-v2
[5/5] has-git-dir" "$(step_output "$ERR")"

# Same commits: cached. A new commit on main reruns the steps that read it,
# not the tag's.
kiln_ok build --progress=plain "$CTX"
expect_eq "git cached" "[2/5] CACHED
[3/5] CACHED
[4/5] CACHED
[5/5] CACHED" "$(step_states "$ERR" | grep -v -e 1/5 -e internal)"
echo guide-v3 >"$SRC/docs/guide.md"
git -C "$SRC" commit -q -am three
git -C "$SRC" push -q "$WORK/git/repo.git" main
kiln_ok build --progress=plain "$CTX"
expect_eq "new commit" "[2/5] CACHED
[3/5] DONE
[4/5] DONE
[5/5] DONE" "$(step_states "$ERR" | grep -v -e 1/5 -e internal)"

# A commit id as the ref.
printf 'FROM busybox\nADD %s#%s /c\nRUN cat /c/docs/guide.md\n' "$GIT" "$V1_COMMIT" >"$CTX/Dockerfile"
kiln_ok build --progress=plain "$CTX"
expect_eq "commit ref" "[3/3] guide-v1" "$(step_output "$ERR")"

# A git repository as the build context: URL#ref:subdir.
kiln_ok build --progress=plain "$GIT#main:app"
expect_eq "git context" "[3/3] hello-from-git" "$(step_output "$ERR")"
run_kiln build --progress=quiet "$GIT#main:app/escape"
expect_eq "git context escape" "error: \"app/escape\" leads out of the git context" "$ERR"
run_kiln build --progress=quiet -f escape/passwd "$GIT#main:app"
expect_eq "git dockerfile escape" "error: \"escape/passwd\" leads out of the git context" "$ERR"

printf 'FROM busybox\nADD %s#nope /x\n' "$GIT" >"$CTX/Dockerfile"
run_kiln build --progress=quiet "$CTX"
expect_eq "bad ref exit" 1 "$RC"
expect_eq "bad ref" "error: Dockerfile:2:1: git ref \"nope\" not found in $GIT" "$(echo "$ERR" | grep '^error:')"

printf 'FROM busybox\nADD git://127.0.0.1:1/x.git /x\n' >"$CTX/Dockerfile"
run_kiln build --progress=quiet "$CTX"
expect_eq "unreachable git exit" 1 "$RC"
expect_eq "unreachable git" "error: Dockerfile:2:1: git ls-remote git://127.0.0.1:1/x.git: 127.0.0.1[0: 127.0.0.1]: errno=Connection refused" \
  "$(echo "$ERR" | grep '^error:')"

echo PASS
