#!/bin/sh
# abi-check.sh LIB - compare the shared library LIB with the ABI of the last release
# (abi/libsubproc-0.1.0.abi, abidw's dump of that release's libsubproc.so) using abigail-tools'
# abidiff. Added functions pass; removed or changed functions or variables fail, and so does a
# changed type unless abi/suppressions allows it. Also: every exported symbol is a public
# subproc_ function of the SUBPROC_0.1 version node. Ends with "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
lib=$1
. "$top/tests/need.sh"
p=0 f=0
ok() { echo "PASS abi: $*"; p=$((p + 1)); }
bad() { echo "FAIL abi: $*"; f=$((f + 1)); }
if need abidiff abigail-tools; then
  report=$(abidiff --suppressions "$top/abi/suppressions" --headers-dir2 "$top/include" \
    "$top/abi/libsubproc-0.1.0.abi" "$lib")
  rc=$?
  echo "$report"
  # abidiff's status is a bit mask: 1 error, 2 usage error, 4 some change, 8 an incompatible one.
  if [ $((rc & 11)) -ne 0 ]; then
    bad "abidiff exit status $rc against 0.1.0"
  elif echo "$report" | grep -Eq 'changes summary: ([1-9][0-9]* Removed|[0-9]+ Removed, [1-9][0-9]* Changed)'; then
    bad "functions or variables of 0.1.0 were removed or changed"
  else
    ok "compatible with 0.1.0"
  fi
else
  bad "abidiff is not available"
fi
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}')
odd=$(echo "$syms" | grep -Ev '^subproc_[a-z0-9][a-z0-9_]*@@SUBPROC_0\.1$')
if [ -n "$syms" ] && [ -z "$odd" ]; then
  ok "$(echo "$syms" | wc -l) exported symbols, all subproc_*@@SUBPROC_0.1"
else
  bad "unexpected exported symbols: $odd"
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
