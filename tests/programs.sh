#!/usr/bin/env bash
# The programs as a user runs them: right answers, clear refusals of bad
# arguments (exit 2), and charrnn's --resume continuing bit for bit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ex=$(cd "${1:?usage: programs.sh BUILD/examples DATA POISON_CKPT CKPT_DIFF}" && pwd)
data=$(cd "${2:?}" && pwd)
poison=${3:?}
ckpt_diff=${4:?}
sonnets="$data/sonnets.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
. "$here/check.sh"
# Two checkpoints equal byte for byte but for their run ids (and the checksum, which covers them).
same_but_run() {
    cmp <(sed 's/"run":"[0-9a-f]*"//; s/"cgrad.crc32c":"file:[0-9a-f]*"//' "$1") \
        <(sed 's/"run":"[0-9a-f]*"//; s/"cgrad.crc32c":"file:[0-9a-f]*"//' "$2")
}

check "hello learns ihello" "$ex/hello"
check "every program says its version" bash -c "for p in hello seed_rnn graph charrnn wordgen bptt_lab; do
    '$ex/'\$p --version | grep -qx \"\$p (cgrad [0-9]*\\.[0-9]*\\.[0-9]*)\" || exit 1; done"
check "hello prints the prediction" bash -c "'$ex/hello' | grep -q 'final prediction \"ihello\": correct'"
check "hello learns for 20 seeds of 20" bash -c "for s in \$(seq 0 19); do '$ex/hello' --seed \$s >/dev/null || exit 1; done"
check "hello --text" "$ex/hello" --text "to be or not" --steps 150 --hidden 16
check "hello --text reads characters, not bytes (UTF-8), as PyTorch's tutorial reads Python's" bash -c "
    '$ex/hello' --text 'héllo wörld' --steps 100 --hidden 16 | grep -q 'final prediction \"éllo wörld\": correct' &&
    '$ex/hello' --text 'héllo' --steps 0 | grep -q 'Linear(8, 4) on \"héll\" -> \"éllo\"' &&
    '$ex/hello' --text 'é' 2>&1 >/dev/null | grep -q 'needs 2 to 10000 characters'"
