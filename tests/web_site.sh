#!/usr/bin/env bash
# The web site (./dev.sh web builds it into build-web/site) in a real browser, headless
# Chromium opening the files as a user opening the folder would (file://, no server):
# every page loads with no error and nothing fetched; hello trains and its loss falls;
# a screenshot is left beside the site. Skipped (77) without Chromium.
set -u
here=$(cd "$(dirname "$0")" && pwd)
site=$(cd "${1:?usage: web_site.sh SITE}" && pwd)
. "$here/check.sh"
need_browser web_site
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
dom() { # dom PAGE?QUERY [BODY-ATTRIBUTE]: the page's DOM once its script has run (and set the attribute)
    # Compiling the wasm and long computations take real time, during which virtual time can
    # run out: a page that has not got as far yet is asked for again (at most 3 times).
    local out want=${2:-data-ready=\"1\"}
    for attempt in 1 2 3; do
        out=$(timeout 180 "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=30000 \
            --window-size=1280,800 --dump-dom "file://$site/$1" 2>/dev/null)
        if grep -q "<body[^>]*$want" <<<"$out"; then break; fi
    done
    printf '%s\n' "$out"
}
shot() { # shot NAME PAGE?QUERY WIDTH,HEIGHT BUDGET: NAME.png beside the site, for the docs
    timeout 180 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget="$4" \
        --window-size="$3" --screenshot="$site/../$1.png" "file://$site/$2" >/dev/null 2>&1 && [ -s "$site/../$1.png" ]
}
attr() { sed -n "s/.*<body[^>]*data-$1=\"\([^\"]*\)\".*/\1/p" | head -1; }
text() { sed -n "s/.*id=\"$1\">\([^<]*\)<.*/\1/p" | head -1; }
export -f attr text
check "the site needs nothing from the network" bash -c "! grep -Eq '(src|href)=\"(https?:)?//' '$site'/*.html"
dom index.html > index.dom
check "index loads, with no error" bash -c "[ \"\$(attr ready < index.dom)\" = 1 ] && [ -z \"\$(attr errors < index.dom)\" ]"
dom "hello.html?autorun=50" data-done=\"50\" > hello.dom
check "hello trains 50 steps with no error" bash -c "[ \"\$(attr done < hello.dom)\" = 50 ] && [ \"\$(text step < hello.dom)\" = 50 ] &&
    [ -z \"\$(attr errors < hello.dom)\" ]"
check "hello's loss falls (PyTorch's first loss, 1.6563) and it predicts ihello" bash -c "
    awk -v a=\"\$(attr firstloss < hello.dom)\" -v b=\"\$(text loss < hello.dom)\" 'BEGIN { exit !(a > 1.6562 && a < 1.6564 && b < a / 100) }' &&
    [ \"\$(text prediction < hello.dom)\" = ihello ]"
dom "hello.html?cell=lstm&hidden=16&text=abcabcabd&autorun=60" data-done=\"60\" > lstm.dom
check "an LSTM on another text learns too" bash -c "[ \"\$(attr done < lstm.dom)\" = 60 ] &&
    awk -v a=\"\$(attr firstloss < lstm.dom)\" -v b=\"\$(text loss < lstm.dom)\" 'BEGIN { exit !(b < a / 2) }'"
dom "hello.html?text=h%C3%A9llo%20w%C3%B6rld&hidden=16&autorun=100" data-done=\"100\" > utf8.dom
# (2.1360: the native hello's first loss there, hello --text 'héllo wörld' --hidden 16 --steps 0 — 9 characters;
# read as bytes, the text would have 10 in its vocabulary and 12 positions)
check "hello reads a typed text's characters, as the native hello: 'héllo wörld' predicts 'éllo wörld'" bash -c "
    [ \"\$(attr done < utf8.dom)\" = 100 ] && [ \"\$(text prediction < utf8.dom)\" = 'éllo wörld' ] &&
    awk -v a=\"\$(attr firstloss < utf8.dom)\" 'BEGIN { exit !(a > 2.13595 && a < 2.13605) }'"
dom "hello.html?text=x&autorun=5" > bad.dom
check "a text too short is refused on the page, not thrown" bash -c "grep -q 'id=\"error\">the text needs 2' bad.dom && [ -z \"\$(attr errors < bad.dom)\" ]"
dom "lab.html" > lab.dom
dom "lab.html?rho=2" > rho2.dom
dom "lab.html?cell=lstm&length=400" > long.dom
dom "lab.html?length=1" > short.dom
check "lab loads with no error and shows the vanishing gradient at PyTorch's init (5.14 at T, native's number)" bash -c "
    [ \"\$(attr ready < lab.dom)\" = 1 ] && [ -z \"\$(attr errors < lab.dom)\" ] &&
    awk -v a=\"\$(attr first < lab.dom)\" -v b=\"\$(attr last < lab.dom)\" 'BEGIN { exit !(a > 5.14 && a < 5.15 && b < a * 1e-20) }'"
check "lab clip: unclipped dies within a few steps (NaN), clipped learns, from native's first loss 46.04" bash -c "
    [ \"\$(attr clipdead < lab.dom)\" -gt 0 ] && [ \"\$(attr clipdead < lab.dom)\" -lt 20 ] &&
    awk -v a=\"\$(attr clipfirst < lab.dom)\" -v b=\"\$(attr cliplast < lab.dom)\" 'BEGIN { exit !(a > 46.03 && a < 46.05 && b < a / 5) }' &&
    grep -q 'class=\"ref\".*clip threshold' lab.dom"
dom "lab.html?clip-rho=0.5" > tame.dom
check "lab clip: a tame RNN (spectral radius 0.5) does not die unclipped" bash -c "[ \"\$(attr clipdead < tame.dom)\" = 0 ]"
dom "lab.html?memory=run&memory-steps=150&memory-gaps=3" data-memorydone=\"4\" > mem.dom
dom "lab.html?memory=run&memory-gaps=5,x" > membad.dom
check "lab memory: every net learns a gap of 3 (accuracy 0.9 or more, chance 0.25)" bash -c "
    [ \"\$(attr memorydone < mem.dom)\" = 4 ] &&
    [ \$(grep -o 'id=\"mem-[0-3]-3\"[^>]*>[01][.][0-9]*' mem.dom | sed 's/.*>//' | awk '\$1 >= 0.9' | wc -l) = 4 ]"
check "lab memory: bad gaps are refused on the page" bash -c "grep -q 'id=\"memory-error\"[^>]*>gaps: whole numbers' membad.dom &&
    [ -z \"\$(attr errors < membad.dom)\" ]"
dom "lab.html?truncate=run" data-truncatedone=\"4\" > trunc.dom
dom "lab.html?truncate=run&truncate-ts=8,0" > truncbad.dom
check "lab truncate: the same characters read, short chunks end lower than long ones" bash -c "
    [ \"\$(attr truncatedone < trunc.dom)\" = 4 ] &&
    awk -v a=\"\$(attr truncate8 < trunc.dom)\" -v b=\"\$(attr truncate64 < trunc.dom)\" 'BEGIN { exit !(a > 0 && a < b) }'"
check "lab truncate: a bad chunk length is refused on the page" bash -c "grep -q 'id=\"truncate-error\"[^>]*>chunk lengths: whole numbers' truncbad.dom &&
    [ -z \"\$(attr errors < truncbad.dom)\" ]"
check "lab: spectral radius 2 explodes" bash -c "
    awk -v a=\"\$(attr first < rho2.dom)\" -v b=\"\$(attr last < rho2.dom)\" 'BEGIN { exit !(b > a * 100) }'"
check "lab: a long LSTM underflows, and the page says from how far back" bash -c "
    grep -q 'underflows float32 [0-9]* steps back' long.dom && [ \"\$(attr last < long.dom)\" = 0 ]"
check "lab: a bad length is refused on the page" bash -c "grep -q 'id=\"error\">length 2 to 1000' short.dom && [ -z \"\$(attr errors < short.dom)\" ]"
check "the plots' log axes tick at 1, 2, 5 times powers of ten" bash -c "
    grep -q 'class=\"ytick\"' lab.dom && ! { grep -o 'class=\"ytick\"[^>]*>[^<]*' lab.dom hello.dom | sed 's/.*>//' |
        grep -vqE '^(1|2|5)(0*|e-?[0-9]+)?\$|^0[.]0*[125]\$'; }"
dom "charrnn.html?autorun=200" data-done=\"200\" > cr.dom
dom "charrnn.html?source=own&text=the%20cat%20sat%20on%20the%20mat.%20the%20cat%20sat%20on%20the%20mat.&seq=8&autorun=150" data-done=\"150\" > own.dom
dom "charrnn.html?source=own&text=ab&autorun=5" > tiny.dom
check "char-RNN trains 200 steps on the sonnets, its loss falls from ln(vocabulary), and samples appear" bash -c "
    [ \"\$(attr done < cr.dom)\" = 200 ] && [ -z \"\$(attr errors < cr.dom)\" ] &&
    awk -v a=\"\$(attr firstloss < cr.dom)\" -v b=\"\$(text loss < cr.dom)\" 'BEGIN { exit !(a > 3.9 && a < 4.2 && b < 0.7 * a) }' &&
    grep -q 'step 200:' cr.dom && grep -q 'step 50:' cr.dom"
check "char-RNN learns a pasted text" bash -c "
    awk -v a=\"\$(attr firstloss < own.dom)\" -v b=\"\$(text loss < own.dom)\" 'BEGIN { exit !(b < a / 4) }'"
check "char-RNN refuses a text shorter than its sequence, on the page" bash -c "
    grep -q 'id=\"error\">the text needs more characters' tiny.dom && [ -z \"\$(attr errors < tiny.dom)\" ]"
check "a screenshot of char-RNN" shot charrnn_page "charrnn.html?autorun=300" 1100,900 60000
check "a screenshot of lab" shot lab_page "lab.html?rho=1&memory=run&memory-steps=300&memory-gaps=5,10,20&truncate=run" 1100,2400 200000
dom "graph.html" > g0.dom
dom "graph.html?step=9" > g9.dom
dom "graph.html?step=18&cell=lstm" > glstm.dom
check "graph loads with no error, time left to right, labels 11 px or more" bash -c "
    [ \"\$(attr ready < g0.dom)\" = 1 ] && [ -z \"\$(attr errors < g0.dom)\" ] && [ \"\$(attr chain < g0.dom)\" = 1 ] &&
    awk -v p=\"\$(attr minlabel < g0.dom)\" 'BEGIN { exit !(p >= 11) }'"
check "graph steps the backward pass: ops marked, gradients arriving, tensors coloured" bash -c "
    [ \"\$(attr marked < g0.dom)\" = 0 ] && [ \"\$(attr marked < g9.dom)\" = 9 ] &&
    [ \"\$(attr arrived < g9.dom)\" -gt \"\$(attr arrived < g0.dom)\" ] &&
    [ \$(grep -o 'fill=\"hsl' g9.dom | wc -l) -gt \$(grep -o 'fill=\"hsl' g0.dom | wc -l) ]"
check "graph names tensors by role, an LSTM's c_t included" bash -c "grep -q '>h_5<' g0.dom && grep -q '>x_0 W_ih<' g0.dom &&
    grep -q '>c_2<' glstm.dom && [ \"\$(attr chain < glstm.dom)\" = 1 ]"
long="text=the%20quick%20brown%20fox%20jumps%20over%20the%20lazy%20dog%20the%20quick%20brown%20fox%20" # 64 characters: 63 steps
dom "graph.html?$long" > glong.dom
dom "graph.html?$long&next=40" > glong40.dom
dom "graph.html?$long&step=60&view=boxes" > gboxes.dom
check "graph of 63 steps: boxes and a window of 3 steps at the end, the recurrence kept as a chain, labels 11 px" bash -c "
    [ \"\$(attr ready < glong.dom)\" = 1 ] && [ -z \"\$(attr errors < glong.dom)\" ] && [ \"\$(attr boxes < glong.dom)\" = 60 ] &&
    [ \"\$(attr window < glong.dom)\" = 60-62 ] && [ \"\$(attr chain < glong.dom)\" = 1 ] && [ \"\$(attr links < glong.dom)\" = 62 ] &&
    awk -v p=\"\$(attr minlabel < glong.dom)\" 'BEGIN { exit !(p >= 11) }' && [ \"\$(attr boxes < g0.dom)\" = 0 ]"
check "graph of 63 steps: the window follows the backward pass, boxes colour as gradients arrive" bash -c "
    [ \"\$(attr window < glong40.dom)\" = 44-46 ] && [ \"\$(attr chain < glong40.dom)\" = 1 ] &&
    [ \"\$(attr boxes < gboxes.dom)\" = 63 ] && [ \"\$(attr links < gboxes.dom)\" = 62 ] && [ \"\$(attr chain < gboxes.dom)\" = 1 ] &&
    [ \$(grep -o '<g class=\"node box[^>]*><rect[^>]*fill=\"hsl' gboxes.dom | wc -l) -gt 20 ] &&
    [ \$(grep -o '<g class=\"node box[^>]*><rect[^>]*fill=\"hsl' glong.dom | wc -l) = 0 ]"
check "a screenshot of graph" shot graph_page "graph.html?step=9" 1200,900 30000
check "a screenshot of graph, 63 steps" shot graph_long_page "graph.html?$long&step=60&view=boxes" 1200,700 30000
check "a screenshot of hello" shot hello_page "hello.html?autorun=40" 1100,800 30000
echo "web_site: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
