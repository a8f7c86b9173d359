# need.sh - sourced by the packaging checks: `need COMMAND PACKAGE...` makes sure COMMAND exists,
# installing the Debian PACKAGEs with apt-get when it does not and we are root (with one
# `apt-get update` when the first try fails). Returns non-zero, saying what is missing, otherwise.
need() {
  cmd=$1
  shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; }
  fi
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "missing: $cmd (install $*)"
  return 1
}
