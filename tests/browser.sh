#!/usr/bin/env bash
# The graph page in a real browser (headless Chromium): the page's script runs
# without error, stepping the backward pass changes which nodes are marked, and
# collapsing time steps works; a screenshot is left in BUILD/graph_page.png.
# Skipped (exit 77) where Chromium is not installed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ex=$(cd "${1:?usage: browser.sh BUILD/examples}" && pwd)
. "$here/check.sh"
need_browser browser
if [ "${CGRAD_GRAPHVIZ:-1}" = 0 ]; then
    echo "browser: skipped: cgrad was built without Graphviz, which lays out the page"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
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
dom() { # dom URL-suffix: the whole page after its script ran, at 1280x800
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 --window-size=1280,800 \
        --dump-dom "file://$work/page.html$1" 2>/dev/null
}
dom "#step=0" > d0.html
dom "#step=18" > d18.html
dom "#step=0&collapse" > c0.html
dom "#step=18&collapse" > c18.html
h0=$(grep -o '"id":"t[0-9]*","op":"[A-Za-z0-9]*","role":"h_0"' page.html | sed 's/"id":"\(t[0-9]*\)".*/\1/')
dom "#step=0&show=$h0" > s0.html
dom "#step=18&show=$h0" > s18.html
check "labels are 11 px or more at 1280x800" bash -c "awk -F'data-minlabel=\"' 'NF > 1 { split(\$2, v, \"\\\"\"); exit !(v[1] + 0 >= 11) }' d0.html"
check "tensors are named by role: loss, x_t, h_t, the initial state, the parameters" bash -c "
    grep -q '>loss<' d0.html && grep -q '>x_0 W_ih<' d0.html && grep -q '>h_5<' d0.html &&
    grep -q '>initial state<' d0.html && grep -q '>weight_hh_l0<' d0.html && [ -n '$h0' ]"
check "stepping backward colours the tensors whose gradient has arrived" bash -c "
    [ \$(grep -o 'fill=\"hsl' d18.html | wc -l) -gt \$(grep -o 'fill=\"hsl' d0.html | wc -l) ]"
check "the colour legend has numbers from this graph's own range" bash -c "
    lo=\$(grep -o 'id=\"legend-lo\">[^<]*' d0.html | sed 's/.*>//'); awk -v v=\"\$lo\" 'BEGIN { exit !(v + 0 > 1e-4) }'"
check "the inspector shows a gradient only once it has arrived" bash -c "
    grep -q 'gradient: not yet arrived' s0.html && ! grep -q '|gradient| [0-9]' s0.html && grep -q '|gradient| [0-9]' s18.html"
check "collapsed steps keep the recurrent edges and colour with the step" bash -c "
    grep -q 'data-stepedges=\"5\"' c0.html && [ \$(grep -o '>t = [0-9]*  no gradient yet<' c0.html | wc -l) = 6 ] &&
    [ \$(grep -o '>t = [0-9]*  |grad| [0-9.e-]*<' c18.html | wc -l) = 6 ]"
check "the time strip has a cell a step, filled as gradients reach the steps" bash -c "
    grep -q 'data-stripcells=\"6\"' d0.html && grep -q 'data-stripfilled=\"0\"' d0.html && grep -q 'data-stripfilled=\"6\"' d18.html"
check "a screenshot" bash -c "timeout 120 '$browser' --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --virtual-time-budget=3000 --window-size=1280,800 --screenshot='$ex/../graph_page.png' 'file://$work/page.html#step=9' \
    >/dev/null 2>&1 && [ -s '$ex/../graph_page.png' ]"
echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
