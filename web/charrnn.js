// The char-RNN page: trains on the chosen (or pasted) text, draws the loss, and writes a
// sample every SAMPLE_EVERY steps. For tests: body[data-ready], body[data-firstloss],
// body[data-done], #step, #loss, #samples; ?autorun=STEPS, ?source=…, ?cell=… and the
// other controls' ids set them.
"use strict";
(async function () {
  const SAMPLE_EVERY = 50;
  const $ = function (id) { return document.getElementById(id); };
  const cg = await loadCgrad();
  let losses = [], haveModel = false;

  Object.keys(TEXTS).forEach(function (k) { $("source").add(new Option(TEXTS[k].title, k)); });
  $("source").add(new Option("your own (edit below)", "own"));
  function pickText() { if ($("source").value !== "own") $("text").value = TEXTS[$("source").value].text; }

  function reset() {
    runner.pause();
    $("error").textContent = "";
    $("samples").textContent = "";
    losses = [];
    try {
      cg.newCharRnn($("text").value, $("cell").value, Number($("hidden").value), Number($("seq").value),
                    Number($("batch").value), Number($("lr").value), Number($("seed").value));
      haveModel = true;
    } catch (e) { $("error").textContent = e.message; haveModel = false; }
    show();
  }
  function sample() {
    const s = cg.charRnnSample(200, Number($("temperature").value));
    $("samples").textContent = "step " + cg.charRnnSteps() + ":\n" + s + "\n\n" + $("samples").textContent;
  }
  function show() {
    $("step").textContent = haveModel ? String(cg.charRnnSteps()) : "0";
    $("loss").textContent = losses.length ? losses[losses.length - 1].toFixed(4) : "–";
    drawLossPlot($("plot"), losses, "training loss (a batch of windows per step)");
  }
  function oneStep() {
    losses.push(cg.charRnnStep());
    if (losses.length === 1) document.body.dataset.firstloss = String(losses[0]);
    if (cg.charRnnSteps() % SAMPLE_EVERY === 0) sample();
  }
  const runner = makeRunner({step: oneStep, steps: function () { return cg.charRnnSteps(); }, show: show,
                             fail: function (m) { $("error").textContent = m; }});
  $("start").onclick = function () { if (haveModel) runner.start(); };
  $("pause").onclick = runner.pause;
  $("reset").onclick = reset;
  $("source").onchange = function () { pickText(); reset(); };
  $("text").oninput = function () { $("source").value = "own"; };
  ["cell", "hidden", "seq", "batch", "lr", "seed"].forEach(function (id) { $(id).onchange = reset; });

  if (!controlsFromQuery().has("text")) pickText();
  reset();
  document.body.dataset.ready = "1";
  if (autorunSteps() !== null && haveModel) runner.start(autorunSteps());
})();
