#!/bin/sh
# tests/install.sh - `make install` into a DESTDIR, then build a program against the installed
# copy with pkg-config, linked statically and dynamically, and with CMake's find_package, and run
# them; a man page for every public function, found by name; the shell completion. Then
# `make install PREFIX=dir` as README.md describes it: a client linked with pkg-config's rpath
# variable runs without LD_LIBRARY_PATH. Prints PASS/FAIL.
# It builds in a build dir of its own (plain flags, no sanitizer), so it runs the same under
# `make check` and `make asan`.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# The compiler of the surrounding make (make CC=musl-gcc check exports it), for the library and
# the clients alike.
cc=${CC:-cc}
tmp=$(mktemp -d /tmp/subproc-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() {
  echo "    install: $*"
  echo "FAIL install"
  exit 1
}

# A make of its own: not the jobserver or variables of a `make check` around us (`make asan`
# passes SAN and CFLAGS down through the environment).
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" B="$tmp/build" SAN= CFLAGS="-O2 -g" CC="$cc" \
  PREFIX=/usr LIBDIR=/usr/lib DESTDIR="$tmp/root" install >"$tmp/make.log" 2>&1 ||
  { cat "$tmp/make.log"; fail "make install failed"; }
for f in usr/include/subproc.h usr/lib/libsubproc.a usr/lib/libsubproc.so usr/lib/libsubproc.so.0 \
  usr/lib/pkgconfig/subproc.pc usr/share/man/man1/subproc.1 usr/share/man/man3/subproc.3 \
  usr/lib/cmake/subproc/subprocConfig.cmake usr/lib/cmake/subproc/subprocConfigVersion.cmake \
  usr/share/bash-completion/completions/subproc usr/share/zsh/site-functions/_subproc; do
  [ -e "$tmp/root/$f" ] || fail "not installed: /$f"
done

cat >"$tmp/prog.c" <<'EOF'
#include <stdio.h>
#include <subproc.h>

int main(void)
{
    const char *argv[] = {"false", NULL}; /* found in PATH */
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_proc *p;
    subproc_error e;
    subproc_status st;
    char buf[256];
    if (subproc_spawn(&p, &o, &e) < 0) {
        printf("spawn: %s\n", subproc_error_str(&e, buf, sizeof buf));
        return 1;
    }
    subproc_proc_wait(p, &st);
    subproc_proc_free(p);
    printf("%s %s\n", subproc_version(), subproc_status_str(&st, buf, sizeof buf));
    return 0;
}
EOF

# ldd of the C library the program was built for (musl's dynamic linker lists with --list).
ldd() {
  interp=$(readelf -l "$1" 2>/dev/null | sed -n 's/.*program interpreter: \(.*\)]/\1/p')
  case $interp in
  *ld-musl*) "$interp" --list "$1" ;;
  *) command ldd "$1" ;;
  esac
}
pc() {
  PKG_CONFIG_SYSROOT_DIR="$tmp/root" PKG_CONFIG_LIBDIR="$tmp/root/usr/lib/pkgconfig" \
    pkg-config "$@" subproc
}
command -v pkg-config >/dev/null || fail "pkg-config is not installed"
pc --exists || fail "pkg-config does not find subproc.pc"
want="0.1.0 exited with 1"

# Shared: found through the installed copy only (nothing of it is on the system).
$cc -o "$tmp/prog_shared" "$tmp/prog.c" $(pc --cflags --libs) || fail "shared build failed"
out=$(LD_LIBRARY_PATH="$tmp/root/usr/lib" "$tmp/prog_shared") || fail "shared run failed: $out"
[ "$out" = "$want" ] || fail "shared: got '$out', want '$want'"
LD_LIBRARY_PATH="$tmp/root/usr/lib" ldd "$tmp/prog_shared" | grep -q "$tmp/root/usr/lib/libsubproc.so.0" ||
  fail "shared: not linked to the installed libsubproc.so.0"

# Static: the same flags with the archive preferred.
$cc -o "$tmp/prog_static" "$tmp/prog.c" $(pc --cflags) $(pc --libs-only-L) \
  -Wl,-Bstatic -lsubproc -Wl,-Bdynamic $(pc --static --libs-only-other) ||
  fail "static build failed"
if ldd "$tmp/prog_static" | grep -q libsubproc; then fail "static: still needs libsubproc.so"; fi
# The same as README.md spells it.
$cc -o "$tmp/prog_static2" "$tmp/prog.c" $(pc --cflags --libs-only-L) -l:libsubproc.a -pthread ||
  fail "static build as README.md says failed"
[ "$("$tmp/prog_static2")" = "$want" ] || fail "static (README.md): wrong output"
out=$("$tmp/prog_static") || fail "static run failed: $out"
[ "$out" = "$want" ] || fail "static: got '$out', want '$want'"

