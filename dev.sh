#!/usr/bin/env bash
# cgrad's one entry point for a fresh Debian 12 machine (as root, or with sudo).
#   ./dev.sh run    install what is missing, build, and train the hello example
#   ./dev.sh test   install what is missing, build, and run the whole test suite
#   ./dev.sh asan   the test suite again under AddressSanitizer + UBSan
#   ./dev.sh tsan   the threaded tests under ThreadSanitizer
#   ./dev.sh fuzz [SECONDS]  each libFuzzer harness in fuzz/ for SECONDS (default 30), ASan + UBSan on
#   ./dev.sh leaks  the examples and the README's example under valgrind: no leak, no error
#   ./dev.sh test32 the suites and programs in a 32-bit build (gcc -m32, Debian's i386 packages)
#   ./dev.sh web    cgrad built to WebAssembly (Debian's emscripten; json-c and Check built from Debian's
#                   sources), its suites and programs run under node; the site (web/) built into
#                   build-web/site and tried in headless Chromium
#   ./dev.sh packages  the README's example built and run from an install prefix of one's own (pkg-config,
#                   CMake) and from the Debian packages (dpkg-buildpackage, unpacked into a throwaway root)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(gcc meson ninja-build pkg-config check graphviz libgraphviz-dev libjson-c-dev valgrind
    openmpi-bin libopenmpi-dev wamerican) # wamerican: /usr/share/dict/words, wordgen's default
TEST_PACKAGES=(chromium) # the graph page's browser test

install_missing() { # install_missing [EXTRA PACKAGES...] (NAME:i386 adds the i386 architecture)
    local missing=()
    for p in "${PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    if [[ " ${missing[*]}" == *":i386"* ]] && ! dpkg --print-foreign-architectures | grep -qx i386; then
        $sudo dpkg --add-architecture i386
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

add_deb_src() { # a deb-src line for bookworm, so that apt-get source finds Debian's sources
    if ! grep -rqsE '^(Types: *deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "adding /etc/apt/sources.list.d/cgrad-deb-src.sources (Debian's source packages, for apt-get source)"
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
            $sudo tee /etc/apt/sources.list.d/cgrad-deb-src.sources >/dev/null
        $sudo apt-get update -qq
    fi
}

build() { # build DIR [meson options...]
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@"
    fi
    ninja -C "$dir"
}

run_tests() { # run_tests DIR
    run_tests_named "$1"
}

run_tests_named() { # run_tests_named DIR [SUITE...]: those suites (all when none named)
    local dir=$1 rc=0
    shift
    meson test -C "$dir" --print-errorlogs "$@" || rc=$?
    local log="$dir/meson-logs/testlog.json"
    local passed failed
    passed=$(grep -c '"result": "OK"' "$log" || true)
    failed=$(grep -vc '"result": "OK"' "$log" || true)
    # Each suite's own Check summary, then one closing line for the whole run.
    grep -ho '[0-9]*%: Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*' "$dir"/meson-logs/testlog.txt || true
    echo "$passed passed, $failed failed"
    return $rc
}

case "${1:-}" in
run)
    install_missing
    build build
    shift
    ./build/examples/hello "$@"
    ;;
test)
    install_missing "${TEST_PACKAGES[@]}"
    build build
    run_tests build
    ;;
asan)
    install_missing
    build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 run_tests build-asan
    ;;
tsan)
    install_missing
    build build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
    # the suites whose tests start threads (the pool, callers of their own, products split over threads)
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp CK_FORK=no \
        meson test -C build-tsan --print-errorlogs trust tensor autograd nn
    ;;
