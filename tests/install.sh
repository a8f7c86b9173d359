#!/bin/sh
# tests/install.sh - `make install` into a DESTDIR, then build a program against the installed
# copy with pkg-config, linked statically and dynamically, and run both. Prints PASS/FAIL.
# It builds in a build dir of its own (plain flags, no sanitizer), so it runs the same under
# `make check` and `make asan`.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/subproc-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() {
  echo "    install: $*"
  echo "FAIL install"
  exit 1
}

# A make of its own: not the jobserver or variables of a `make check` around us (`make asan`
# passes SAN and CFLAGS down through the environment).
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" B="$tmp/build" SAN= CFLAGS="-O2 -g" \
  PREFIX=/usr LIBDIR=/usr/lib DESTDIR="$tmp/root" install >"$tmp/make.log" 2>&1 ||
  { cat "$tmp/make.log"; fail "make install failed"; }
for f in usr/include/subproc.h usr/lib/libsubproc.a usr/lib/libsubproc.so usr/lib/libsubproc.so.0 \
  usr/lib/pkgconfig/subproc.pc usr/share/man/man1/subproc.1 usr/share/man/man3/subproc.3; do
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

pc() {
  PKG_CONFIG_SYSROOT_DIR="$tmp/root" PKG_CONFIG_LIBDIR="$tmp/root/usr/lib/pkgconfig" \
    pkg-config "$@" subproc
}
command -v pkg-config >/dev/null || fail "pkg-config is not installed"
pc --exists || fail "pkg-config does not find subproc.pc"
want="0.1.0 exited with 1"

# Shared: found through the installed copy only (nothing of it is on the system).
cc -o "$tmp/prog_shared" "$tmp/prog.c" $(pc --cflags --libs) || fail "shared build failed"
out=$(LD_LIBRARY_PATH="$tmp/root/usr/lib" "$tmp/prog_shared") || fail "shared run failed: $out"
[ "$out" = "$want" ] || fail "shared: got '$out', want '$want'"
LD_LIBRARY_PATH="$tmp/root/usr/lib" ldd "$tmp/prog_shared" | grep -q "$tmp/root/usr/lib/libsubproc.so.0" ||
  fail "shared: not linked to the installed libsubproc.so.0"

# Static: the same flags with the archive preferred.
cc -o "$tmp/prog_static" "$tmp/prog.c" $(pc --cflags) $(pc --libs-only-L) \
  -Wl,-Bstatic -lsubproc -Wl,-Bdynamic $(pc --static --libs-only-other) ||
  fail "static build failed"
if ldd "$tmp/prog_static" | grep -q libsubproc; then fail "static: still needs libsubproc.so"; fi
out=$("$tmp/prog_static") || fail "static run failed: $out"
[ "$out" = "$want" ] || fail "static: got '$out', want '$want'"

echo "PASS install"
