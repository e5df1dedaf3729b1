// The hello page: trains live, draws the loss, shows the predicted next characters.
// State for tests and curious users: body[data-ready], #step, #loss, body[data-firstloss];
// ?autorun=STEPS trains that many steps at load; ?text=, ?cell=, ?hidden=, ?lr=, ?seed= set the controls.
"use strict";
(async function () {
  const $ = function (id) { return document.getElementById(id); };
  const cg = await loadCgrad();
  let losses = [], running = false, target = Infinity, haveModel = false;

  function reset() {
    running = false;
    $("error").textContent = "";
    try {
      cg.newTrainer($("text").value, $("cell").value, Number($("hidden").value), Number($("lr").value), Number($("seed").value));
    } catch (e) { $("error").textContent = e.message; haveModel = false; return false; }
    haveModel = true;
    losses = [cg.loss()];
    document.body.dataset.firstloss = String(losses[0]);
    show();
    return true;
  }
  function show() {
    const text = $("text").value;
    $("step").textContent = String(cg.steps());
    $("loss").textContent = losses.length ? losses[losses.length - 1].toFixed(4) : "–";
    $("input").textContent = text.slice(0, -1);
    $("target").textContent = text.slice(1);
    $("prediction").textContent = cg.prediction();
    drawLossPlot($("plot"), losses, "training loss");
  }
  function oneStep() {
    try { cg.step(); losses.push(cg.loss()); } catch (e) { $("error").textContent = e.message; running = false; }
  }
  function loop() {                           // steps for about 15 ms, then lets the page draw
    if (!running) return;
    const until = performance.now() + 15;
    while (running && cg.steps() < target && performance.now() < until) oneStep();
    if (cg.steps() >= target) running = false;
    show();
    if (running) setTimeout(loop, 0);
    else document.body.dataset.done = String(cg.steps());
  }
  $("start").onclick = function () { if (!running && haveModel) { running = true; target = Infinity; loop(); } };
  $("pause").onclick = function () { running = false; };
  $("stepbtn").onclick = function () { if (haveModel) { running = false; oneStep(); show(); } };
  $("reset").onclick = reset;
  ["text", "cell", "hidden", "lr", "seed"].forEach(function (id) { $(id).onchange = reset; });

  // ?text=…&cell=…&hidden=…&lr=…&seed=… set the controls (links and tests use them)
  new URLSearchParams(location.search).forEach(function (v, k) { if ($(k) && k !== "step" && k !== "loss") $(k).value = v; });
  reset();
  const auto = /[?&]autorun=(\d+)/.exec(location.search);
  document.body.dataset.ready = "1";
  if (auto && haveModel) { target = Number(auto[1]); running = true; loop(); }
})();
