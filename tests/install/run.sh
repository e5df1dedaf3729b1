#!/usr/bin/env bash
# Installs cgrad from BUILD into a scratch prefix and builds tests/install/consumer.c
# against it with `pkg-config --cflags --libs cgrad`, as a user outside the tree would.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
meson install -C "$build" --destdir "$prefix" >/dev/null
root="$prefix/usr/local"
libdir=$(dirname "$(find "$root" -name cgrad.pc | head -n 1)")
export PKG_CONFIG_PATH="$libdir"
export PKG_CONFIG_SYSROOT_DIR="$prefix"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$here/consumer.c" -o "$prefix/consumer" \
    $(pkg-config --cflags --libs cgrad) -lm
LD_LIBRARY_PATH="$prefix/usr/local/lib:$(dirname "$libdir")" "$prefix/consumer"
# and statically, from libcgrad.a
cc -std=c11 "$here/consumer.c" -o "$prefix/consumer_static" $(pkg-config --cflags cgrad) \
    "$(dirname "$libdir")/libcgrad.a" $(pkg-config --libs json-c) -lm -lpthread
"$prefix/consumer_static"
echo "install: pkg-config consumer built and ran (shared and static)"
