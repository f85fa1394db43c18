#!/bin/bash
# ADD <git url> with credentials in the URL, against a git smart-HTTP server
# on 127.0.0.1 that wants basic auth (git http-backend behind a small python3
# server). The clone works with the right credentials (a submodule on the same
# server, given by a relative URL, too) and fails with a redacted URL with
# wrong ones. The password is on no argv of any process (a PATH shim logs
# every git kiln starts; the server reads every process's command line while
# git talks to it), in no file kiln wrote under --root or to the output, in no
# log; a kept .git names the remote redacted; the cache record is redacted
# and a second build is cached. A git build context with credentials, too.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox

USER_NAME=alice
PASSWORD='s3cr:t/p@ss%w0rd'
PASSWORD_IN_URL='s3cr%3At%2Fp%40ss%25w0rd'
AUTH_B64=$(printf '%s:%s' "$USER_NAME" "$PASSWORD" | base64 -w0)
# The password after a rotation (it holds the first one, so every check for
# that catches this one as given and in the URL too).
PASSWORD2="$PASSWORD-2"
PASSWORD2_IN_URL="$PASSWORD_IN_URL-2"
AUTH2_B64=$(printf '%s:%s' "$USER_NAME" "$PASSWORD2" | base64 -w0)

# --- Repositories: repo.git (hello.txt, app/, submodule lib at ../lib.git). ---
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
mkdir -p "$WORK/git"
git init -q -b main "$WORK/libsrc"
echo lib >"$WORK/libsrc/lib.txt"
git -C "$WORK/libsrc" add -A && git -C "$WORK/libsrc" commit -q -m lib
git clone -q --bare "$WORK/libsrc" "$WORK/git/lib.git"
SRC=$WORK/src
git init -q -b main "$SRC"
echo hello >"$SRC/hello.txt"
mkdir -p "$SRC/app"
printf 'FROM busybox\nCOPY msg /\nRUN cat /msg\n' >"$SRC/app/Dockerfile"
echo context-from-private-git >"$SRC/app/msg"
git -C "$SRC" -c protocol.file.allow=always submodule add -q "$WORK/git/lib.git" lib
git -C "$SRC" config -f .gitmodules submodule.lib.url ../lib.git
git -C "$SRC" add -A && git -C "$SRC" commit -q -m one
git clone -q --bare "$SRC" "$WORK/git/repo.git"

# --- The server. It reads the Authorization it wants from a file on each
# request; the needles reach it through its environment, never its argv. ---
cat >"$WORK/git_http.py" <<'PY'
import base64, http.server, os, subprocess, sys

ROOT = sys.argv[1]
WANT_FILE = sys.argv[3]
NEEDLES = [n.encode() for n in os.environ["NEEDLES"].split("\n")]
LEAKS = sys.argv[2]

def scan_argvs():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if any(n in cmd for n in NEEDLES):
            with open(LEAKS, "ab") as f:
                f.write(cmd.replace(b"\0", b" ") + b"\n")

class Handler(http.server.BaseHTTPRequestHandler):
    def serve(self):
        scan_argvs()
        with open(WANT_FILE) as f:
            want = "Basic " + f.read().strip()
        if self.headers.get("Authorization") != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": ROOT, "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
               "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "REMOTE_USER": "alice",
               "REMOTE_ADDR": "127.0.0.1"}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

    do_GET = do_POST = serve

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
: >"$WORK/argv-leaks"
echo "$AUTH_B64" >"$WORK/want-auth"
NEEDLES="$PASSWORD"$'\n'"$PASSWORD_IN_URL"$'\n'"$AUTH_B64"$'\n'"$AUTH2_B64" \
  python3 "$WORK/git_http.py" "$WORK/git" "$WORK/argv-leaks" "$WORK/want-auth" >"$WORK/port" 2>"$WORK/http.log" &
HTTP_PID=$!
stop_http() { kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null || true; }
on_exit stop_http
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
HOSTPORT=127.0.0.1:$(cat "$WORK/port")
REPO=http://$USER_NAME:$PASSWORD_IN_URL@$HOSTPORT/repo.git
SHOWN=http://$USER_NAME:xxxxx@$HOSTPORT/repo.git

# Every git kiln starts goes through this shim, which logs its argv.
mkdir -p "$WORK/shim"
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>%s\nexec %s "$@"\n' "$WORK/git-argvs" "$(command -v git)" >"$WORK/shim/git"
chmod +x "$WORK/shim/git"
export PATH=$WORK/shim:$PATH

