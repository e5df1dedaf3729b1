#!/usr/bin/env bash
# json-c and Check for WebAssembly: Debian has neither built for wasm, so both are built
# from Debian's own source packages (apt-get source) with emcc into PREFIX, once.
#   tools/wasm_deps.sh PREFIX
# Needs a deb-src line for bookworm (./dev.sh web adds one), dpkg-dev, cmake, emscripten.
set -euo pipefail
prefix=$(mkdir -p "$1" && cd "$1" && pwd)
[ -f "$prefix/lib/libjson-c.a" ] && [ -f "$prefix/lib/libcheck.a" ] && exit 0
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs} # Debian's emcc finds its node modules there
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for pkg in json-c check; do
    echo "wasm_deps: $pkg from Debian's source package, built with emcc into $prefix"
    apt-get source --download-only "$pkg" >/dev/null 2>&1 || { echo "wasm_deps: apt-get source $pkg failed (is there a deb-src line?)" >&2; exit 1; }
done
tar xzf json-c_*.orig.tar.gz
tar xzf check_*.orig.tar.gz
cmake_wasm() { # cmake_wasm SOURCE [options]: configure, build and install one library, quietly
    local src=$1
    shift
    mkdir -p "$src/build-wasm"
    (cd "$src/build-wasm" && emcmake cmake .. -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_TESTING=OFF "$@" >cmake.log 2>&1 &&
        emmake make -j"$(nproc)" install >make.log 2>&1) ||
        { tail -n 30 "$src"/build-wasm/*.log >&2; echo "wasm_deps: building $src failed" >&2; exit 1; }
}
cmake_wasm json-c-* -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON -DDISABLE_WERROR=ON -DBUILD_APPS=OFF
# emscripten's librt declares timer_create but has none: Check's own (libcompat) is used;
# and its headers do have struct itimerspec, which Check's probe misses without librt
cmake_wasm check-* -DCHECK_ENABLE_TESTS=OFF -DHAVE_LIBRT=0 -DHAVE_STRUCT_ITIMERSPEC_IT_VALUE=1
echo "wasm_deps: done"
