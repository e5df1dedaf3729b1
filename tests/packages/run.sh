#!/usr/bin/env bash
# cgrad as C users take it, each way in building and running the README's example:
#  1. installed under a prefix of one's own (--prefix=DIR/cgrad): built with pkg-config
#     and run with no LD_LIBRARY_PATH (pkg-config --libs carries the rpath), and built
#     with CMake (find_package(cgrad CONFIG), cgrad::cgrad), shared and static;
#  2. the Debian packages (dpkg-buildpackage -us -uc -b, from a copy of the tree):
#     their contents checked with dpkg-deb, lintian without errors where it is
#     installed, then unpacked into a throwaway root and the example built against
#     that root with pkg-config and with CMake, and run.
# Needs cmake, dpkg-dev, debhelper (./dev.sh packages installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$src/tests/check.sh"
# the README's first C example, exactly as written there
sed -n '/^```c$/,/^```$/p' "$src/README.md" | sed '1d;$d' | sed -n '1,/^}$/p' > "$work/readme.c"
cp "$here/CMakeLists.txt" "$work/CMakeLists.txt"

# ---- 1. a prefix of one's own ----------------------------------------------------------------
prefix="$work/home/cgrad"
meson setup "$work/b" "$src" --prefix="$prefix" -Dtests=false -Dmpi=disabled >/dev/null
ninja -C "$work/b" >/dev/null
meson install -C "$work/b" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name cgrad.pc)")
check "pkg-config build under a prefix of one's own runs with no LD_LIBRARY_PATH" bash -c "
    cc -std=c11 '$work/readme.c' -o '$work/pc' \$(PKG_CONFIG_PATH='$pcdir' pkg-config --cflags --libs cgrad) &&
    env -u LD_LIBRARY_PATH '$work/pc' | tail -1 | grep -q '^step 19 loss'"
check "CMake find_package(cgrad 0.1 CONFIG) under that prefix, shared" bash -c "
    cmake -S '$work' -B '$work/cm' -DCMAKE_PREFIX_PATH='$prefix' >/dev/null && cmake --build '$work/cm' >/dev/null &&
    env -u LD_LIBRARY_PATH '$work/cm/readme' | tail -1 | grep -q '^step 19 loss'"
check "CMake, static on request" bash -c "
    cmake -S '$work' -B '$work/cs' -DCMAKE_PREFIX_PATH='$prefix' -DCGRAD_STATIC=ON >/dev/null &&
    cmake --build '$work/cs' >/dev/null && ! ldd '$work/cs/readme' | grep -q libcgrad &&
    '$work/cs/readme' | tail -1 | grep -q '^step 19 loss'"
check "CMake refuses a version the install does not meet" bash -c "
    sed 's/cgrad 0.1 CONFIG/cgrad 9.0 CONFIG/' '$work/CMakeLists.txt' > '$work/v.txt' && mkdir -p '$work/v' &&
    cp '$work/readme.c' '$work/v/' && cp '$work/v.txt' '$work/v/CMakeLists.txt' &&
    ! cmake -S '$work/v' -B '$work/vb' -DCMAKE_PREFIX_PATH='$prefix' >/dev/null 2>&1"

# ---- 2. the Debian packages ---------------------------------------------------------------------
mkdir -p "$work/deb/tree" # dpkg-buildpackage writes the packages beside the tree it builds: a copy's
(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/deb/tree/")
(cd "$work/deb/tree" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b >"$work/dpkg.log" 2>&1) ||
    { tail -30 "$work/dpkg.log"; echo "packages: dpkg-buildpackage failed"; exit 1; }
arch=$(dpkg --print-architecture)
v=$(cd "$src" && dpkg-parsechangelog -S Version)
debs=("$work/deb/libcgrad0_${v}_$arch.deb" "$work/deb/libcgrad-dev_${v}_$arch.deb" "$work/deb/cgrad-examples_${v}_$arch.deb")
check "dpkg-buildpackage made libcgrad0, libcgrad-dev and cgrad-examples" ls "${debs[@]}"
check "libcgrad0 holds the shared library under its soname" bash -c "
    dpkg-deb -c '${debs[0]}' | grep -q 'libcgrad.so.0 ->' && ! dpkg-deb -c '${debs[0]}' | grep -q 'include/'"
check "libcgrad-dev holds the header, static library, pkg-config and CMake files" bash -c "
    c=\$(dpkg-deb -c '${debs[1]}'); for f in include/cgrad.h include/cgrad/tensor.h libcgrad.a pkgconfig/cgrad.pc \
    cmake/cgrad/cgradConfig.cmake cmake/cgrad/cgradConfigVersion.cmake; do echo \"\$c\" | grep -q \"\$f\" || exit 1; done"
check "cgrad-examples holds the programs and their texts" bash -c "
    c=\$(dpkg-deb -c '${debs[2]}'); for f in bin/cgrad-hello bin/cgrad-charrnn bin/cgrad-wordgen bin/cgrad-bptt-lab \
    bin/cgrad-graph share/cgrad/tinyshakespeare.txt; do echo \"\$c\" | grep -q \"\$f\" || exit 1; done"
if command -v lintian >/dev/null; then
    check "lintian finds no error" bash -c "! lintian --no-tag-display-limit ${debs[*]} 2>&1 | grep '^E:'"
fi
root="$work/root"
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$root"; done
libdir=$(dirname "$(find "$root" -name libcgrad.so.0)")
check "the README example builds against the packages with pkg-config and runs" bash -c "
    cc -std=c11 '$work/readme.c' -o '$work/dpc' \$(PKG_CONFIG_SYSROOT_DIR='$root' PKG_CONFIG_PATH='$libdir/pkgconfig' \
        pkg-config --cflags --libs cgrad) && learned() { \"\$@\" | tail -1 | grep -q '^step 19 loss'; } &&
    LD_LIBRARY_PATH='$libdir' learned '$work/dpc'"
check "and with CMake against the packages" bash -c "
    cmake -S '$work' -B '$work/dcm' -DCMAKE_PREFIX_PATH='$root/usr' >/dev/null && cmake --build '$work/dcm' >/dev/null &&
    '$work/dcm/readme' | tail -1 | grep -q '^step 19 loss'"
check "cgrad-hello from the package runs, and says its version" bash -c "
    LD_LIBRARY_PATH='$libdir' '$root/usr/bin/cgrad-hello' >/dev/null &&
    LD_LIBRARY_PATH='$libdir' '$root/usr/bin/cgrad-charrnn' --version | grep -qx \"charrnn (cgrad $v)\""
echo "packages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
