# Shared by the shell tests (sourced): `check NAME COMMAND...` runs a command in
# $work and counts it as passed or failed, showing the tail of a failure's output;
# `exits CODE COMMAND...` passes when the command exits with CODE.
passed=0 failed=0
check() {
    local name=$1
    shift
    if "$@" >"$work/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name"
        sed 's/^/    /' "$work/out" | tail -n 20
    fi
}
exits() {
    local want=$1
    shift
    "$@" >/dev/null 2>&1
    [ $? -eq "$want" ]
}
# Sets $browser to headless Chromium, or says the test is skipped and exits 77 (meson's "skipped").
need_browser() { # need_browser TESTNAME
    browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
    if [ -z "$browser" ]; then
        echo "$1: skipped: no Chromium (apt-get install chromium)"
        exit 77
    fi
}