fuzz)
    install_missing clang libclang-rt-14-dev
    CC=clang build build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    secs=${2:-30}
    for h in safetensors checkpoint ops; do
        corpus=$(mktemp -d) # a copy: what the run finds does not go into the repository's seeds
        cp fuzz/corpus/$h/* "$corpus"/
        log=build-fuzz/fuzz_$h.log
        # allocations over 64 MiB fail (and must fail cleanly) instead of exhausting the machine
        run() {
            ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:max_allocation_size_mb=64 \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                ./build-fuzz/fuzz/fuzz_$h -rss_limit_mb=2048 -malloc_limit_mb=2048 "$@"
        }
        # slow regression inputs (huge tensors) are replayed once, not kept in the corpus to mutate
        replay() { [ ! -d fuzz/regress/$h ] || run fuzz/regress/$h/*; }
        if ! replay >"$log" 2>&1 ||
            ! run -max_total_time="$secs" -close_fd_mask=2 \
            -artifact_prefix=build-fuzz/fuzz_$h- "$corpus" >>"$log" 2>&1; then
            grep -v '^#\|NEW_FUNC\|WARNING: AddressSanitizer failed to allocate' "$log" | tail -n 60
            echo "fuzz_$h: FAILED; the input is build-fuzz/fuzz_$h-*: add it to tests as a regression case" >&2
            exit 1
        fi
        rm -rf "$corpus"
        echo "fuzz_$h: $(grep -o 'Done [0-9]* runs' "$log" | tail -1 | cut -d' ' -f2) inputs in ${secs}s, no failure"
    done
    ;;
test32)
    install_missing gcc-multilib check:i386 libsubunit-dev:i386 libjson-c-dev:i386
    # no Graphviz or MPI for i386: the library, its suites and the programs, with size_t of 32 bits
    build build-32 --cross-file tools/i386-cross.ini -Dgraphviz=disabled -Dmpi=disabled
    run_tests_named build-32 tensor autograd autograd-portable autograd-avx2 nn optim null trust edges failures \
        vmath_paths programs
    ;;
web)
    install_missing emscripten nodejs cmake dpkg-dev
    add_deb_src
    tools/wasm_deps.sh build-web/deps
    mkdir -p build-web
    sed "s|@DEPS@|$PWD/build-web/deps|" tools/wasm-cross.ini > build-web/cross.ini
    export NODE_PATH=/usr/share/nodejs # Debian's emcc finds its node modules there
    build build-web/lib --cross-file build-web/cross.ini -Dgraphviz=disabled -Dmpi=disabled -Ddefault_library=static
    run_tests_named build-web/lib tensor autograd nn optim null trust edges failures wasm_programs
    install_missing "${TEST_PACKAGES[@]}"
    tools/build_site.sh build-web/lib build-web/deps build-web/site
    tests/web_site.sh build-web/site
    ;;
packages)
    install_missing cmake dpkg-dev debhelper lintian
    tests/packages/run.sh
    ;;
leaks)
    install_missing
    build build
    # the README's first C example, exactly as written there
    sed -n '/^```c$/,/^```$/p' README.md | sed '1d;$d' | sed -n '1,/^}$/p' > build/readme_example.c
    cc -std=c11 -Wall -Wextra -Werror -Iinclude -Ibuild/include build/readme_example.c -o build/readme_example \
        build/libcgrad.a $(pkg-config --libs json-c) $(pkg-config --libs libgvc 2>/dev/null || true) -lm -lpthread
    tmp=$(mktemp -d)
    for ex in "readme_example" "examples/hello --steps 20" "examples/seed_rnn" "examples/hello --cell lstm --steps 3 --seed 1" \
        "examples/charrnn train data/sonnets.txt --steps 3 --hidden 8 --seq-len 8 --batch 4 --out $tmp/v.st" \
        "examples/charrnn sample $tmp/v.st --length 20" \
        "examples/wordgen --input tests/fixtures/words.txt --n-layer 1 --steps 3 --eval-every 2 --samples 2 --out $tmp/w.st" \
        "examples/wordgen --input tests/fixtures/words.txt --model lstm --steps 2 --samples 2 --out $tmp/l.st" \
        "examples/wordgen --input tests/fixtures/words.txt --sample-only --resume $tmp/w.st --samples 3" \
        "examples/gpt train --data=data/sonnets.txt --config baby --block_size=8 --n_layer=1 --n_embd=16 --n_head=2 --batch_size=2 --max_iters=2 --eval_interval=1 --eval_iters=1 --dropout=0.1 --always_save_checkpoint=True --out_dir=$tmp/g" \
        "examples/gpt sample --out_dir=$tmp/g --num_samples=1 --max_new_tokens=5"; do
        valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=99 ./build/$ex >/dev/null || [ $? -ne 99 ]
        echo "valgrind: build/$ex: no leaks, no errors"
    done
    rm -rf "$tmp"
    ;;
*)
    echo "usage: ./dev.sh run | test | asan | tsan | fuzz [SECONDS] | leaks | test32 | packages" >&2
    exit 2
    ;;
esac
