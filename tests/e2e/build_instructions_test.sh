#!/bin/bash
# Every Dockerfile instruction, checked against the image config, its
# history (created_by / empty_layer as BuildKit writes them) and the files
# the build produced.
source "$(dirname "$0")/lib.sh"
source "$KILN_SRC/tests/testdata/build/build_lib.sh"

import_busybox
CTX=$KILN_SRC/tests/testdata/build/instructions

kiln_ok build -q --build-arg GREETING=hi --label extra=yes -t instr -o "type=local,dest=$WORK/out" "$CTX"
image_config instr >"$WORK/config.json"

expect_eq "config" '{
  "Entrypoint": [
    "/bin/sh",
    "-ec",
    "echo shell-entrypoint"
  ],
  "Env": [
    "PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "APP_HOME=/srv/app"
  ],
  "ExposedPorts": {
    "53/udp": {},
    "8080/tcp": {}
  },
  "Healthcheck": {
    "Interval": 30000000000,
    "Retries": 3,
    "Test": [
      "CMD-SHELL",
      "wget -q -O- http://localhost:8080/ || exit 1"
    ],
    "Timeout": 3000000000
  },
  "Labels": {
    "extra": "yes",
    "org.example.name": "kiln test",
    "stage": "base"
  },
  "Shell": [
    "/bin/sh",
    "-ec"
  ],
  "StopSignal": "SIGQUIT",
  "User": "root",
  "Volumes": {
    "/data": {},
    "/logs": {}
  },
  "WorkingDir": "/srv/app/work"
}' "$(jq -S .config "$WORK/config.json")"
expect_eq "platform" "amd64 linux" "$(jq -r '.architecture + " " + .os' "$WORK/config.json")"
expect_eq "no OnBuild left" "null" "$(jq -c .config.OnBuild "$WORK/config.json")"

expect_eq "history" 'ARG GREETING=hello (empty)
ARG UNUSED (empty)
ENV APP_HOME=/srv/app PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin (empty)
LABEL org.example.name=kiln test stage=base (empty)
WORKDIR /srv/app/work
RUN |2 GREETING=hi UNUSED= /bin/sh -c echo "$GREETING from $(pwd)" > greeting.txt # buildkit
RUN |2 GREETING=hi UNUSED= /bin/sh -c echo exec-form $APP_HOME > exec.txt # buildkit
RUN |2 GREETING=hi UNUSED= /bin/sh -c echo heredoc line1 > heredoc.txt
echo heredoc line2 >> heredoc.txt
 # buildkit
SHELL [/bin/sh -ec] (empty)
RUN |2 GREETING=hi UNUSED= /bin/sh -ec echo "shell=$0 flags=$-" > shell.txt # buildkit
USER app (empty)
RUN |2 GREETING=hi UNUSED= /bin/sh -ec id -u > /tmp/uid.txt # buildkit
USER 1000:1000 (empty)
RUN |2 GREETING=hi UNUSED= /bin/sh -ec id -u > /tmp/uid-numeric.txt && id -g >> /tmp/uid-numeric.txt # buildkit
USER root (empty)
EXPOSE map[53/udp:{} 8080/tcp:{}] (empty)
VOLUME [/data /logs] (empty)
STOPSIGNAL SIGQUIT (empty)
HEALTHCHECK &{["CMD-SHELL" "wget -q -O- http://localhost:8080/ || exit 1"] "30s" "3s" "0s" "0s" '"'"'\x03'"'"'} (empty)
ENTRYPOINT ["/bin/app"] (empty)
CMD ["--serve"] (empty)
ONBUILD RUN echo triggered > /onbuild.txt (empty)
RUN |2 GREETING=hi UNUSED= /bin/sh -ec echo triggered > /onbuild.txt # buildkit
ENTRYPOINT ["/bin/sh" "-ec" "echo shell-entrypoint"] (empty)' "$(jq -r '.history[1:][] | .created_by + (if .empty_layer then " (empty)" else "" end)' "$WORK/config.json")"
# Every built entry carries BuildKit's comment and the build's time.
expect_eq "history comments" "buildkit.dockerfile.v0" \
  "$(jq -r '[.history[1:][] | .comment] | unique | join(",")' "$WORK/config.json")"
