#!/usr/bin/env bash
# Installs cgrad from BUILD into a scratch destdir and builds tests/install/consumer.c
# against it with `pkg-config --cflags --libs cgrad`, as a user outside the tree
# would: shared, then static (`pkg-config --static`). The prefix and libdir are
# the build's own (meson introspect), whatever --prefix it was configured with.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
option() { # option NAME: a build option's value (meson is Python, so python3 is here)
    meson introspect --buildoptions "$build" |
        python3 -c "import json, sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == '$1'))"
}
prefix=$(option prefix)
libdir=$(option libdir)
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
meson install -C "$build" --destdir "$dest" >/dev/null
export PKG_CONFIG_PATH="$dest$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
pkg-config --cflags cgrad | grep -qv 'json-c\|graphviz' || { echo "pkg-config --cflags leaks private include paths"; exit 1; }
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$here/consumer.c" -o "$dest/consumer" \
    $(pkg-config --cflags --libs cgrad) -lm
LD_LIBRARY_PATH="$dest$libdir" "$dest/consumer"
cc -std=c11 "$here/consumer.c" -o "$dest/consumer_static" $(pkg-config --cflags cgrad) \
    "$dest$libdir/libcgrad.a" $(pkg-config --static --libs-only-l cgrad | sed 's/-lcgrad//')
"$dest/consumer_static"
echo "install: pkg-config consumer built and ran (shared and static) from $prefix"

# Loaded after start-up (dlopen), as Python's ctypes does. cgrad's hot thread-locals use
# the initial-exec model, so its whole thread-local block takes static TLS, of which glibc
# keeps about 1.6 KB for all such libraries together: hold ours to 512 bytes.
so=$(readlink -f "$dest$libdir/libcgrad.so")
tls=$(readelf -lW "$so" | awk '$1 == "TLS" { print $6 }')
[ -z "$tls" ] || [ $((tls)) -le 512 ] || { echo "libcgrad.so's thread-local block is $((tls)) bytes (over 512)"; exit 1; }
cc -std=c11 "$here/dlopen.c" -o "$dest/dlopen_check" -ldl
"$dest/dlopen_check" "$so"
echo "install: the shared library loads with dlopen (thread-locals: $((${tls:-0})) bytes)"
