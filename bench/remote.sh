#!/bin/sh
# remote.sh - what a short remote job costs: N runs of `true`, one after another, alternating
# over two loopback sshd servers (127.0.0.2, 127.0.0.3, private config and keys in a temp dir),
# as plain ssh, ssh through a ControlMaster, `subproc run --host` (a master of its own per
# invocation), and the library from one process with the master held and without one.
#   sh bench/remote.sh [BUILD_DIR] [N]        (prints a markdown table, ms per job)
#   sh bench/remote.sh BUILD_DIR - --exec COMMAND...
#                        (the same servers for COMMAND, whose words @SSH@ and @HOSTS@ become the
#                        ssh command and "127.0.0.2:PORT,127.0.0.3:PORT")
#
# As root, the jobs log in as a system user made for the run (subproc-bench, login shell
# /bin/sh, removed at the end), so that what is measured is the tools and ssh, not the start-up
# files of root's login shell (bash reads ~/.bashrc for every command ssh runs).
set -eu
B=${1:-build}
N=${2:-40}
[ -x /usr/sbin/sshd ] || { echo "remote.sh: sshd is not installed (apt-get install openssh-server)"; exit 1; }
mkdir -p -m 755 /run/sshd
T=$(mktemp -d /tmp/subproc-bench-remote.XXXXXX)
chmod 755 "$T" # sshd reads authorized_keys as the user who logs in
pids=
made_user=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || :; done
    for p in $pids; do wait "$p" 2>/dev/null || :; done
    rm -rf "$T"
    if [ -n "$made_user" ]; then userdel "$made_user" 2>/dev/null || :; fi
}
trap cleanup EXIT INT TERM
user=$(id -un)
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null 2>&1; then
    if ! id subproc-bench >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir / --shell /bin/sh -p '*' subproc-bench
        made_user=subproc-bench
    fi
    user=subproc-bench
fi
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$T/userkey"
cp "$T/userkey.pub" "$T/authorized_keys"
chmod 644 "$T/authorized_keys"
port=$((20000 + $$ % 30000))
hosts=
for a in 127.0.0.2 127.0.0.3; do
    cat > "$T/sshd-$a.conf" <<EOF
ListenAddress $a
Port $port
HostKey $T/hostkey
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $T/authorized_keys
StrictModes no
PidFile none
MaxStartups 100
MaxSessions 100
EOF
    /usr/sbin/sshd -D -f "$T/sshd-$a.conf" -E "$T/sshd-$a.log" &
    pids="$pids $!"
    hosts="$hosts $a"
done
SSH="ssh -F /dev/null -o User=$user -i $T/userkey -o UserKnownHostsFile=$T/kh -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR"
# Ready: each server answers (bounded: 100 tries).
for a in $hosts; do
    i=0
    until $SSH -p $port $a true 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "remote.sh: sshd on $a did not start"; exit 1; }
        sleep 0.1
    done
done
if [ "${3:-}" = --exec ]; then
    shift 3
    hosts=127.0.0.2:$port,127.0.0.3:$port
    for a; do
        shift
        case $a in @SSH@) a=$SSH ;; @HOSTS@) a=$hosts ;; esac
        set -- "$@" "$a"
    done
    "$@"
    exit
fi
cc -std=gnu11 -O2 -Iinclude -o "$T/remote_loop" bench/remote_loop.c "$B/libsubproc.a" -pthread

now() { date +%s%N; }
per_job() { echo "$1 $2" | awk '{printf "%.1f", ($2 - $1) / 1e6 / '"$N"'}'; }

loop() { # loop FUNCTION: N calls FUNCTION HOST, alternating hosts
    t0=$(now)
    i=0
    while [ $i -lt "$N" ]; do
        if [ $((i % 2)) -eq 0 ]; then h=127.0.0.2; else h=127.0.0.3; fi
        "$1" $h >/dev/null
        i=$((i + 1))
    done
    per_job "$t0" "$(now)"
}
run_plain() { $SSH -p $port "$1" true; }
run_mux() { $SSH -p $port -o ControlMaster=no -o ControlPath="$T/cm-$1" "$1" true; }
run_cli() { "$B/subproc" run --host="$1:$port" --ssh="$SSH" true; }

plain=$(loop run_plain)
for a in $hosts; do $SSH -p $port -o ControlMaster=yes -o ControlPath="$T/cm-$a" -o ControlPersist=yes -N -f $a; done
mux=$(loop run_mux)
for a in $hosts; do $SSH -o ControlPath="$T/cm-$a" -O exit $a 2>/dev/null; done
cli=$(loop run_cli)
lib_master=$("$T/remote_loop" "$N" master $SSH -- 127.0.0.2:$port 127.0.0.3:$port)
lib_plain=$("$T/remote_loop" "$N" nomaster $SSH -- 127.0.0.2:$port 127.0.0.3:$port)

echo "| $N short jobs over two loopback hosts, one after another | ms per job |"
echo "| --- | ---: |"
echo "| ssh HOST true | $plain |"
echo "| ssh HOST true, through a ControlMaster | $mux |"
echo "| subproc run --host=HOST true (a master per invocation, two sessions) | $cli |"
echo "| library, subproc_run() with the master held (two sessions per job) | $lib_master |"
echo "| library, subproc_run() with SUBPROC_REMOTE_NO_MASTER | $lib_plain |"
