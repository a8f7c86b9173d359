#!/bin/sh
# package-check.sh - the Debian packages: `dpkg-buildpackage -us -uc -b` on a clean clone of this
# repository (the committed tree) builds libsubproc0, libsubproc-dev and subproc; lintian reports
# no errors; each package holds what it should; unpacked into a scratch root, they build and run a
# client (pkg-config and CMake) and the command. Ends with "N passed, N failed".
# Installs dpkg-dev, debhelper and lintian with apt-get when missing (as root).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/need.sh"
tmp=$(mktemp -d /tmp/subproc-deb-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
p=0 f=0
ok() { echo "PASS deb: $*"; p=$((p + 1)); }
bad() { echo "FAIL deb: $*"; f=$((f + 1)); }
finish() { echo "$p passed, $f failed"; [ "$f" -eq 0 ]; exit; }

need dpkg-buildpackage dpkg-dev && need dh debhelper && need lintian lintian ||
  { bad "packaging tools missing"; finish; }
git clone -q "$top" "$tmp/subproc" 2>"$tmp/clone.log" || { cat "$tmp/clone.log"; bad "git clone"; finish; }

# The suite has its own pass in CI: nocheck keeps this one to packaging.
if (cd "$tmp/subproc" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
  ok "dpkg-buildpackage -us -uc -b"
else
  tail -n 40 "$tmp/build.log"
  bad "dpkg-buildpackage -us -uc -b"
  finish
fi
v=$(sed -n '1s/.*(\(.*\)).*/\1/p' "$top/debian/changelog")
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for pkg in libsubproc0 libsubproc-dev subproc; do
  [ -f "$tmp/${pkg}_${v}_${arch}.deb" ] || bad "no ${pkg}_${v}_${arch}.deb"
done

# lintian: exit status non-zero on any error (tags of lower severity are printed).
if lintian --tag-display-limit 0 "$tmp/subproc_${v}_${arch}.changes" >"$tmp/lintian.log" 2>&1; then
  ok "lintian: no errors"
else
  bad "lintian reports errors"
fi
grep -v 'root privileges' "$tmp/lintian.log"

# Contents.
has() { # has PKG PATH...
  pkg=$1
  shift
  list=$(dpkg-deb -c "$tmp/${pkg}_${v}_${arch}.deb" | awk '{print $6}' | sed 's|^\./|/|')
  for path in "$@"; do
    echo "$list" | grep -qx "$path" || { bad "$pkg lacks $path"; return; }
  done
  ok "$pkg holds $*"
}
has libsubproc0 "/usr/lib/$ma/libsubproc.so.0" "/usr/lib/$ma/libsubproc.so.$v"
has libsubproc-dev /usr/include/subproc.h "/usr/lib/$ma/libsubproc.so" "/usr/lib/$ma/libsubproc.a" \
  "/usr/lib/$ma/pkgconfig/subproc.pc" "/usr/lib/$ma/cmake/subproc/subprocConfig.cmake" \
  /usr/share/man/man3/subproc.3.gz /usr/share/man/man3/subproc_spawn.3.gz
has subproc /usr/bin/subproc /usr/share/man/man1/subproc.1.gz \
  /usr/share/bash-completion/completions/subproc /usr/share/zsh/site-functions/_subproc
if dpkg-deb -c "$tmp/libsubproc0_${v}_${arch}.deb" | grep -Eq 'include/|\.a$|libsubproc\.so$'; then
  bad "libsubproc0 holds development files"
fi
dpkg-deb -f "$tmp/libsubproc-dev_${v}_${arch}.deb" Depends | grep -q "libsubproc0 (= $v)" &&
  ok "libsubproc-dev depends on libsubproc0 (= $v)" || bad "libsubproc-dev's Depends"

# Unpacked into a scratch root: a client built with pkg-config and with CMake, and the command.
root=$tmp/root
for d in "$tmp"/*.deb; do
  case $d in *dbgsym*) ;; *) dpkg-deb -x "$d" "$root" ;; esac
done
cat >"$tmp/prog.c" <<'EOF2'
#include <stdio.h>
#include <subproc.h>
int main(void)
{
    const char *argv[] = {"sh", "-c", "exit 3", NULL};
    subproc_opts o = SUBPROC_OPTS_INIT;
    o.argv = argv;
    subproc_result r;
    int rc = subproc_run(&r, &o, NULL);
    char buf[256];
    printf("%s %d %s\n", subproc_version(), rc, subproc_result_str(&r, buf, sizeof buf));
    subproc_result_free(&r);
    return 0;
}
EOF2
want="$v 0 exited with 3"
pc() { PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/lib/$ma/pkgconfig" pkg-config "$@" subproc; }
if cc -o "$tmp/client" "$tmp/prog.c" $(pc --cflags --libs) &&
  out=$(LD_LIBRARY_PATH="$root/usr/lib/$ma" "$tmp/client") && [ "$out" = "$want" ]; then
  ok "pkg-config client against the packages: $out"
else
  bad "pkg-config client against the packages: '${out:-}', want '$want'"
fi
if need cmake cmake; then
  mkdir -p "$tmp/cm"
  cp "$tmp/prog.c" "$tmp/cm/"
  printf '%s\n' 'cmake_minimum_required(VERSION 3.10)' 'project(c C)' \
    'find_package(subproc 0.1 CONFIG REQUIRED)' 'add_executable(client prog.c)' \
    'target_link_libraries(client PRIVATE subproc::subproc)' >"$tmp/cm/CMakeLists.txt"
  if cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$root/usr" >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$tmp/cm/b" >>"$tmp/cmake.log" 2>&1 && out=$("$tmp/cm/b/client") && [ "$out" = "$want" ]; then
    ok "CMake client against the packages"
  else
    cat "$tmp/cmake.log"
    bad "CMake client against the packages"
  fi
fi
out=$("$root/usr/bin/subproc" run -t 10 -- sh -c 'exit 4'; echo $?)
[ "$out" = 4 ] && ok "the packaged subproc runs" || bad "the packaged subproc: $out"
if man -M "$root/usr/share/man" -w subproc_pipeline_spawn >/dev/null 2>&1; then
  ok "man subproc_pipeline_spawn finds the packaged page"
else
  bad "man subproc_pipeline_spawn in the packages"
fi
finish
