#!/bin/bash
# RUN --mount=type=ssh: OpenSSH's own ssh-add -l in the step lists the key
# of an ssh-agent started here (--ssh default) and of a key file served by
# kiln's in-process agent (--ssh mykey=FILE); the private key's bytes never
# appear under $KILN_ROOT or in kiln's output.
source "$(dirname "$0")/lib.sh"
SCAN="python3 $(cd "$(dirname "$0")" && pwd)/secrets_scan.py"

make_busybox_rootfs_tar "$WORK/rootfs.tar"
kiln_ok import "$WORK/rootfs.tar" busybox:latest

# The host's ssh-add with its shared libraries, copied into the image.
mkdir -p "$WORK/ctx/sshbin/usr/bin"
cp /usr/bin/ssh-add "$WORK/ctx/sshbin/usr/bin/"
for lib in $(ldd /usr/bin/ssh-add | grep -oE '/[^ ]+'); do
  mkdir -p "$WORK/ctx/sshbin$(dirname "$lib")"
  cp -L "$lib" "$WORK/ctx/sshbin$lib"
done
cd "$WORK/ctx"
ssh-keygen -q -t ed25519 -N "" -C kiln-e2e-agent -f "$WORK/agent_key"
ssh-keygen -q -t ed25519 -N "" -C kiln-e2e-file -f "$WORK/file_key"
# The key material (base64 body lines of the private key files) must never
# be copied anywhere.
grep -vh -- '-----' "$WORK/agent_key" "$WORK/file_key" >"$WORK/secrets.list"

eval "$(ssh-agent -s -a "$WORK/agent.sock")" >/dev/null
stop_agent() { kill "$SSH_AGENT_PID" 2>/dev/null || true; }
on_exit stop_agent
ssh-add -q "$WORK/agent_key" 2>/dev/null
AGENT_FP=$(ssh-keygen -lf "$WORK/agent_key.pub")
FILE_FP=$(ssh-keygen -lf "$WORK/file_key.pub")

cat >Dockerfile <<'EOF'
FROM busybox
COPY sshbin/ /
RUN --mount=type=ssh ssh-add -l && echo "sock=$SSH_AUTH_SOCK"
RUN --mount=type=ssh,id=mykey,target=/tmp/agent.sock,required SSH_AUTH_SOCK=/tmp/agent.sock ssh-add -l
RUN --mount=type=ssh,id=absent test -z "$SSH_AUTH_SOCK" && echo "no agent"
RUN test ! -e /run/buildkit && test ! -e /tmp/agent.sock && echo clean >/clean
EOF
kiln_ok build --no-cache --progress=plain --ssh default --ssh "mykey=$WORK/file_key" -t sshed .
printf '%s' "$ERR" >"$WORK/build.log"
steps=$(echo "$ERR" | grep -E '^#[0-9]+ [0-9.]+ ' | sed -E 's/^#([0-9]+) [0-9.]+ /#\1 /')
expect_eq "step output" "#4 $AGENT_FP
#4 sock=/run/buildkit/ssh_agent.0
#5 $FILE_FP
#6 no agent" "$steps"

# The agent's keys stay put: a step cannot add or remove keys.
cat >Dockerfile.remove <<'EOF'
FROM busybox
COPY sshbin/ /
RUN --mount=type=ssh if ssh-add -D; then echo removed; else echo refused; fi
EOF
kiln_ok build --no-cache --progress=plain --ssh default -f Dockerfile.remove .
printf '%s' "$ERR" >>"$WORK/build.log"
echo "$ERR" | grep -qE '^#4 [0-9.]+ refused$' || fail "ssh-add -D was not refused: $ERR"
expect_eq "agent after the build" "$AGENT_FP" "$(ssh-add -l)"

# A required ssh id that was not given.
printf 'FROM busybox\nRUN --mount=type=ssh,id=gh,required true\n' >Dockerfile.req
run_kiln build --progress=plain -f Dockerfile.req .
expect_eq "required ssh" '1 error: Dockerfile.req:2:1: ssh agent "gh" is required but was not provided' \
  "$RC $(echo "$ERR" | grep '^error: ')"

set +e
report=$($SCAN "$WORK/secrets.list" "$KILN_ROOT" "$WORK/build.log")
rc=$?
set -e
[ "$rc" = 0 ] || fail "private key bytes found: $report"
echo PASS
