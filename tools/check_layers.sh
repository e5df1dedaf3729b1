#!/usr/bin/env bash
# The layering rule in one place: tensor/ -> autograd/ -> nn/ -> optim/ (optim
# knows nothing of nn either). A file may include headers of its own layer and
# of the layers below it, never above. The build enforces the same rule (each
# layer is compiled with only the include directories it may use); this script
# says it plainly and fails, naming the file and the line, when it is broken.
set -euo pipefail
cd "$(dirname "$0")/.."
# the headers each layer may include (its own and the lower layers')
declare -A allowed=(
    [tensor]="tensor"
    [autograd]="tensor autograd"
    [nn]="tensor autograd nn"
    [optim]="tensor autograd optim"
    [dist]="tensor autograd dist"
)
layer_of() { # layer_of HEADER: the folder that holds it, or nothing for system/config headers
    for l in tensor autograd nn optim dist; do
        if [ -f "$l/$1" ]; then
            echo "$l"
            return 0
        fi
    done
    return 0
}
bad=0
for layer in tensor autograd nn optim dist; do
    for f in "$layer"/*.[ch]; do
        while IFS=: read -r line header; do
            owner=$(layer_of "$header")
            [ -z "$owner" ] && continue
            if [[ " ${allowed[$layer]} " != *" $owner "* ]]; then
                echo "$f:$line: includes $header, of $owner/, which $layer/ may not use" >&2
                bad=1
            fi
        done < <(grep -n '^#include "' "$f" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
    done
done
[ "$bad" -eq 0 ] && echo "check_layers: tensor -> autograd -> {nn, optim, dist}: no file includes a higher layer"
exit "$bad"
