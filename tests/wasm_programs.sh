#!/usr/bin/env bash
# The example programs built to WebAssembly, run under node as a user would run the
# native ones: the same numbers as native (and as PyTorch), files read and written.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ex=$(cd "${1:?usage: wasm_programs.sh BUILD/examples DATA}" && pwd)
data=$(cd "${2:?}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
. "$here/check.sh"
wasm() { node --no-experimental-fetch "$ex/$1.js" "${@:2}"; }
export ex
export -f wasm
check "seed_rnn prints PyTorch's numbers" bash -c "wasm seed_rnn | head -2 | tr -d '\n' |
    grep -q 'tensor(\[\[\[-0.7497, -0.6135\],         \[-0.5282, -0.2473\],' && [ \"\$(wasm seed_rnn | tail -1)\" = '(3, 5, 2)' ]"
check "hello learns ihello" bash -c "wasm hello | tail -1 | grep -q 'correct'"
check "the programs say their version" bash -c "wasm bptt_lab --version | grep -qx 'bptt_lab (cgrad [0-9.]*)'"
check "bptt_lab flow: vanishing and exploding, and its files written" bash -c "
    wasm bptt_lab flow --out '$work' --length 40 > flow.txt && awk '\$1 == 0 { exit !(\$2 < 1e-6 && \$9 > 100) }' flow.txt &&
    grep -q '<svg' flow.svg && [ \$(wc -l < flow.csv) -eq 321 ]"
check "charrnn trains, saves, and samples from its checkpoint" bash -c "
    wasm charrnn train '$data/sonnets.txt' --steps 20 --eval-every 10 --hidden 16 --out '$work/c.st' | grep -q '^val_loss [0-9]' &&
    wasm charrnn sample '$work/c.st' --length 40 | grep -q ."
check "a damaged checkpoint is refused with one line" bash -c "
    head -c 100 '$work/c.st' > bad.st && ! wasm charrnn sample bad.st 2> err && [ \$(wc -l < err) -eq 1 ]"
echo "wasm_programs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