expect_eq "history times" "$(jq -r .created "$WORK/config.json")" \
  "$(jq -r '[.history[1:][] | .created] | unique | join(",")' "$WORK/config.json")"
# One layer per non-empty history entry.
expect_eq "layers vs history" "$(jq '[.history[] | select(.empty_layer | not)] | length' "$WORK/config.json")" \
  "$(jq '.rootfs.diff_ids | length' "$WORK/config.json")"

# The files each step wrote, as the RUNs saw them.
W=$WORK/out/srv/app/work
expect_eq "RUN shell form + build arg" "hi from /srv/app/work" "$(cat "$W/greeting.txt")"
expect_eq "RUN exec form (no variable expansion by kiln, the shell does it)" "exec-form /srv/app" "$(cat "$W/exec.txt")"
expect_eq "RUN heredoc" $'heredoc line1\nheredoc line2' "$(cat "$W/heredoc.txt")"
expect_eq "SHELL applies to RUN (busybox sh lists c and e)" "shell=/bin/sh flags=ce" "$(cat "$W/shell.txt")"
expect_eq "USER by name" "1000" "$(cat "$WORK/out/tmp/uid.txt")"
expect_eq "USER uid:gid" $'1000\n1000' "$(cat "$WORK/out/tmp/uid-numeric.txt")"
expect_eq "ONBUILD trigger ran in the child" "triggered" "$(cat "$WORK/out/onbuild.txt")"
expect_eq "WORKDIR created" "d 755 0:0" "$(stat -c '%F %a %u:%g' "$W" | sed 's/directory/d/')"

# ONBUILD in an image: kept in its config, run by a build FROM it, then gone.
kiln_ok build -q --target base -t onbuild-base "$CTX"
expect_eq "ONBUILD kept" '["RUN echo triggered > /onbuild.txt"]' "$(image_config onbuild-base | jq -c .config.OnBuild)"
mkdir -p "$WORK/child"
printf 'FROM onbuild-base\nRUN cat /onbuild.txt > /seen\n' >"$WORK/child/Dockerfile"
kiln_ok build -q -t onbuild-child -o "type=local,dest=$WORK/child-out" "$WORK/child"
expect_eq "ONBUILD from an image" "triggered" "$(cat "$WORK/child-out/seen")"
expect_eq "ONBUILD consumed" "null" "$(image_config onbuild-child | jq -c .config.OnBuild)"

# FROM scratch + COPY --from a stage: only that file.
kiln_ok build -q --build-arg GREETING=hey --target files -o "type=local,dest=$WORK/files" "$CTX"
expect_eq "scratch stage tree" "./greeting.txt f 644 0:0 23" "$(tree "$WORK/files")"
expect_eq "scratch stage content" "hey from /srv/app/work" "$(cat "$WORK/files/greeting.txt")"

# A lone RUN heredoc starting with "#!" runs as a file at /dev/pipes/<name>
# (BuildKit), through its own interpreter line, and leaves no trace.
mkdir -p "$WORK/shebang"
cat >"$WORK/shebang/Dockerfile" <<'DOCKERFILE'
FROM busybox
RUN <<EOF
#!/bin/sh -e
echo "arg0=$0 opts=$-" > /script.txt
EOF
RUN <<EOF
echo "plain=$0" >> /script.txt
EOF
DOCKERFILE
kiln_ok build -q -t shebang -o "type=local,dest=$WORK/shebang-out" "$WORK/shebang"
expect_eq "shebang heredoc ran as a file" $'arg0=/dev/pipes/EOF opts=e\nplain=/bin/sh' \
  "$(cat "$WORK/shebang-out/script.txt")"
[ ! -e "$WORK/shebang-out/dev/pipes" ] || fail "/dev/pipes left in the image"
echo PASS