check "hello --cell gru" "$ex/hello" --cell gru --steps 60
check "hello --help" "$ex/hello" --help
check "hello rejects a bad option" exits 2 "$ex/hello" --bogus
check "hello rejects a bad number" exits 2 "$ex/hello" --hidden -3
check "hello rejects a bad cell" exits 2 "$ex/hello" --cell tree
check "hello is deterministic" bash -c "diff <('$ex/hello' --seed 3) <('$ex/hello' --seed 3)"
check "seed_rnn prints PyTorch's numbers" bash -c "'$ex/seed_rnn' | head -2 | tr -d '\n' | grep -q 'tensor(\[\[\[-0.7497, -0.6135\],         \[-0.5282, -0.2473\],'"
check "seed_rnn prints the size" bash -c "'$ex/seed_rnn' | tail -1 | grep -qx '(3, 5, 2)'"
check "seed_rnn --batch-first" bash -c "'$ex/seed_rnn' --batch-first | grep -q '(3, 5, 2)'"
check "seed_rnn rejects a bad option" exits 2 "$ex/seed_rnn" --bogus
# the graph pages need Graphviz; without it (-Dgraphviz=disabled) they are refused with a message
if [ "${CGRAD_GRAPHVIZ:-1}" = 1 ]; then page_made() { grep -q 'const DATA' "$1"; }; else page_made() { [ ! -e "$1" ]; }; fi
check "graph writes DOT" bash -c "'$ex/graph' --out '$work' && grep -q 'subgraph cluster_t5' '$work/hello_graph.dot' && grep -q fillcolor '$work/hello_grads.dot'"
check "graph draws its own pictures again and keeps any other file in their place, with one line" bash -c "$(declare -f page_made);
    '$ex/graph' --out '$work' >/dev/null && '$ex/graph' --out '$work' >/dev/null &&
    echo mine > '$work/mine.html' && ! '$ex/graph' --out '$work' --html '$work/mine.html' >/dev/null 2>'$work/e' &&
    [ \"\$(cat '$work/mine.html')\" = mine ] && [ \$(wc -l < '$work/e') -eq 1 ] && grep -q 'choose another --html' '$work/e' &&
    mkdir -p '$work/gd' && echo mine > '$work/gd/hello_grads.dot' && ! '$ex/graph' --out '$work/gd' >/dev/null 2>&1 &&
    [ \"\$(cat '$work/gd/hello_grads.dot')\" = mine ] && [ ! -e '$work/gd/hello_graph.dot' ] &&
    { '$ex/graph' --out '$work' --html '$work/g.html' >/dev/null 2>&1; '$ex/graph' --out '$work' --html '$work/g.html' >/dev/null 2>&1;
      page_made '$work/g.html'; }"
check "graph rejects a bad option" exits 2 "$ex/graph" --train x
check "graph colours gradients over the graph's own range, with the range in the legend" bash -c "
    grep -o 'fillcolor=\"0[.][0-9]* 0.55 1.0\"' '$work/hello_grads.dot' | sed 's/fillcolor=.//; s/ .*//' |
        awk 'NR == 1 { lo = hi = \$1 } { lo = \$1 < lo ? \$1 : lo; hi = \$1 > hi ? \$1 : hi } END { exit !(NR >= 5 && hi - lo > 0.5) }' &&
    grep -q 'blue 0.0[0-9]* to red 1;' '$work/hello_grads.dot'"
if [ "${CGRAD_GRAPHVIZ:-1}" = 1 ]; then
    check "graph lays the time steps out left to right, each box right of the one before" bash -c "
        awk '/<title>cluster_t/ { sub(/.*cluster_t/, \"\"); sub(/<.*/, \"\"); step = \$0 + 0; want = 1; next }
             want && /<path/ { sub(/.* d=\"M/, \"\"); sub(/,.*/, \"\"); left[step] = \$0 + 0; want = 0; if (step > n) n = step }
             END { if (n < 5) exit 1; for (t = 1; t <= n; t++) if (left[t] <= left[t - 1]) exit 1 }' '$work/hello_graph.svg' &&
        grep -q '>h_3<' '$work/hello_graph.svg' && grep -q '>x_3 W_ih<' '$work/hello_graph.svg'"
fi
check "bptt_lab flow: vanishing at PyTorch's init, exploding with rho 2" bash -c "$(declare -f page_made);
    '$ex/bptt_lab' flow --out '$work' --length 40 > '$work/flow.txt' &&
    awk '\$1 == 0 { exit !(\$2 < 1e-6 && \$9 > 100) }' '$work/flow.txt' && grep -q '<svg' '$work/flow.svg' &&
    [ \$(wc -l < '$work/flow.csv') -eq 321 ] &&
    { '$ex/bptt_lab' flow --out '$work' --length 12 --html '$work/lab.html' >/dev/null 2>&1; page_made '$work/lab.html'; }"
check "bptt_lab memory" bash -c "'$ex/bptt_lab' memory --out '$work' --steps 20 --length 10 | grep -q '^ *10 ' && grep -q polyline '$work/memory.svg'"
check "bptt_lab truncate" bash -c "'$ex/bptt_lab' truncate --out '$work' --length 4000 | grep -c '^ *[0-9]' | grep -qx 4"
check "bptt_lab clip: unclipped dies, clipped learns" bash -c "
    '$ex/bptt_lab' clip --out '$work' --steps 40 > '$work/clip.txt' &&
    awk 'NR > 2 && \$1 == 37 { exit !(\$2 == \"nan\" && \$4 < 10) }' '$work/clip.txt' &&
    grep -q polyline '$work/clip_loss.svg' && grep -q polyline '$work/clip_gradnorm.svg'"
check "bptt_lab writes its own plots again and keeps any other file in their place, with one line" bash -c "
    '$ex/bptt_lab' memory --out '$work' --steps 5 --length 6 >/dev/null &&
    echo mine > '$work/mine.csv' && mkdir -p '$work/bl' && cp '$work/mine.csv' '$work/bl/clip_gradnorm.csv' &&
    ! '$ex/bptt_lab' clip --out '$work/bl' --steps 3 >/dev/null 2>'$work/e' && [ \$(wc -l < '$work/e') -eq 1 ] &&
    cmp '$work/mine.csv' '$work/bl/clip_gradnorm.csv' && [ ! -e '$work/bl/clip_loss.svg' ] &&
    ! '$ex/bptt_lab' flow --out '$work/bl' --length 5 --html '$work/mine.csv' >/dev/null 2>&1 &&
    cmp '$work/mine.csv' '$work/bl/clip_gradnorm.csv'"
# The tick labels of a plot's axis (CLASS xtick or ytick): on a linear axis evenly spaced by 1, 2 or 5
# times a power of ten; on a log axis (log) each 1, 2 or 5 times a power of ten.
ticks_125() { # FILE CLASS lin|log
    grep -o "class=\"$2\"[^>]*>[^<]*" "$1" | sed 's/.*>//' | awk -v mode="$3" '
        function mantissa(x,   e) { e = log(x) / log(10); e = (e < 0 && e != int(e)) ? int(e) - 1 : int(e);
                                    return sprintf("%.6g", x / 10 ^ e) }
        function one_two_five(m) { return m == "1" || m == "2" || m == "5" || m == "10" }
        { v[NR] = $1 + 0 }
        END { if (NR < 2) exit 1
              for (i = 1; i <= NR; i++)
                  if (mode == "log" && !one_two_five(mantissa(v[i]))) exit 1
              if (mode == "lin") { step = v[2] - v[1]; if (step <= 0 || !one_two_five(mantissa(step))) exit 1
                  for (i = 2; i <= NR; i++) if ((v[i] - v[i-1] - step) ^ 2 > (step * 1e-6) ^ 2) exit 1 } }'
}
check "bptt_lab plots: 1-2-5 ticks, log axes where values span decades, chance and threshold drawn" bash -c "$(declare -f ticks_125);
    ticks_125 '$work/truncate.svg' ytick lin && ticks_125 '$work/truncate.svg' xtick lin &&
    ticks_125 '$work/clip_loss.svg' ytick log && ticks_125 '$work/clip_gradnorm.svg' ytick log &&
    ticks_125 '$work/clip_loss.svg' xtick lin && ticks_125 '$work/memory.svg' ytick lin &&
    ticks_125 '$work/memory.svg' xtick log && ticks_125 '$work/flow.svg' ytick log &&
    grep -q 'class=\"ref\".*>chance<' '$work/memory.svg' && grep -q 'class=\"ref\".*>clip threshold<' '$work/clip_gradnorm.svg' &&
    [ \$(grep -c '<circle' '$work/memory.svg') -ge 2 ] && ! grep -q 'class=\"ytick\"[^>]*>[0-9.]*e+' '$work/clip_loss.svg'"
check "bptt_lab truncate refuses a text too short for its chunks" bash -c "
    ! '$ex/bptt_lab' truncate --out '$work/short' --length 100 2>'$work/err' && grep -q 'too short' '$work/err'"
check "bptt_lab rejects a bad experiment" exits 2 "$ex/bptt_lab" fly
check "bptt_lab says why it stops: a gap shorter than the shortest tried" bash -c "
    ! '$ex/bptt_lab' memory --length 3 2>'$work/err' && grep -q 'at least 5' '$work/err'"
check "bptt_lab refuses an option its experiment would ignore" bash -c "
    ! '$ex/bptt_lab' clip --html '$work/x.html' 2>'$work/err' && grep -q 'does not apply' '$work/err' && [ ! -e '$work/x.html' ] &&
    ! '$ex/bptt_lab' flow --steps 3 2>/dev/null"
check "bptt_lab flow explains gradients that underflow" bash -c "
    '$ex/bptt_lab' flow --out '$work' --length 400 | grep -q 'underflows float32 [0-9]* steps back'"
check "charrnn trains" bash -c "'$ex/charrnn' train '$sonnets' --steps 30 --eval-every 15 --hidden 32 --out '$work/a.st' --plot | grep -q '^val_loss [0-9]'"
check "charrnn writes the loss log and plot" bash -c "[ \$(wc -l < '$work/a.st.csv') -eq 31 ] && grep -q '<svg' '$work/a.st.svg'"
check "charrnn resumes bit for bit, its settings and text from the checkpoint, in its own file" bash -c "$(declare -f same_but_run);
    '$ex/charrnn' train '$sonnets' --steps 15 --eval-every 15 --hidden 32 --out '$work/b.st' >/dev/null &&
    (cd / && '$ex/charrnn' train --steps 30 --resume '$work/b.st' >/dev/null) && same_but_run '$work/a.st' '$work/b.st' &&
    cmp '$work/a.st.csv' '$work/b.st.csv' >/dev/null || [ \$(wc -l < '$work/b.st.csv') -eq 31 ]"
check "charrnn will not overwrite another run's checkpoint, nor a file that is none" bash -c "
    cp '$work/a.st' '$work/a.keep' && echo notes > '$work/notes.txt' &&
    ! '$ex/charrnn' train '$sonnets' --steps 2 --hidden 8 --out '$work/a.st' >/dev/null 2>'$work/err' &&
    grep -q \"holds another run's checkpoint\" '$work/err' && cmp '$work/a.st' '$work/a.keep' &&
    ! '$ex/charrnn' train '$sonnets' --steps 2 --hidden 8 --out '$work/notes.txt' >/dev/null 2>'$work/err' &&
    grep -q 'is not a charrnn checkpoint' '$work/err' && [ \"\$(cat '$work/notes.txt')\" = notes ]"
check "charrnn, wordgen and gpt keep a user's file where their loss curves or graph page would go, with one line" bash -c "
    echo page > '$work/page.html' && echo curves > '$work/c7.st.svg' && echo curves > '$work/w7.st.svg' &&
    mkdir -p '$work/g7' && echo curves > '$work/g7/loss.svg' &&
    ! '$ex/charrnn' train '$sonnets' --steps 2 --hidden 8 --out '$work/c8.st' --html '$work/page.html' >/dev/null 2>'$work/e1' &&
    ! '$ex/charrnn' train '$sonnets' --steps 2 --hidden 8 --out '$work/c7.st' --plot >/dev/null 2>'$work/e2' &&
    ! '$ex/wordgen' --input '$here/fixtures/words.txt' --steps 2 --out '$work/w7.st' --plot >/dev/null 2>'$work/e3' &&
    ! '$ex/gpt' train --data='$sonnets' --config baby --max_iters=1 --out_dir='$work/g7' --plot >/dev/null 2>'$work/e4' &&
    for e in e1 e2 e3 e4; do [ \$(wc -l < '$work/'\$e) -eq 1 ] && grep -q 'will not overwrite it' '$work/'\$e || exit 1; done &&
    grep -q 'choose another --html' '$work/e1' && grep -q 'choose another --out_dir' '$work/e4' &&
    [ \"\$(cat '$work/page.html' '$work/c7.st.svg' '$work/w7.st.svg' '$work/g7/loss.svg')\" = \"\$(printf 'page\\ncurves\\ncurves\\ncurves')\" ] &&
    [ ! -e '$work/c8.st' ] && [ ! -e '$work/c7.st' ] && [ ! -e '$work/w7.st' ] && [ ! -e '$work/g7/ckpt.safetensors' ]"
check "charrnn --resume to --steps it has reached says so and leaves the checkpoint as it is" bash -c "
    '$ex/charrnn' train --steps 30 --resume '$work/a.st' | grep -q 'nothing is trained' &&
    '$ex/charrnn' train --steps 10 --resume '$work/a.st' | grep -q 'at step 30 already' && cmp '$work/a.st' '$work/a.keep'"
check "charrnn --resume --out writes a new file with a new log, the old one untouched" bash -c "
    '$ex/charrnn' train --steps 32 --resume '$work/a.st' --out '$work/a2.st' | grep -q 'writes the checkpoint .*a2.st' &&
    cmp '$work/a.st' '$work/a.keep' && head -1 '$work/a2.st.csv' | grep -q '^step,train_loss' &&
    [ \$(wc -l < '$work/a2.st.csv') -eq 3 ]"
check "charrnn --resume refuses a text that changed since" bash -c "
    cp '$sonnets' '$work/t.txt' && '$ex/charrnn' train '$work/t.txt' --steps 2 --hidden 8 --out '$work/t.st' >/dev/null &&
    echo more >> '$work/t.txt' && ! '$ex/charrnn' train --steps 4 --resume '$work/t.st' 2>'$work/err' >/dev/null &&
    grep -q 'has changed since' '$work/err'"
check "charrnn refuses a checkpoint with a tensor it does not write (strict load)" bash -c "
    '$poison' '$work/a.st' '$work/extra.st' --add rnn.weight_ih_l9 && ! '$ex/charrnn' sample '$work/extra.st' 2>'$work/err' &&
    grep -q \"unexpected tensor 'rnn.weight_ih_l9'\" '$work/err'"
check "charrnn --steps 0 evaluates without a NaN" bash -c "
    '$ex/charrnn' train '$sonnets' --steps 0 --hidden 8 --out '$work/z.st' > '$work/z.txt' && ! grep -qi nan '$work/z.txt' &&
    grep -q '^val_loss [0-9]' '$work/z.txt'"
check "charrnn --resume refuses a contradicting flag, naming both values" bash -c "
    '$ex/charrnn' train '$sonnets' --steps 40 --hidden 64 --out '$work/c.st' --resume '$work/a.st' 2>&1 >/dev/null |
    grep -q -- '--hidden 64 contradicts .*hidden 32'"
check "charrnn samples" bash -c "[ \$('$ex/charrnn' sample '$work/a.st' --length 50 --prime Love --top-k 5 --temperature 0.8 | wc -c) -ge 54 ]"
check "charrnn sample is deterministic" bash -c "diff <('$ex/charrnn' sample '$work/a.st' --seed 4) <('$ex/charrnn' sample '$work/a.st' --seed 4)"
check "charrnn trains and samples 16 layers" bash -c "
    '$ex/charrnn' train '$sonnets' --layers 16 --cell lstm --hidden 8 --steps 2 --seq-len 8 --batch 4 --out '$work/deep.st' >/dev/null &&
    '$ex/charrnn' sample '$work/deep.st' --length 20 >/dev/null"
check "charrnn keeps every byte of the vocabulary (NUL too)" bash -c "
    head -c 3000 '$sonnets' > '$work/nul.txt' && printf 'a\\0b\\0c\\n' >> '$work/nul.txt' && cat '$sonnets' >> '$work/nul.txt' &&
    '$ex/charrnn' train '$work/nul.txt' --steps 2 --hidden 8 --out '$work/nul.st' >/dev/null &&
    [ \$('$ex/charrnn' sample '$work/nul.st' --length 3000 --seed 1 | tr -d -c '\\000' | wc -c) -ge 1 ]"
check "charrnn refuses a damaged checkpoint" bash -c "
    cp '$work/a.st' '$work/d.st' && printf '\\x7f' | dd of='$work/d.st' bs=1 seek=\$((\$(stat -c %s '$work/d.st') - 9)) conv=notrunc 2>/dev/null &&
    ! '$ex/charrnn' sample '$work/d.st' 2>'$work/err' && grep -q damaged '$work/err' &&
    ! '$ex/charrnn' train '$sonnets' --steps 40 --out '$work/e.st' --resume '$work/d.st' 2>/dev/null"
check "charrnn refuses a NaN weight" bash -c "
    '$poison' '$work/a.st' '$work/n.st' fc.bias nan && ! '$ex/charrnn' sample '$work/n.st' 2>'$work/err' &&
    grep -q \"'fc.bias' holds nan\" '$work/err'"
# the config edited in place (same length, so the file stays well-formed; the checksum covers only the data)
edit_config() { "$poison" "$work/a.st" "$2" --meta config '"hidden":32,' "\"hidden\":$1,"; }
check "charrnn refuses an out-of-bounds setting" bash -c "$(declare -f edit_config); work='$work' poison='$poison'; edit_config -1 '$work/h.st';
    ! '$ex/charrnn' sample '$work/h.st' 2>'$work/err' && grep -q \"'hidden' is missing or out of bounds\" '$work/err'"
# one hex digit of the generator state in the header changed by hand: JSON still valid, the checksum catches it
check "charrnn refuses a checkpoint whose header was changed by hand" bash -c "
    cp '$work/a.st' '$work/r.st' && at=\$((\$(grep -abo '\"rng\":\"' '$work/r.st' | cut -d: -f1) + 20)) &&
    c=\$(dd if='$work/r.st' bs=1 skip=\$at count=1 2>/dev/null) && if [ \"\$c\" = 0 ]; then n=1; else n=0; fi &&
    printf \$n | dd of='$work/r.st' bs=1 seek=\$at conv=notrunc 2>/dev/null && ! cmp -s '$work/a.st' '$work/r.st' &&
    ! '$ex/charrnn' sample '$work/r.st' 2>'$work/err' && grep -q 'does not match its checksum' '$work/err'"
check "charrnn checks sizes in the file before allocating them" bash -c "$(declare -f edit_config); work='$work' poison='$poison'; edit_config 64 '$work/h.st';
    ! '$ex/charrnn' sample '$work/h.st' 2>'$work/err' && grep -q 'do not have the sizes' '$work/err'"
check "charrnn stops on a NaN loss and keeps the last checkpoint" bash -c "
    '$poison' '$work/a.st' '$work/x.st' optim.5.exp_avg 3e38 && cp '$work/x.st' '$work/x0.st' &&
    ! '$ex/charrnn' train '$sonnets' --steps 40 --out '$work/x.st' --resume '$work/x.st' >/dev/null 2>'$work/err' &&
    grep -q 'the loss became' '$work/err' && [ \$(stat -c %s '$work/x.st') -gt 0 ] && '$ex/charrnn' sample '$work/x.st' >/dev/null"
# weights grown past float32's range make an infinite loss, which is no anomaly (as in torch): it says so
check "charrnn --detect-anomaly tells an overflow from an op's NaN" bash -c "
    cp '$work/x0.st' '$work/y.st' &&
    ! '$ex/charrnn' train '$sonnets' --steps 40 --detect-anomaly --out '$work/y.st' --resume '$work/y.st' >/dev/null 2>'$work/err' &&
    grep -q 'found no op making a NaN' '$work/err'"
check "charrnn fails when its loss log cannot be written" bash -c "
    trap '' XFSZ; ulimit -f 16; ! '$ex/charrnn' train '$sonnets' --steps 200 --hidden 8 --eval-every 1000 --out '$work/f.st' >/dev/null 2>&1"
check "charrnn --html writes the last step's graph page" bash -c "$(declare -f page_made);
    '$ex/charrnn' train '$sonnets' --steps 2 --hidden 8 --seq-len 8 --batch 2 --out '$work/g.st' --html '$work/g.html' >/dev/null 2>&1;
    page_made '$work/g.html'"
check "charrnn --help lists the defaults" bash -c "'$ex/charrnn' train --help | grep -q 'default 128'"
check "charrnn rejects a missing file" exits 1 "$ex/charrnn" train /nonexistent
check "charrnn rejects a bad option" exits 2 "$ex/charrnn" train --lr abc
check "charrnn rejects a bad command" exits 2 "$ex/charrnn" fly
check "charrnn sample rejects a non-checkpoint" exits 1 "$ex/charrnn" sample /etc/hostname
check "charrnn sample rejects an unknown prime" exits 2 "$ex/charrnn" sample "$work/a.st" --prime "Q@#"
check "charrnn refuses a too-short text" bash -c "echo hi > '$work/t.txt'; '$ex/charrnn' train '$work/t.txt'; [ \$? -eq 1 ]"
# wordgen: each model reaches PyTorch's losses (bench/wordgen_torch.py on the same words, same
# seed: same split, weights and batches), resumes bit for bit, samples from a checkpoint.
words="$here/fixtures/words.txt"
wg() { "$ex/wordgen" --input "$words" --n-layer 2 --batch-size 16 --eval-every 20 "$@"; }
while read -r model train_loss test_loss; do
    case $model in '#'*) continue ;; esac
    check "wordgen $model reaches PyTorch's losses" bash -c "$(declare -f wg); ex='$ex' words='$words';
        wg --model $model --steps 40 --samples 0 --out '$work/w_$model.st' | awk '/^result/ {
            for (i = 2; i <= NF; i++) { split(\$i, kv, \"=\"); v[kv[1]] = kv[2] }
            d1 = v[\"train_loss\"] - $train_loss; d2 = v[\"test_loss\"] - $test_loss; found = 1
            exit !(d1 * d1 < 1e-6 && d2 * d2 < 1e-6) } END { exit !found }'"
done < "$here/fixtures/wordgen.txt"
# the same on accented words: makemore's vocabulary is their characters, not their bytes
while read -r model train_loss test_loss; do
    case $model in '#'*) continue ;; esac
    check "wordgen $model on UTF-8 words reaches PyTorch's losses and samples whole characters" bash -c "
        '$ex/wordgen' --input '$here/fixtures/words_utf8.txt' --n-layer 2 --batch-size 16 --eval-every 20 --model $model \
            --steps 40 --samples 20 --out '$work/wu_$model.st' > '$work/wu_$model.txt' &&
        grep -q ' 34 tokens, 12 positions' '$work/wu_$model.txt' && iconv -f UTF-8 -t UTF-8 '$work/wu_$model.txt' >/dev/null &&
        awk '/^result/ { for (i = 2; i <= NF; i++) { split(\$i, kv, \"=\"); v[kv[1]] = kv[2] }
            d1 = v[\"train_loss\"] - $train_loss; d2 = v[\"test_loss\"] - $test_loss; found = 1
            exit !(d1 * d1 < 1e-6 && d2 * d2 < 1e-6) } END { exit !found }' '$work/wu_$model.txt'"
done < "$here/fixtures/wordgen_utf8.txt"
# makemore reads its words with open(path, 'r').read().splitlines(), each str.strip()ped
wordgen_messy_list() {
    local f
    # the accented words again, each padded with Unicode spaces and ended by one of str.splitlines()'s breaks
    python3 - "$here/fixtures/words_utf8.txt" "$work/messy.txt" <<'PY' || return 1
import sys
ws = open(sys.argv[1], encoding='utf-8').read().split()
ends = ['\r\n', '\r', '\n', '\u2028', '\x0b', '\x85']
pads = ['', ' ', '\u00a0', '\u3000\t', '\u2009']
out = ''.join(pads[i % 5] + w + pads[i % 3] + ends[i % 6] for i, w in enumerate(ws))
open(sys.argv[2], 'w', encoding='utf-8', newline='').write(out + '\r\n \u00a0\r')
PY
    for f in "$here/fixtures/words_utf8.txt" "$work/messy.txt"; do
        "$ex/wordgen" --input "$f" --model bigram --steps 20 --eval-every 10 --samples 5 --out "$work/m$RANDOM.st" |
            grep -v 'writes the checkpoint' | sed 's/ (.* ms\/step)//; s/ ms_per_step=.*//' > "$work/$(basename "$f").out" || return 1
    done
    diff "$work/words_utf8.txt.out" "$work/messy.txt.out" && grep -q ' 34 tokens, 12 positions' "$work/messy.txt.out"
}
check "wordgen reads a word list's line ends and Unicode spaces as makemore does (the same run as its plain form)" wordgen_messy_list
wordgen_not_utf8() {
    printf 'ab\ncaf\351\nde\n' > "$work/wg_l1.txt" && printf 'ab\nc\0d\nef\n' > "$work/wg_nul.txt" &&
        ! "$ex/wordgen" --input "$work/wg_l1.txt" --steps 1 --out "$work/wg_l1.st" >/dev/null 2>"$work/err" &&
        [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q 'is not UTF-8 text (byte 0xe9 at offset 6)' "$work/err" &&
        ! "$ex/wordgen" --input "$work/wg_nul.txt" --steps 1 --out "$work/wg_nul.st" >/dev/null 2>"$work/err" &&
        [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q 'has a NUL byte (at offset 4)' "$work/err" &&
        [ ! -e "$work/wg_l1.st" ] && [ ! -e "$work/wg_nul.st" ]
}
check "wordgen refuses a list that is not UTF-8 text, or has a NUL byte, with one line" wordgen_not_utf8
check "wordgen --resume continues bit for bit" bash -c "$(declare -f wg); ex='$ex' words='$words';
    wg --model gru --steps 40 --samples 5 --out '$work/full.st' | grep -v '^result' | sed 's/ (.*ms.step)//' > '$work/full.txt' &&
    wg --model gru --steps 20 --samples 0 --out '$work/half.st' > /dev/null &&
    wg --steps 40 --samples 5 --out '$work/half.st' --resume '$work/half.st' | grep -v '^result' | sed 's/ (.*ms.step)//' > '$work/resumed.txt' &&
    diff <(tail -6 '$work/full.txt') <(tail -6 '$work/resumed.txt') && grep -q '^step 40 ' '$work/resumed.txt'"
check "wordgen --sample-only prints N words, each marked" bash -c "
    [ \$('$ex/wordgen' --input '$words' --sample-only --resume '$work/full.st' --samples 7 | grep -c '^(\\(train\\|test\\|new\\))') -eq 7 ]"
check "wordgen refuses a flag that contradicts its checkpoint" bash -c "
    ! '$ex/wordgen' --input '$words' --model rnn --resume '$work/full.st' --out '$work/z.st' 2>'$work/err' &&
    grep -q -- '--model rnn contradicts' '$work/err'"
check "wordgen refuses a checkpoint of other words" bash -c "
    ! '$ex/wordgen' --input '$sonnets' --sample-only --resume '$work/full.st' 2>'$work/err' &&
    grep -q 'not the word list' '$work/err'"
check "wordgen --resume goes on in its own file with its own words, from any directory" bash -c "$(declare -f wg); ex='$ex' words='$words';
    wg --model bigram --steps 20 --samples 0 --out '$work/wr.st' >/dev/null &&
    (cd / && '$ex/wordgen' --resume '$work/wr.st' --steps 40 --eval-every 20 --samples 0 | grep -q 'writes the checkpoint .*r.st') &&
    tail -1 '$work/wr.st.csv' | grep -q '^40,' && [ \$(grep -c '^step' '$work/wr.st.csv') -eq 1 ]"
check "wordgen --steps 0 evaluates the untrained model and keeps it" bash -c "$(declare -f wg); ex='$ex' words='$words';
    wg --model bigram --steps 0 --samples 0 --out '$work/s0.st' | grep -q 'test_loss=[0-9]' && [ -s '$work/s0.st' ]"
# a log with steps 10..30 and then, after a resume from step 20, 21..25 again: the plot follows the run
check "--plot draws a resumed run's log as it went" bash -c "$(declare -f wg); ex='$ex' words='$words';
    wg --model bigram --steps 20 --eval-every 10 --samples 0 --out '$work/pl.st' >/dev/null &&
    cp '$work/pl.st' '$work/pl20.st' && wg --model bigram --steps 30 --eval-every 10 --samples 0 --resume '$work/pl.st' >/dev/null &&
    cp '$work/pl20.st' '$work/pl.st' && wg --steps 25 --eval-every 5 --samples 0 --resume '$work/pl.st' --plot | grep -q 'loss curves' &&
    [ \$(grep -o 'points=\"[^\"]*\"' '$work/pl.st.svg' | head -1 | tr ' ' '\\n' | grep -c ,) -eq 3 ]"
check "wordgen will not overwrite another run's checkpoint" bash -c "$(declare -f wg); ex='$ex' words='$words';
    cp '$work/wr.st' '$work/wr.keep' && ! wg --model bigram --steps 2 --samples 0 --out '$work/wr.st' >/dev/null 2>'$work/err' &&
    grep -q \"another run's checkpoint\" '$work/err' && cmp '$work/wr.st' '$work/wr.keep'"
check "wordgen --resume at its --steps writes nothing" bash -c "
    '$ex/wordgen' --resume '$work/wr.st' --steps 30 --samples 0 | grep -q 'nothing is trained' && cmp '$work/wr.st' '$work/wr.keep'"
check "wordgen refuses a checkpoint with a tensor it does not write (strict load)" bash -c "
    '$poison' '$work/wr.st' '$work/wrx.st' --add optim.999.exp_avg && ! '$ex/wordgen' --resume '$work/wrx.st' --sample-only 2>'$work/err' &&
    grep -q \"unexpected tensor 'optim.999.exp_avg'\" '$work/err'"
check "wordgen refuses a damaged checkpoint" bash -c "
    head -c 3000 '$work/full.st' > '$work/cut.st'; ! '$ex/wordgen' --input '$words' --sample-only --resume '$work/cut.st' 2>/dev/null"
check "wordgen refuses a NaN weight" bash -c "
    '$poison' '$work/full.st' '$work/nan.st' lm_head.bias nan &&
    ! '$ex/wordgen' --input '$words' --sample-only --resume '$work/nan.st' 2>'$work/err' && grep -q \"'lm_head.bias' holds nan\" '$work/err'"
# a setting edited in the metadata, same length (the checksum covers the data): the sizes it implies are checked
# against the file before a model of that size is made
check "wordgen checks a checkpoint's sizes before building its model" bash -c "
    '$poison' '$work/w_transformer.st' '$work/big.st' --meta cfg.n_layer 2 9 &&
    ! cmp -s '$work/big.st' '$work/w_transformer.st' &&
    ! '$ex/wordgen' --input '$words' --sample-only --resume '$work/big.st' 2>'$work/err' && grep -q 'do not have the sizes' '$work/err'"
check "wordgen --plot draws the loss curves" bash -c "$(declare -f wg); ex='$ex' words='$words';
    wg --model bigram --steps 40 --samples 0 --plot --out '$work/p.st' | grep -q 'loss curves' && grep -q polyline '$work/p.st.svg'"
check "wordgen rejects a bad option" exits 2 "$ex/wordgen" --bogus
check "wordgen rejects a bad model" exits 2 "$ex/wordgen" --model cnn
check "wordgen rejects --sample-only without --resume" exits 2 "$ex/wordgen" --sample-only
check "wordgen rejects a missing file" exits 1 "$ex/wordgen" --input /nonexistent
check "wordgen rejects heads that do not divide the width" exits 1 "$ex/wordgen" --input "$words" --n-head 5 --steps 1
check "wordgen --help lists the defaults" bash -c "'$ex/wordgen' --help | grep -q 'default transformer'"
# gpt: nanoGPT's loop prints PyTorch's lines (bench/gpt_torch.py, the same seed and draws), keeps its
# checkpoint at the best val loss, samples from it, resumes, and moves its weights to and from PyTorch.
gptf="$here/fixtures/gpt.txt"
while read -r tag name flags; do
    [ "$tag" = config ] || continue
    check "gpt ($name) prints PyTorch's losses, line for line" bash -c "
        '$ex/gpt' train --data='$sonnets' $flags --out_dir='$work/gpt_$name' | grep -E '^(step|iter) ' |
        sed 's/, time.*//; s/^/$name /' | diff - <(grep '^$name \\(step\\|iter\\)' '$gptf')"
done < "$gptf"
check "gpt train --help shows nanoGPT's values as Python writes them" bash -c "
    h=\$('$ex/gpt' train --help) && grep -qE '^  --dropout +0\\.2\$' <<< \"\$h\" && grep -qE '^  --grad_clip +1\\.0\$' <<< \"\$h\" &&
    grep -qE '^  --min_lr +0\\.0001\$' <<< \"\$h\" && ! grep -q 00000 <<< \"\$h\""
check "gpt on a UTF-8 text: nanoGPT's character vocabulary (not bytes), PyTorch's lines, whole characters sampled" bash -c "
    flags=\$(grep '^config plain ' '$gptf' | cut -d' ' -f3-) &&
    '$ex/gpt' train --data='$here/fixtures/gpt_utf8.txt' \$flags --out_dir='$work/gpt_utf8' > '$work/u.txt' &&
    grep -q '^found vocab_size = 64 ' '$work/u.txt' &&
    grep -E '^(step|iter) ' '$work/u.txt' | sed 's/, time.*//' | diff - <(grep -v '^#' '$here/fixtures/gpt_utf8_lines.txt') &&
    '$ex/gpt' sample --out_dir='$work/gpt_utf8' --start='Fàir' --num_samples=1 --max_new_tokens=40 > '$work/us.txt' &&
    grep -q '^Fàir' '$work/us.txt' && iconv -f UTF-8 -t UTF-8 '$work/us.txt' >/dev/null &&
    ! '$ex/gpt' sample --out_dir='$work/gpt_utf8' --start='Ω' --max_new_tokens=3 >/dev/null 2>'$work/err' &&
    grep -q 'has not seen (Ω)' '$work/err'"
# nanoGPT's prepare.py reads its text with open(path, 'r'): UTF-8, and \r\n and a lone \r as \n
gpt_line_ends() {
    local flags f
    flags=$(grep '^config plain ' "$gptf" | cut -d' ' -f3-)
    sed 's/$/\r/' "$sonnets" > "$work/crlf.txt" && tr '\n' '\r' < "$sonnets" > "$work/cr.txt" || return 1
    for f in crlf cr; do
        # shellcheck disable=SC2086
        "$ex/gpt" train --data="$work/$f.txt" $flags --out_dir="$work/gpt_$f" | grep -E '^(found|step|iter) ' |
            sed 's/, time.*//; s/ (in .*//' |
            diff - <(echo 'found vocab_size = 56'; grep '^plain \(step\|iter\)' "$gptf" | cut -d' ' -f2-) || return 1
    done
}
check "gpt reads a text's Windows and old Mac line ends as nanoGPT does (the same lines as its \\n form)" gpt_line_ends
gpt_not_utf8() {
    { head -c 3000 "$sonnets"; printf 'caf\351 au lait'; tail -c 3000 "$sonnets"; } > "$work/latin1.txt" &&
        ! "$ex/gpt" train --data="$work/latin1.txt" --config baby --max_iters=1 --out_dir="$work/gpt_l1" >/dev/null 2>"$work/err" &&
        [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q 'is not UTF-8 text (byte 0xe9 at offset 3003)' "$work/err" &&
        [ ! -e "$work/gpt_l1/ckpt.safetensors" ] || return 1
    # what Python's strict decoder refuses, at the byte it names: a sequence cut short by the
    # end, a surrogate, an overlong form, a code point past U+10FFFF; a 4-byte character is fine
    local bad want
    for bad in 'e2 82:3000' 'ed a0 80:3000' 'c0 af:3000' 'f4 90 80 80:3000'; do
        { head -c 3000 "$sonnets"; printf "$(echo "${bad%%:*}" | sed 's/\([0-9a-f][0-9a-f]\)/\\x\1/g; s/ //g')"; } > "$work/bad.txt"
        want="at offset ${bad##*:})"
        ! "$ex/gpt" train --data="$work/bad.txt" --config baby --max_iters=1 --out_dir="$work/gpt_bad" >/dev/null 2>"$work/err" &&
            grep -q "$want" "$work/err" || return 1
    done
    { head -c 3000 "$sonnets"; printf '\xf0\x9f\x8c\xb9'; tail -c 3000 "$sonnets"; } > "$work/rose.txt" &&
        "$ex/gpt" train --data="$work/rose.txt" --config baby --block_size=16 --max_iters=0 --eval_iters=1 \
            --out_dir="$work/gpt_rose" | grep -q '^found vocab_size = 5[0-9] '
}
check "gpt refuses a text that is not UTF-8, as prepare.py does, with one line" gpt_not_utf8
check "gpt sample draws from the best checkpoint, the same for a seed" bash -c "
    a=\$('$ex/gpt' sample --out_dir='$work/gpt_plain' --num_samples=2 --max_new_tokens=40 --start='Love' --top_k=10) &&
    b=\$('$ex/gpt' sample --out_dir '$work/gpt_plain' --num_samples 2 --max_new_tokens 40 --start Love --top_k 10) &&
    [ \"\$a\" = \"\$b\" ] && [ \$(echo \"\$a\" | grep -c '^---------------\$') -eq 2 ] && echo \"\$a\" | head -1 | grep -q '^Love'"
check "gpt imports PyTorch's weights and samples PyTorch's text (nanoGPT's sample.py), byte for byte" bash -c "
    '$ex/gpt' import '$here/fixtures/gpt_sample.safetensors' '$work/gpt_torch' >/dev/null &&
    '$ex/gpt' sample --out_dir='$work/gpt_torch' --start=Love --num_samples=2 --max_new_tokens=60 --top_k=10 --seed=5 |
    cmp - '$here/fixtures/gpt_sample.txt'"
check "gpt export writes the state dict nanoGPT's loop saved: every tensor, nothing more, the same values" bash -c "
    '$ex/gpt' export '$work/gpt_torch/ckpt.safetensors' '$work/torch_again.safetensors' >/dev/null &&
    '$ckpt_diff' '$here/fixtures/gpt_sample.safetensors' '$work/torch_again.safetensors' 0 >/dev/null &&
    '$ckpt_diff' '$work/torch_again.safetensors' '$here/fixtures/gpt_sample.safetensors' 0 >/dev/null"
check "gpt export and import round-trip to PyTorch's state dict names" bash -c "
    '$ex/gpt' export '$work/gpt_plain/ckpt.safetensors' '$work/sd.safetensors' >/dev/null &&
    '$ex/gpt' import '$work/sd.safetensors' '$work/gpt_imported' >/dev/null &&
    [ \"\$('$ex/gpt' sample --out_dir='$work/gpt_plain' --num_samples=1 --max_new_tokens=30)\" = \
      \"\$('$ex/gpt' sample --out_dir='$work/gpt_imported' --num_samples=1 --max_new_tokens=30)\" ]"
check "gpt trains on from imported weights given a text of their vocabulary, and asks for one without" bash -c "
    cp -r '$work/gpt_imported' '$work/gpt_imp2' &&
    ! '$ex/gpt' train --init_from=resume --out_dir='$work/gpt_imp2' --max_iters=2 >/dev/null 2>'$work/err' &&
    [ \$(wc -l < '$work/err') -eq 1 ] && grep -q 'name the text to train on with --data=FILE' '$work/err' &&
    '$ex/gpt' train --init_from=resume --out_dir='$work/gpt_imp2' --data='$sonnets' --max_iters=2 --eval_interval=2 --log_interval=1 \
        --eval_iters=1 > '$work/r.txt' && grep -q '^Resuming training from' '$work/r.txt' && grep -q '^iter 2: loss' '$work/r.txt' &&
    '$ex/gpt' train --init_from=resume --out_dir='$work/gpt_imp2' --max_iters=3 --eval_iters=1 --log_interval=1 | grep -q '^iter 3: loss'"
check "gpt export replaces its own run's export, and no other file" bash -c "
    '$ex/gpt' export '$work/gpt_plain/ckpt.safetensors' '$work/sd.safetensors' >/dev/null &&
    echo 'a user file' > '$work/users.safetensors' && cp '$work/sd.safetensors' '$work/other_run.safetensors' &&
    ! '$ex/gpt' export '$work/gpt_imported/ckpt.safetensors' '$work/users.safetensors' 2>'$work/err' >/dev/null &&
    grep -q 'will not overwrite it' '$work/err' && [ \"\$(cat '$work/users.safetensors')\" = 'a user file' ] &&
    ! '$ex/gpt' export '$work/gpt_imported/ckpt.safetensors' '$work/other_run.safetensors' 2>/dev/null >/dev/null &&
    cmp '$work/sd.safetensors' '$work/other_run.safetensors'"
check "gpt --init_from=resume goes on from the checkpoint's iteration" bash -c "
    cp -r '$work/gpt_plain' '$work/gpt_resumed' && '$ex/gpt' train --data='$sonnets' --init_from=resume \
        --out_dir='$work/gpt_resumed' --max_iters=14 --eval_interval=6 --eval_iters=4 --log_interval=1 > '$work/r.txt' &&
    grep -q '^Resuming training from' '$work/r.txt' && grep -q '^iter 14: loss' '$work/r.txt' && ! grep -q '^iter 11:' '$work/r.txt'"
# A checkpoint of format 1 (AdamW's groups were two optimizers then), written by commit acca892's
# gpt (train --config baby --block_size=8 --n_layer=1 --n_embd=16 --n_head=2 --batch_size=4
# --max_iters=6 --eval_interval=3 --eval_iters=2 --warmup_iters=2 --lr_decay_iters=12
# --always_save_checkpoint=True), and the lines that gpt printed resuming it to iter 12:
check "gpt resumes an older checkpoint (two optimizers' state) as the gpt that wrote it did" bash -c "
    mkdir -p '$work/gpt_v1' && cp '$here/fixtures/gpt_v1_ckpt.safetensors' '$work/gpt_v1/ckpt.safetensors' &&
    '$ex/gpt' train --data='$sonnets' --init_from=resume --out_dir='$work/gpt_v1' --max_iters=12 --eval_interval=3 \
        --eval_iters=2 --log_interval=1 | grep -E '^(step|iter) ' | sed 's/, time.*//' |
    diff - '$here/fixtures/gpt_v1_resume.txt'"
check "gpt sample refuses a start text it cannot encode, or none, with one line" bash -c "
    for start in 'é' '' 'FILE:$work/no_such_file'; do
        '$ex/gpt' sample --out_dir='$work/gpt_plain' --start=\"\$start\" --max_new_tokens=3 >/dev/null 2>'$work/err'
        [ \$? -eq 1 ] && [ \$(wc -l < '$work/err') -eq 1 ] && grep -q '^gpt sample: ' '$work/err' || exit 1
    done"
# sample.py reads --start=FILE:path with open(path, 'r', encoding='utf-8'): \r\n as \n; not UTF-8 refused
gpt_start_file() {
    printf 'Love is\nnot love\n' > "$work/start_lf.txt" && printf 'Love is\r\nnot love\r\n' > "$work/start_crlf.txt" &&
        printf 'Love \351\n' > "$work/start_l1.txt" || return 1
    local lf crlf
    lf=$("$ex/gpt" sample --out_dir="$work/gpt_plain" --start="FILE:$work/start_lf.txt" --max_new_tokens=20) &&
        crlf=$("$ex/gpt" sample --out_dir="$work/gpt_plain" --start="FILE:$work/start_crlf.txt" --max_new_tokens=20) &&
        [ -n "$lf" ] && [ "$lf" = "$crlf" ] || return 1
    ! "$ex/gpt" sample --out_dir="$work/gpt_plain" --start="FILE:$work/start_l1.txt" >/dev/null 2>"$work/err" &&
        [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q 'is not UTF-8 text (byte 0xe9 at offset 5)' "$work/err"
}
check "gpt sample reads a start file as sample.py does (Windows line ends as \\n, UTF-8 or refused)" gpt_start_file
# every program reads its text as a stream: a pipe gives the file's run
gpt_from_pipe() {
    local flags
    flags=$(grep '^config plain ' "$gptf" | cut -d' ' -f3-)
    # shellcheck disable=SC2086
    cat "$sonnets" | "$ex/gpt" train --data=/dev/stdin $flags --out_dir="$work/gpt_pipe" | grep -E '^(step|iter) ' |
        sed 's/, time.*//' | diff - <(grep '^plain \(step\|iter\)' "$gptf" | cut -d' ' -f2-)
}
check "gpt trains on a text read from a pipe (the file's lines)" gpt_from_pipe
check "gpt will not overwrite another run's checkpoint, and the command it gives resumes that run" bash -c "
    cp '$work/gpt_plain/ckpt.safetensors' '$work/keep.st' &&
    ! '$ex/gpt' train --data='$sonnets' --config baby --max_iters=2 --out_dir='$work/gpt_plain' >/dev/null 2>'$work/err' &&
    grep -q \"another run's checkpoint\" '$work/err' && cmp '$work/keep.st' '$work/gpt_plain/ckpt.safetensors' &&
    advice=\$(sed -n 's/.*continue that run with gpt \\(.*\\), or choose another --out_dir\$/\\1/p' '$work/err') &&
    [ -n \"\$advice\" ] && cp -r '$work/gpt_plain' '$work/gpt_again' &&
    '$ex/gpt' \${advice/gpt_plain/gpt_again} --max_iters=0 | grep -q '^Resuming training from'"
check "gpt takes nanoGPT's README command as written" bash -c "
    '$ex/gpt' train config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=2 --log_interval=1 \
        --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 \
        --dropout=0.0 --max_iters=1 --data='$sonnets' --out_dir='$work/gpt_readme' | grep -q '^iter 1: loss'"
check "gpt makes its out_dir's missing parents (os.makedirs) and refuses a file in the way with one line" bash -c "
    '$ex/gpt' train --data='$sonnets' --config baby --max_iters=2 --eval_interval=1 --eval_iters=1 --out_dir='$work/deep/er/out' >/dev/null &&
    [ -f '$work/deep/er/out/ckpt.safetensors' ] && : > '$work/plainfile' &&
    ! '$ex/gpt' train --data='$sonnets' --max_iters=1 --out_dir='$work/plainfile/out' >/dev/null 2>'$work/err' &&
    [ \$(wc -l < '$work/err') -eq 1 ] && grep -q 'cannot make .*plainfile/out: Not a directory' '$work/err' &&
    '$ex/gpt' import '$here/fixtures/gpt_sample.safetensors' '$work/deep/imported/here' >/dev/null &&
    [ -f '$work/deep/imported/here/ckpt.safetensors' ]"
check "gpt refuses a bad setting and a device it does not have" bash -c "
    ! '$ex/gpt' train --n_embd=100 --n_head=3 2>/dev/null && ! '$ex/gpt' train --device=cuda 2>/dev/null &&
    ! '$ex/gpt' train --bogus=1 2>/dev/null"
echo "programs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
