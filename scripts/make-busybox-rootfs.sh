#!/bin/bash
# make-busybox-rootfs.sh OUT.tar: a root filesystem tarball holding only
# Debian's static busybox, its applet links, /etc/passwd and /etc/group.
# kiln imports it as the base image "busybox" so builds need no network.
set -euo pipefail
out=$1
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-busybox-rootfs: $bb not found: apt-get install busybox-static" >&2; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/home/app" "$d/usr/bin" "$d/usr/sbin" "$d/sbin"
cp "$bb" "$d/bin/busybox"
for a in $("$d/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
done
cat >"$d/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
PW
printf 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n' >"$d/etc/group"
chown 1000:1000 "$d/home/app"
chmod 1777 "$d/tmp"
tar --numeric-owner --sort=name --mtime=@0 -C "$d" -cf "$out" .
