#!/usr/bin/env bash
# cgrad as a meson subproject, as the README shows: a project of its own with
# subprojects/cgrad and dependency('cgrad'), built and run.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/subprojects"
ln -s "$src" "$work/subprojects/cgrad"
cat > "$work/meson.build" <<'MESON'
project('user', 'c', default_options : ['c_std=c11'])
cgrad = dependency('cgrad', fallback : ['cgrad', 'cgrad_dep'])
executable('user', 'user.c', dependencies : cgrad)
MESON
cat > "$work/user.c" <<'C'
#include <cgrad.h>
int main(void)
{
    cg_frame_begin();
    cg_tensor *x = cg_tensor_from((float[]){1, 2, 3}, CG_SHAPE(3));
    cg_set_requires_grad(x, true);
    cg_backward(cg_sum(cg_mul(x, x)));
    int ok = cg_data(cg_grad(x))[2] == 6.0f;
    cg_frame_end();
    printf("subproject: d/dx sum(x*x) at 3 = %s\n", ok ? "6, as it should" : "wrong");
    return ok ? 0 : 1;
}
C
cd "$work"
meson setup build --force-fallback-for=cgrad >/dev/null
ninja -C build >/dev/null
./build/user
