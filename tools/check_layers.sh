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
layer_of() { # layer_of FILE HEADER: the layer folder that holds the header FILE includes, or nothing
    # (system and config headers). A header written with a folder path ("../autograd/x.h",
    # "autograd/x.h") is found where the compiler could find it: beside FILE, in a layer
    # folder, or from the source root.
    local from=$1 header=$2 dir path
    for dir in "$(dirname "$from")" tensor autograd nn optim dist .; do
        [ -f "$dir/$header" ] || continue
        path=$(realpath -m --relative-to=. "$dir/$header")
        case ${path%%/*} in
        tensor | autograd | nn | optim | dist) echo "${path%%/*}" ;;
        *) echo "outside" ;; # another folder of the tree: no layer may reach into it
        esac
        return 0
    done
    return 0
}
bad=0
for layer in tensor autograd nn optim dist; do
    for f in "$layer"/*.[ch]; do
        while IFS=: read -r line header; do
            owner=$(layer_of "$f" "$header")
            [ -z "$owner" ] && continue
            if [[ " ${allowed[$layer]} " != *" $owner "* ]]; then
                echo "$f:$line: includes $header, of ${owner/outside/a folder outside the layers}, which $layer/ may not use" >&2
                bad=1
            fi
        done < <(grep -n '^#include "' "$f" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
    done
done
[ "$bad" -eq 0 ] && echo "check_layers: tensor -> autograd -> {nn, optim, dist}: no file includes a higher layer"
exit "$bad"
