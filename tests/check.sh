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
