#!/bin/sh
# deps.sh NOTES_FILE - install the Debian packages the benchmarks need that are missing.
# Runs apt-get update only when something has to be installed. A package that cannot be
# installed is not an error: its contender is reported as skipped, and NOTES_FILE says why.
notes=${1:-/dev/null}
: > "$notes"
pkgs="python3 libglib2.0-dev libuv1-dev libpipeline-dev gnuplot-nox parallel golang-go openssh-server"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench: no apt-get; not installed:$missing" | tee -a "$notes"
    exit 0
fi
sudo=
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        echo "bench: not root; not installed:$missing" | tee -a "$notes"
        exit 0
    fi
fi
echo "bench: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null 2>&1 || echo "bench: apt-get update failed" | tee -a "$notes"
# One at a time, so one package that cannot be had does not stop the others.
for p in $missing; do
    $sudo apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
        echo "bench: could not install $p" | tee -a "$notes"
done
exit 0
