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
dom() { # dom PAGE?QUERY: the page's DOM once its script has run (virtual time: training runs to its end)
    timeout 180 "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=30000 --window-size=1280,800 \
        --dump-dom "file://$site/$1" 2>/dev/null
}
attr() { sed -n "s/.*<body[^>]*data-$1=\"\([^\"]*\)\".*/\1/p" | head -1; }
text() { sed -n "s/.*id=\"$1\">\([^<]*\)<.*/\1/p" | head -1; }
export -f attr text
check "the site needs nothing from the network" bash -c "! grep -Eq '(src|href)=\"(https?:)?//' '$site'/*.html"
dom index.html > index.dom
check "index loads, with no error" bash -c "[ \"\$(attr ready < index.dom)\" = 1 ] && [ -z \"\$(attr errors < index.dom)\" ]"
dom "hello.html?autorun=50" > hello.dom
check "hello trains 50 steps with no error" bash -c "[ \"\$(attr done < hello.dom)\" = 50 ] && [ \"\$(text step < hello.dom)\" = 50 ] &&
    [ -z \"\$(attr errors < hello.dom)\" ]"
check "hello's loss falls (PyTorch's first loss, 1.6563) and it predicts ihello" bash -c "
    awk -v a=\"\$(attr firstloss < hello.dom)\" -v b=\"\$(text loss < hello.dom)\" 'BEGIN { exit !(a > 1.6562 && a < 1.6564 && b < a / 100) }' &&
    [ \"\$(text prediction < hello.dom)\" = ihello ]"
dom "hello.html?cell=lstm&hidden=16&text=abcabcabd&autorun=60" > lstm.dom
check "an LSTM on another text learns too" bash -c "[ \"\$(attr done < lstm.dom)\" = 60 ] &&
    awk -v a=\"\$(attr firstloss < lstm.dom)\" -v b=\"\$(text loss < lstm.dom)\" 'BEGIN { exit !(b < a / 2) }'"
dom "hello.html?text=x&autorun=5" > bad.dom
check "a text too short is refused on the page, not thrown" bash -c "grep -q 'id=\"error\">the text needs 2' bad.dom && [ -z \"\$(attr errors < bad.dom)\" ]"
check "a screenshot of hello" bash -c "timeout 180 '$browser' --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --virtual-time-budget=30000 --window-size=1100,800 --screenshot='$site/../hello_page.png' 'file://$site/hello.html?autorun=40' \
    >/dev/null 2>&1 && [ -s '$site/../hello_page.png' ]"
echo "web_site: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
