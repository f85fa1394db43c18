#!/bin/bash
# kiln build --load against a real Docker engine (Debian's docker.io, started
# here on a private socket): the engine gets the image under its tags with
# kiln's image ID and config, `docker run` runs what the build wrote, a second
# --load moves the tag. Then the errors: no engine, a tcp:// DOCKER_HOST, and
# an engine that refuses the archive (a stand-in server).
source "$(dirname "$0")/lib.sh"

if ! start_docker_engine; then
  echo "SKIP: dockerd is not installed (apt-get install docker.io)"
  exit 0
fi

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest
CTX=$WORK/ctx
mkdir -p "$CTX"
cat >"$CTX/Dockerfile" <<'EOF'
FROM busybox
ENV GREETING=hello
LABEL org.example.kind=load-test
WORKDIR /app
RUN echo "built by kiln" >/app/built.txt
CMD ["cat", "/app/built.txt"]
EOF

kiln_ok build --load -t kiln-load:1 -t kiln-load:latest --iidfile "$WORK/iid" "$CTX"
ID=$(cat "$WORK/iid")
expect_eq "docker's image ID is kiln's" "$ID" "$(docker image inspect --format '{{.Id}}' kiln-load:1)"
expect_eq "tags" '["kiln-load:1","kiln-load:latest"]' \
  "$(docker image inspect kiln-load:1 | jq -c '.[0].RepoTags | sort')"
expect_eq "config" '{"Cmd":["cat","/app/built.txt"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello"],"Labels":{"org.example.kind":"load-test"},"WorkingDir":"/app"}' \
  "$(docker image inspect kiln-load:1 | jq -c '.[0].Config | {Cmd, Env, Labels, WorkingDir}')"
expect_eq "same config as kiln's" "$("$KILN" inspect kiln-load:1 | jq -c '.[0].Config | {Cmd, Env, Labels}')" \
  "$(docker image inspect kiln-load:1 | jq -c '.[0].Config | {Cmd, Env, Labels}')"
expect_eq "layers" "$("$KILN" inspect kiln-load:1 | jq -c '.[0].RootFS.Layers')" \
  "$(docker image inspect kiln-load:1 | jq -c '.[0].RootFS.Layers')"
expect_eq "docker run (CMD)" "built by kiln" "$(docker run --rm --network none kiln-load:1)"
expect_eq "docker run cat" "built by kiln" "$(docker run --rm --network none kiln-load:latest cat /app/built.txt)"
expect_eq "docker run env and workdir" "hello /app" \
  "$(docker run --rm --network none kiln-load:1 sh -c 'echo "$GREETING $(pwd)"')"

# A changed build loaded under the same tag replaces it in the engine.
sed -i 's/built by kiln/rebuilt by kiln/' "$CTX/Dockerfile"
kiln_ok build -q --load -t kiln-load:1 "$CTX"
ID2=$OUT
[ "$ID2" != "$ID" ] || fail "the rebuild has the old ID"
expect_eq "moved tag" "$ID2" "$(docker image inspect --format '{{.Id}}' kiln-load:1)"
expect_eq "old tag kept" "$ID" "$(docker image inspect --format '{{.Id}}' kiln-load:latest)"
expect_eq "docker run rebuilt" "rebuilt by kiln" "$(docker run --rm --network none kiln-load:1)"

# --- Errors. ---
DOCKER_HOST=unix://$WORK/no-engine.sock run_kiln build -q --load -t kiln-load:1 "$CTX"
expect_eq "no engine" "1 error: cannot reach the Docker engine at $WORK/no-engine.sock: Couldn't connect to server
while loading docker.io/library/kiln-load:1 into Docker
hint: is the Docker engine running? set DOCKER_HOST=unix:///path/to/docker.sock" "$RC $ERR"
DOCKER_HOST=tcp://127.0.0.1:2375 run_kiln build -q --load -t kiln-load:1 "$CTX"
expect_eq "tcp DOCKER_HOST" '1 error: --load supports unix:// DOCKER_HOST only, got "tcp://127.0.0.1:2375"' "$RC $ERR"

# An engine that reads the archive and then reports an error in its
# progress stream (as dockerd does for a bad archive), and one that answers
# with an HTTP error.
cat >"$WORK/fake_engine.py" <<'EOF'
import http.server, os, socketserver, sys
sock, status, body = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        with open(sock + ".request", "w") as f:
            f.write("%s %s %s %d %s\n" % (self.command, self.path, self.headers.get("Content-Type"), len(data), data[257:262].decode()))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *a): pass
class S(socketserver.UnixStreamServer):
    def get_request(self):
        r, _ = super().get_request()
        return r, ("local", 0)
S(sock, H).serve_forever()
EOF
fake_engine() { # fake_engine NAME STATUS BODY: serves on $WORK/NAME.sock
  python3 "$WORK/fake_engine.py" "$WORK/$1.sock" "$2" "$3" &
  FAKE_PIDS+=("$!")
  for _ in $(seq 100); do [ -S "$WORK/$1.sock" ] && return 0; sleep 0.05; done
  fail "fake engine $1 did not start"
}
FAKE_PIDS=()
_stop_fakes() { for p in "${FAKE_PIDS[@]}"; do kill "$p" 2>/dev/null; done; return 0; }
on_exit _stop_fakes
fake_engine refuses 200 '{"stream":"Loading layer"}
{"errorDetail":{"message":"Error processing tar file(exit status 1): unexpected EOF"},"error":"Error processing tar file(exit status 1): unexpected EOF"}
'
DOCKER_HOST=unix://$WORK/refuses.sock run_kiln build -q --load -t kiln-load:1 "$CTX"
expect_eq "refused in the stream" "1 error: the Docker engine at $WORK/refuses.sock refused the image: Error processing tar file(exit status 1): unexpected EOF
while loading docker.io/library/kiln-load:1 into Docker" "$RC $ERR"
# What kiln sent: a docker-archive tar (ustar magic at offset 257) of the
# size it announced.
expect_eq "request" "POST /images/load?quiet=1 application/x-tar ustar" \
  "$(cut -d' ' -f1-3,5 "$WORK/refuses.sock.request")"
[ "$(cut -d' ' -f4 "$WORK/refuses.sock.request")" -gt 10000 ] || fail "short upload: $(cat "$WORK/refuses.sock.request")"
fake_engine http500 500 '{"message":"write /var/lib/docker/tmp/docker-import-1: no space left on device"}'
DOCKER_HOST=unix://$WORK/http500.sock run_kiln build -q --load -t kiln-load:1 "$CTX"
expect_eq "HTTP error" "1 error: the Docker engine at $WORK/http500.sock answered HTTP 500: write /var/lib/docker/tmp/docker-import-1: no space left on device
while loading docker.io/library/kiln-load:1 into Docker" "$RC $ERR"

# Nothing of the archives is left in kiln's scratch area.
leftover=$(find "$KILN_ROOT" -name image.tar | wc -l)
expect_eq "no archive left" "0" "$leftover"
echo PASS
