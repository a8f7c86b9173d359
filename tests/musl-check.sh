#!/bin/sh
# musl-check.sh - everything built with musl-gcc (musl-tools) in its own build dir, and the whole
# suite run on musl: both backends and the install test (which then builds its clients with
# musl-gcc too). Ends with "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/need.sh"
if ! need musl-gcc musl-tools; then
  echo "0 passed, 1 failed"
  exit 1
fi
cd "$top" && exec make --no-print-directory CC=musl-gcc B="${B:-build}-musl" check
