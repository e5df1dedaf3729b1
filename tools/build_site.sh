#!/usr/bin/env bash
# The static site (web/) built with the WebAssembly library into OUT: web/api.c and
# cgrad's static library linked by emcc into cgrad_wasm.js, the wasm carried inside it
# (SINGLE_FILE), so the pages work from their folder with no server (file:// too).
#   tools/build_site.sh BUILD DEPS OUT    (./dev.sh web: build-web/lib build-web/deps build-web/site)
set -euo pipefail
build=$1 deps=$2 out=$3
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
mkdir -p "$out"
exports=_web_trainer_new,_web_trainer_step,_web_trainer_loss,_web_trainer_prediction,_web_trainer_steps,_web_trainer_graph
exports=$exports,_web_trainer_free,_web_last_error,_web_flow,_web_flow_norm,_malloc,_free
exports=$exports,_web_charrnn_new,_web_charrnn_step,_web_charrnn_sample,_web_charrnn_steps,_web_clip,_web_clip_loss,_web_clip_gnorm,_web_memory
exports=$exports,_web_truncate,_web_truncate_steps,_web_truncate_seconds,_web_truncate_loss,_web_truncate_chars
emcc -O2 -std=c11 -Wall -Wextra -Werror -I"$build/include" -Iinclude -I"$build/config" -Itensor -Iautograd -Inn -Ioptim -Idist \
    web/api.c web/model.c web/charrnn_api.c web/lab_api.c examples/common/chars.c examples/bptt_lab/flow_norms.c examples/bptt_lab/spectral.c \
    examples/bptt_lab/clip_run.c examples/bptt_lab/text_ids.c examples/bptt_lab/memory_run.c examples/bptt_lab/truncate_run.c "$build/libcgrad.a" "$deps/lib/libjson-c.a" -lm \
    -sMODULARIZE=1 -sEXPORT_NAME=createCgrad -sSINGLE_FILE=1 -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=web \
    -sEXPORTED_FUNCTIONS="$exports" -sEXPORTED_RUNTIME_METHODS=ccall \
    -o "$out/cgrad_wasm.js"
cp web/*.html web/*.js web/*.css "$out/"
# the char-RNN page's built-in texts, from data/ (the opening of each), as a script
python3 - "$out/texts.js" <<'PY'
import json, sys
texts = {"sonnets": ("Shakespeare's sonnets (the first 20,000 characters)", "data/sonnets.txt", 20000),
         "shakespeare": ("tiny Shakespeare (the first 20,000 characters)", "data/tinyshakespeare.txt", 20000)}
out = {k: {"title": t, "text": open(p, encoding="utf-8").read()[:n]} for k, (t, p, n) in texts.items()}
open(sys.argv[1], "w", encoding="utf-8").write("// made by tools/build_site.sh from data/\nconst TEXTS = " + json.dumps(out) + ";\n")
PY
echo "site: $out (open $out/index.html, or python3 -m http.server -d $out)"
