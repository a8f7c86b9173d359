#!/bin/sh
# Run the test binary once per spawn backend and add up the counts.
# SUBPROC_BUILD: build dir (default build). SUBPROC_VALGRIND=1: run under valgrind memcheck.
# Extra arguments select tests by name substring.
B=${SUBPROC_BUILD:-build}
wrap=
if [ "${SUBPROC_VALGRIND:-}" = 1 ]; then
  # valgrind runs clone(CLONE_VM|CLONE_VFORK) as a plain fork; the library notices and uses the
  # posix backend (subproc__have_linux_backend). pidfd_open/pidfd_send_signal are unknown to
  # valgrind 3.19 and fail with ENOSYS: the library then falls back to waitpid/kill.
  export SUBPROC_VALGRIND=1
  wrap="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --trace-children=no"
fi
total_p=0 total_f=0 total_s=0 rc=0
for backend in linux posix; do
  echo "== backend: $backend"
  out=$(mktemp)
  SUBPROC_BACKEND=$backend $wrap "$B/test_subproc" "$@" 2>&1 | tee "$out"
  line=$(grep -E '^\[.* backend\] [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "test binary did not finish ($backend backend)"
    total_f=$((total_f + 1)); rc=1
  else
    p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\2/')
    s=$(echo "$line" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\3/')
    total_p=$((total_p + p)); total_f=$((total_f + f)); total_s=$((total_s + s))
    [ "$f" -eq 0 ] || rc=1
  fi
  rm -f "$out"
done
# make install, then a program built against the installed copy: one more test.
if [ $# -eq 0 ]; then
  if sh "$(dirname "$0")/install.sh"; then total_p=$((total_p + 1)); else total_f=$((total_f + 1)); rc=1; fi
fi
if [ "$total_s" -gt 0 ]; then
  echo "$total_p passed, $total_f failed, $total_s skipped"
else
  echo "$total_p passed, $total_f failed"
fi
exit $rc
