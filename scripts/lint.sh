#!/bin/bash
# House-style checks that the compiler does not make: a folder's
# *_internal.h is included only from that folder, no trailing whitespace
# in non-test sources (test inputs may need it inside raw strings), and
# openat2's RESOLVE_IN_ROOT only in sys/in_root.cc.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS=: read -r file _ line; do
  folder=$(echo "$file" | cut -d/ -f2)
  inc=$(echo "$line" | sed -E 's/.*#include "([^"]+)".*/\1/')
  if [ "${inc%%/*}" != "$folder" ]; then
    echo "lint: $file includes $inc, private to src/${inc%%/*}/" >&2
    bad=1
  fi
done < <(grep -rn '#include "[a-z_]*/[a-z_/]*_internal.h"' src || true)
if grep -rnE '[[:space:]]+$' src --include=*.cc --include=*.h | grep -v '_test\.cc:' >&2; then
  echo "lint: trailing whitespace (above)" >&2
  bad=1
fi
# In-root path resolution has one home, sys/in_root.h: a second copy drifts
# (kiln had two, with different symlink and error rules).
if grep -rn 'RESOLVE_IN_ROOT' src --include=*.cc --include=*.h | grep -v '^src/sys/in_root\.' |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' >&2; then
  echo "lint: RESOLVE_IN_ROOT outside src/sys/in_root.cc (above): use sys::OpenInRoot and friends" >&2
  bad=1
fi
[ "$bad" = 0 ] && echo "lint: ok"
exit "$bad"
