# Helpers for end-to-end tests. Source from a *_test.sh:
#   source "$(dirname "$0")/lib.sh"
# Every test gets a fresh $WORK directory and store root ($KILN_ROOT),
# removed on exit. Tests compare stdout/stderr exactly with expect_eq.
set -euo pipefail

KILN=${KILN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/kiln}
KILN_SRC=${KILN_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WORK=$(mktemp -d /tmp/kiln-e2e.XXXXXX)
export KILN_ROOT=$WORK/root
_cleanup_fns=()
_cleanup() {
  local rc=$?
  for fn in "${_cleanup_fns[@]}"; do $fn || true; done
  rm -rf "$WORK" 2>/dev/null || { umount -R "$WORK"/* 2>/dev/null; rm -rf "$WORK"; } || true
  exit $rc
}
trap _cleanup EXIT
on_exit() { _cleanup_fns+=("$1"); }

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { # expect_eq WHAT EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1" >&2
    diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") >&2 || true
    exit 1
  fi
}
# run_kiln ARGS...: runs kiln, leaving stdout in $OUT, stderr in $ERR, exit in $RC.
run_kiln() {
  set +e
  "$KILN" "$@" >"$WORK/.out" 2>"$WORK/.err"
  RC=$?
  set -e
  OUT=$(cat "$WORK/.out")
  ERR=$(cat "$WORK/.err")
}
# kiln_ok ARGS...: runs kiln and fails the test unless it exits 0.
kiln_ok() {
  run_kiln "$@"
  [ "$RC" = 0 ] || fail "kiln $* exited $RC: $ERR"
}

# make_busybox_rootfs_tar FILE: a rootfs tarball holding only a static
# busybox and its applet links, plus /etc/passwd and /etc/group.
make_busybox_rootfs_tar() {
  local out=$1 d
  d=$(mktemp -d "$WORK/rootfs.XXXXXX")
  mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root"
  cp /bin/busybox "$d/bin/busybox"
  for a in $("$d/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n' >"$d/etc/group"
  chmod 1777 "$d/tmp"
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$d" -cf "$out" .
  rm -rf "$d"
}

# start_registry [PORT]: starts Debian's docker-registry on 127.0.0.1:PORT
# (default: a free port) with storage under $WORK; sets $REGISTRY.
start_registry() {
  local port=${1:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}
  mkdir -p "$WORK/registry"
  cat >"$WORK/registry/config.yml" <<CFG
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $WORK/registry/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
CFG
  docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
  REGISTRY_PID=$!
  on_exit _stop_registry
  REGISTRY=127.0.0.1:$port
  for _ in $(seq 100); do
    curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "registry did not start: $(cat "$WORK/registry/log")"
}
_stop_registry() { kill "$REGISTRY_PID" 2>/dev/null; wait "$REGISTRY_PID" 2>/dev/null || true; }

# start_docker_engine: starts Debian's dockerd (which starts its own
# containerd, or shares a running system one under its own namespaces) with
# its socket, data and state under $WORK, no bridge and no iptables rules;
# exports DOCKER_HOST for kiln --load and the docker CLI and stops the engine
# on exit. Returns 1 (nothing started) if dockerd is not installed, so a test
# can print SKIP.
start_docker_engine() {
  command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || return 1
  local d=$WORK/docker
  mkdir -p "$d/config"
  PATH=$PATH:/usr/sbin dockerd --host "unix://$d/docker.sock" --data-root "$d/data" --exec-root "$d/exec" \
    --pidfile "$d/docker.pid" --bridge none --iptables=false --ip6tables=false \
    --containerd-namespace "kiln-e2e-$$" --containerd-plugins-namespace "kiln-e2e-$$-plugins" \
    >"$d/log" 2>&1 &
  DOCKERD_PID=$!
  on_exit _stop_docker_engine
  export DOCKER_HOST=unix://$d/docker.sock DOCKER_CONFIG=$d/config
  for _ in $(seq 300); do
    curl -fsS --unix-socket "$d/docker.sock" http://localhost/_ping >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  fail "dockerd did not start: $(tail -20 "$d/log")"
}
_stop_docker_engine() {
  kill "$DOCKERD_PID" 2>/dev/null
  for _ in $(seq 200); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$DOCKERD_PID" 2>/dev/null
  wait "$DOCKERD_PID" 2>/dev/null
  # Overlay mounts the engine left behind would stop the cleanup's rm.
  grep -F " $WORK/docker/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}
