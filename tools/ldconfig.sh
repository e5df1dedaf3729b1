#!/bin/sh
# Run by `meson install`: refresh the dynamic linker's cache after a real (not
# DESTDIR) install as root, so programs linked with `pkg-config --libs cgrad`
# find libcgrad.so at run time without LD_LIBRARY_PATH.
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
    ldconfig
fi