# man: every function the installed header declares has a page of its own, found by its name,
# with its errors; subproc(1) and subproc(3) too.
. "$top/tests/need.sh"
mp="$tmp/root/usr/share/man"
fns=$(sed -nE 's/^[a-z][a-z_ *]*[ *](subproc_[a-z0-9_]+)\(.*/\1/p' "$tmp/root/usr/include/subproc.h")
[ "$(echo "$fns" | wc -l)" -gt 50 ] || fail "man: found too few functions in the header"
if need man man-db; then
  for fn in $fns; do
    page=$(man -M "$mp" -w "$fn" 2>/dev/null) || fail "man: no page for $fn"
    [ "$page" = "$mp/man3/$fn.3" ] || fail "man: $fn found as $page"
    grep -q '^\.SH ERRORS' "$page" || fail "man: $fn: no ERRORS section"
  done
  man -M "$mp" subproc_spawn 2>/dev/null | grep -q 'int subproc_spawn(subproc_proc \*\*out' ||
    fail "man subproc_spawn does not show its synopsis"
  man -M "$mp" -w 1 subproc >/dev/null 2>&1 && man -M "$mp" -w 3 subproc >/dev/null 2>&1 ||
    fail "man: subproc(1) or subproc(3) not found"
fi

# CMake: find_package(subproc CONFIG) with the shared and the static imported target.
if need cmake cmake; then
  mkdir -p "$tmp/cm"
  cp "$tmp/prog.c" "$tmp/cm/prog.c"
  cat >"$tmp/cm/CMakeLists.txt" <<'EOF2'
cmake_minimum_required(VERSION 3.10)
project(client C)
find_package(subproc 0.1 CONFIG REQUIRED)
add_executable(prog_shared prog.c)
target_link_libraries(prog_shared PRIVATE subproc::subproc)
add_executable(prog_static prog.c)
target_link_libraries(prog_static PRIVATE subproc::subproc_static)
EOF2
  CC=$cc cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$tmp/root/usr" >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$tmp/cm/b" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "cmake build failed"; }
  # CMake puts the imported library's directory in the build tree's RPATH.
  out=$("$tmp/cm/b/prog_shared") || fail "cmake shared run failed: $out"
  [ "$out" = "$want" ] || fail "cmake shared: got '$out', want '$want'"
  ldd "$tmp/cm/b/prog_shared" | grep -q "$tmp/root/usr/lib/libsubproc.so.0" ||
    fail "cmake shared: not linked to the installed libsubproc.so.0"
  if ldd "$tmp/cm/b/prog_static" | grep -q libsubproc; then fail "cmake static: needs libsubproc.so"; fi
  out=$("$tmp/cm/b/prog_static") || fail "cmake static run failed: $out"
  [ "$out" = "$want" ] || fail "cmake static: got '$out', want '$want'"
  # A version this install cannot satisfy is refused.
  sed -i 's/subproc 0.1 CONFIG/subproc 1.0 CONFIG/' "$tmp/cm/CMakeLists.txt"
  if CC=$cc cmake -S "$tmp/cm" -B "$tmp/cm/b2" -DCMAKE_PREFIX_PATH="$tmp/root/usr" >/dev/null 2>&1; then
    fail "cmake: find_package(subproc 1.0) accepted 0.1.0"
  fi
fi

# bash completion: the installed script completes subcommands and each one's options.
if command -v bash >/dev/null; then
  got=$(PATH="$tmp/root/usr/bin:$PATH" bash -c '
    . "$1"
    t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _subproc; echo "${COMPREPLY[*]}"; }
    t subproc pip; t subproc run --preserve; t subproc par --keep' _ \
    "$tmp/root/usr/share/bash-completion/completions/subproc")
  [ "$got" = "$(printf 'pipe\n--preserve-status\n--keep-order')" ] ||
    fail "bash completion: got '$got'"
fi
if command -v zsh >/dev/null; then
  zsh -n "$tmp/root/usr/share/zsh/site-functions/_subproc" || fail "zsh completion: syntax"
  # compinit finds it through its #compdef line in a site-functions directory.
  got=$(zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[subproc]' \
    _ "$tmp/root/usr/share/zsh/site-functions")
  [ "$got" = _subproc ] || fail "zsh completion: compinit does not take it for subproc ($got)"
fi

# A custom prefix, as README.md says: without help the run-time linker does not find the
# library; with pkg-config's rpath variable it does.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" B="$tmp/build" SAN= CFLAGS="-O2 -g" CC="$cc" \
  PREFIX="$tmp/prefix" install >"$tmp/make2.log" 2>&1 ||
  { cat "$tmp/make2.log"; fail "make install PREFIX=dir failed"; }
pcp() { PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config "$@" subproc; }
$cc -o "$tmp/prog_plain" "$tmp/prog.c" $(pcp --cflags --libs) || fail "prefix: build failed"
if err=$(env -u LD_LIBRARY_PATH "$tmp/prog_plain" 2>&1); then
  fail "prefix: ran without rpath (is libsubproc.so.0 installed system-wide?)"
fi
# glibc: "...: cannot open shared object file"; musl: "Error loading shared library ...".
echo "$err" | grep -Eq 'libsubproc.so.0: cannot open shared object file|Error loading shared library libsubproc.so.0' ||
  fail "prefix: unexpected failure: $err"
$cc -o "$tmp/prog_rpath" "$tmp/prog.c" $(pcp --cflags --libs) $(pcp --variable=rpath) ||
  fail "prefix: build with rpath failed"
out=$(env -u LD_LIBRARY_PATH "$tmp/prog_rpath") || fail "prefix: rpath run failed: $out"
[ "$out" = "$want" ] || fail "prefix rpath: got '$out', want '$want'"

echo "PASS install"