# leaks_under PATH...: the files under PATH that hold the password in any form
# (as given, percent-encoded, as the Authorization header's base64).
leaks_under() {
  grep -r -a -l -D skip -F -e "$PASSWORD" -e "$PASSWORD_IN_URL" -e "$AUTH_B64" -e "$AUTH2_B64" "$@" || true
}

# --- ADD with the right credentials, keeping .git. ---
CTX=$WORK/ctx
mkdir -p "$CTX"
cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM busybox
ADD --keep-git-dir=true $REPO#main /src
RUN cat /src/hello.txt /src/lib/lib.txt && grep url /src/.git/config
DOCKERFILE
kiln_ok build --progress=plain -o "type=local,dest=$WORK/out" -t private "$CTX"
expect_eq "cloned with credentials" "[3/3] hello
[3/3] lib
[3/3] 	url = $SHOWN
[3/3] 	url = http://$HOSTPORT/lib.git" "$(step_output "$ERR")"
expect_eq "kept .git config origin" "$SHOWN" "$(git --git-dir="$WORK/out/src/.git" config --get remote.origin.url)"
expect_eq "history" "ADD $SHOWN#main /src # buildkit" "$(image_history private | grep '^ADD')"
grep -q " ls-remote -- http://$HOSTPORT/repo.git\$" "$WORK/git-argvs" || fail "the shim saw no ls-remote: $(cat "$WORK/git-argvs")"
expect_eq "git argvs holding the password" "" "$(grep -F -e "$PASSWORD" -e "$PASSWORD_IN_URL" "$WORK/git-argvs" || true)"
expect_eq "argvs holding the password while git ran" "" "$(cat "$WORK/argv-leaks")"
expect_eq "files holding the password" "" "$(leaks_under "$KILN_ROOT" "$WORK/out")"
expect_eq "progress holding the password" "" \
  "$(printf '%s\n%s\n' "$OUT" "$ERR" | grep -F -e "$PASSWORD" -e "$PASSWORD_IN_URL" -e "$AUTH_B64" || true)"

# The password rotates, the commit stays: cached, with only ls-remote run.
# The cache key holds the URL redacted, so it does not change with the
# password.
echo "$AUTH2_B64" >"$WORK/want-auth"
sed -i "s|$USER_NAME:$PASSWORD_IN_URL@|$USER_NAME:$PASSWORD2_IN_URL@|" "$CTX/Dockerfile"
: >"$WORK/git-argvs"
kiln_ok build --progress=plain -t private "$CTX"
expect_eq "cached across a password change" "[2/3] CACHED
[3/3] CACHED" "$(step_states "$ERR" | grep -v -e 1/3 -e internal)"
expect_eq "git runs for the cached build" " ls-remote -- http://$HOSTPORT/repo.git" \
  "$(sed 's/^.* ls-remote/ ls-remote/' "$WORK/git-argvs")"
expect_eq "argvs holding the password after rotation" "" "$(cat "$WORK/argv-leaks")"

# --- Wrong credentials: a clear error, the URL redacted. ---
sed -i "s|$USER_NAME:$PASSWORD2_IN_URL@|$USER_NAME:wrong-$PASSWORD2_IN_URL@|" "$CTX/Dockerfile"
run_kiln build --progress=plain "$CTX"
expect_eq "wrong password exit" 1 "$RC"
expect_eq "wrong password" "error: Dockerfile:2:1: git ls-remote $SHOWN: fatal: Authentication failed for 'http://$HOSTPORT/repo.git/'" \
  "$(echo "$ERR" | grep '^error:')"
expect_eq "wrong password in the progress" "" "$(echo "$ERR" | grep '^#' | grep -F -e "$PASSWORD_IN_URL" || true)"

# --- A private git repository as the build context. The URL is on kiln's
# own command line (the user put it there), so kiln's process is left out
# of the argv check. ---
: >"$WORK/argv-leaks"
: >"$WORK/git-argvs"
kiln_ok build --progress=plain "http://$USER_NAME:$PASSWORD2_IN_URL@$HOSTPORT/repo.git#main:app"
expect_eq "git context" "[3/3] context-from-private-git" "$(step_output "$ERR")"
expect_eq "git argvs holding the password (context)" "" \
  "$(grep -F -e "$PASSWORD" -e "$PASSWORD_IN_URL" "$WORK/git-argvs" || true)"
expect_eq "argvs holding the password (context)" "" "$(grep -v "^$KILN " "$WORK/argv-leaks" || true)"
expect_eq "files holding the password (context)" "" "$(leaks_under "$KILN_ROOT")"
