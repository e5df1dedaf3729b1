#!/usr/bin/env bash
# The graph page in a real browser (headless Chromium): the page's script runs
# without error, stepping the backward pass changes which nodes are marked, and
# collapsing time steps works; a screenshot is left in BUILD/graph_page.png.
# Skipped (exit 77) where Chromium is not installed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ex=$(cd "${1:?usage: browser.sh BUILD/examples}" && pwd)
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "browser: skipped: no Chromium (apt-get install chromium)"
    exit 77
fi
if [ "${CGRAD_GRAPHVIZ:-1}" = 0 ]; then
    echo "browser: skipped: cgrad was built without Graphviz, which lays out the page"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
. "$here/check.sh"
run() { # run URL-suffix: the page's <body ...> tag after its script ran
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 \
        --dump-dom "file://$work/page.html$1" 2>/dev/null | grep -o '<body[^>]*>'
}
attr() { sed -n "s/.*data-$1=\"\([^\"]*\)\".*/\1/p"; }
check "graph --html writes the page" "$ex/graph" --out "$work" --html "$work/page.html"
check "the page needs nothing from the network" bash -c "! grep -Eq '(src|href)=\"(https?:)?//' page.html"
at0=$(run "#step=0")
at5=$(run "#step=5")
check "the script ran" bash -c "[ \"$(echo "$at0" | attr ready)\" = yes ] && [ \"$(echo "$at5" | attr ready)\" = yes ]"
check "at step 0 no op has run backward" bash -c "[ \"$(echo "$at0" | attr marked)\" = 0 ]"
check "at step 5 five ops have run backward" bash -c "[ \"$(echo "$at5" | attr marked)\" = 5 ]"
check "and more gradients have arrived" bash -c "[ \"$(echo "$at5" | attr arrived)\" -gt \"$(echo "$at0" | attr arrived)\" ]"
check "time steps collapse" bash -c "[ \"$(run '#step=3&collapse' | attr collapsed)\" = yes ]"
check "a screenshot" bash -c "timeout 120 '$browser' --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --virtual-time-budget=3000 --window-size=1500,700 --screenshot='$ex/../graph_page.png' 'file://$work/page.html#step=9' \
    >/dev/null 2>&1 && [ -s '$ex/../graph_page.png' ]"
echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
