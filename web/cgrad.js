// cgrad in the browser: the pages' one small API over the WebAssembly library
// (cgrad_wasm.js carries the wasm inside it: no server, no network needed).
"use strict";
// Any uncaught error shows on the page's body (data-errors), for the tests and the reader.
window.addEventListener("error", function (e) {
  document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);
  document.body.dataset.lasterror = String(e.message);
});
async function loadCgrad() {
  const m = await createCgrad();
  const call = (name, ret, types, args) => m.ccall(name, ret, types, args);
  const lastError = () => call("web_last_error", "string", [], []);
  return {
    // A model learning each next character of text: cell "rnn", "lstm" or "gru".
    newTrainer(text, cell, hidden, lr, seed) {
      if (call("web_trainer_new", "number", ["string", "string", "number", "number", "number"],
               [text, cell, hidden, lr, seed]) !== 0) throw new Error(lastError());
    },
    step() { const l = call("web_trainer_step", "number", [], []); if (isNaN(l)) throw new Error(lastError()); return l; },
    loss() { const l = call("web_trainer_loss", "number", [], []); if (isNaN(l)) throw new Error(lastError()); return l; },
    prediction() { return call("web_trainer_prediction", "string", [], []); },
    steps() { return call("web_trainer_steps", "number", [], []); },
    // The model's graph after a forward and a backward pass: {tensors, ops} (cg_graph_json).
    graph() {
      const text = call("web_trainer_graph", "string", [], []);
      if (!text) throw new Error(lastError());
      return JSON.parse(text);
    },
    // A character-level model of text, trained on batch random windows of seq characters.
    newCharRnn(text, cell, hidden, seq, batch, lr, seed) {
      if (call("web_charrnn_new", "number", ["string", "string", "number", "number", "number", "number", "number"],
               [text, cell, hidden, seq, batch, lr, seed]) !== 0) throw new Error(lastError());
    },
    charRnnStep() { const l = call("web_charrnn_step", "number", [], []); if (isNaN(l)) throw new Error(lastError()); return l; },
    charRnnSample(length, temperature) { return call("web_charrnn_sample", "string", ["number", "number"], [length, temperature]); },
    charRnnSteps() { return call("web_charrnn_steps", "number", [], []); },
    // bptt_lab flow: ||dL_T/dh_t|| at each step back, for cell "rnn_tanh", "rnn_relu", "lstm"
    // or "gru", an RNN's spectral radius rho (0: PyTorch's initialisation), T steps.
    flow(cell, rho, length, seed) {
      if (call("web_flow", "number", ["string", "number", "number", "number"], [cell, rho, length, seed]) !== 0)
        throw new Error(lastError());
      const norms = [];
      for (let back = 0; back < length; back++) norms.push(call("web_flow_norm", "number", ["number"], [back]));
      return norms;
    },
    // bptt_lab clip: a ReLU RNN (W_hh of spectral radius rho) on text, SGD, unclipped and
    // clipped at maxNorm: {loss: [unclipped, clipped], gnorm: [...]}, NaN once a run died.
    clip(text, rho, maxNorm, steps, seed) {
      if (call("web_clip", "number", ["string", "number", "number", "number", "number"], [text, rho, maxNorm, steps, seed]) !== 0)
        throw new Error(lastError());
      const get = (fn, run) => Array.from({length: steps}, (_, s) => call(fn, "number", ["number", "number"], [run, s]));
      return {loss: [get("web_clip_loss", 0), get("web_clip_loss", 1)], gnorm: [get("web_clip_gnorm", 0), get("web_clip_gnorm", 1)]};
    },
    // bptt_lab memory: net 0 RNN, 1 LSTM, 2 GRU, 3 LSTM with open forget gates, trained to
    // remember a symbol across gap steps; its accuracy (chance 0.25).
    memory(kind, gap, steps, seed) {
      const acc = call("web_memory", "number", ["number", "number", "number", "number"], [kind, gap, steps, seed]);
      if (isNaN(acc)) throw new Error(lastError());
      return acc;
    },
    // bptt_lab truncate: an RNN on text in chunks of T characters, chars read in all:
    // {chars: [...], loss: [...], seconds} a point per step.
    truncate(text, T, chars, seed) {
      if (call("web_truncate", "number", ["string", "number", "number", "number"], [text, T, chars, seed]) !== 0)
        throw new Error(lastError());
      const n = call("web_truncate_steps", "number", [], []);
      const get = (fn) => Array.from({length: n}, (_, s) => call(fn, "number", ["number"], [s]));
      return {chars: get("web_truncate_chars"), loss: get("web_truncate_loss"), seconds: call("web_truncate_seconds", "number", [], [])};
    },
  };
}
