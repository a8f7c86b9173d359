#!/bin/sh
# demo.sh - the five classic examples and the subproc command doing real work.
# Usage: sh examples/demo.sh [BUILD_DIR]     (make demo runs it after make)
# Each command is printed ("$ ...") before its output, as a shell transcript would show it.
set -eu
B=${1:-build}
X=$B/examples
S=$B/subproc
for f in "$S" "$X/pipes" "$X/exitstatus" "$X/launcher" "$X/forking" "$X/environ" "$X/dialogue"; do
    [ -x "$f" ] || { echo "demo: $f is missing: run make first" >&2; exit 1; }
done

step() { printf '\n=== %s\n' "$*"; }
note() { printf '(%s)\n' "$*"; }
# Print a command the way a shell would take it back: words with special characters quoted.
say() {
    printf '$'
    for a; do
        case $a in
        '' | *[!A-Za-z0-9_./=:,+@%-]*) printf " '%s'" "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")" ;;
        *) printf ' %s' "$a" ;;
        esac
    done
    printf '\n'
}
# Print the command, then run it; the demo stops if it fails.
run() { say "$@"; "$@"; }
# Print the command, run it, and show its exit status (the point of the demonstration).
show_status() { say "$@"; set +e; "$@"; rc=$?; set -e; echo "(exit status $rc)"; }

step "pipes: a child sends 'Spam N' through a pipe; raw 32-byte reads split and merge them, the line reader does not"
run "$X/pipes" 5 both
note "'killed by SIGPIPE' is expected: the line reader stops after 5 lines and closes the pipe; the child, which would write forever, dies of SIGPIPE at its next write, and the parent reaps it"
step "exitstatus: children run a function and exit with a code; the parent reads each status (the last one dies of SIGTERM)"
run "$X/exitstatus" 3
step "launcher: spawn another program with an argument; an exec failure comes back to the parent"
run "$X/launcher" 2
run "$X/launcher" 1 no-such-program-for-the-demo
step "forking: a child runs only the function it was given, and its return value is its exit code"
run "$X/forking" 2
step "environ: a child sees the parent's environment, output captured, and a variable set for one child only"
run "$X/environ"

step "dialogue: python3 -i on a pseudo-terminal, driven by its prompts; Ctrl-C and Ctrl-D typed as a user would"
"$X/dialogue"

step "subproc run: a 0.5 s deadline for a program that would sleep 10 s, with a JSON report (exit status 124)"
show_status "$S" run --timeout=0.5 --json=- -- sleep 10
step "subproc run --capture: a grandchild keeps the output pipe open; the deadline still ends it at 1 s"
show_status "$S" run --capture --timeout=1 --json=- -- sh -c 'sleep 30 & echo hi'
step "subproc pipe: seq 1000 | grep 7 | wc -l without a shell; pipestatus shows every stage"
show_status "$S" pipe --json=- -- seq 1000 '|' grep 7 '|' wc -l
step "subproc pipe: a failing middle stage decides the status (pipefail), unless --no-pipefail"
show_status "$S" pipe -- seq 3 '|' sh -c 'cat >/dev/null; exit 3' '|' cat
show_status "$S" pipe --no-pipefail -- seq 3 '|' sh -c 'cat >/dev/null; exit 3' '|' cat
step "subproc run --pty: ls on a terminal writes colours (ESC [ ... m) and columns 120 wide"
"$S" run --pty --pty-size=10x120 --capture --json=- -- ls --color=auto -C / </dev/null
step "subproc par: one job per input, 3 at once, each job's lines printed together, in input order (-k)"
run "$S" par -j3 -k -- sh -c 'echo "job {} starts"; sleep 0.1; echo "job {} ends"' ::: 1 2 3 4 5
step "subproc par: two of four jobs fail; they are listed at the end and the exit status counts them"
show_status "$S" par -- sh -c 'exit $0' ::: 0 1 0 2
printf '\ndemo: done\n'
