// The hello page: trains live, draws the loss, shows the predicted next characters.
// State for tests and curious users: body[data-ready], #step, #loss, body[data-firstloss];
// ?autorun=STEPS trains that many steps at load; ?text=, ?cell=, ?hidden=, ?lr=, ?seed= set the controls.
"use strict";
(async function () {
  const $ = function (id) { return document.getElementById(id); };
  const cg = await loadCgrad();
  let losses = [], haveModel = false;

  function reset() {
    runner.pause();
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
  function oneStep() { cg.step(); losses.push(cg.loss()); }
  const runner = makeRunner({step: oneStep, steps: function () { return cg.steps(); }, show: show,
                             fail: function (m) { $("error").textContent = m; }});
  $("start").onclick = function () { if (haveModel) runner.start(); };
  $("pause").onclick = runner.pause;
  $("stepbtn").onclick = function () {
    if (!haveModel) return;
    runner.pause();
    try { oneStep(); } catch (e) { $("error").textContent = e.message; }
    show();
  };
  $("reset").onclick = reset;
  ["text", "cell", "hidden", "lr", "seed"].forEach(function (id) { $(id).onchange = reset; });

  // ?text=…&cell=…&hidden=…&lr=…&seed=… set the controls (links and tests use them)
  controlsFromQuery();
  reset();
  document.body.dataset.ready = "1";
  if (autorunSteps() !== null && haveModel) runner.start(autorunSteps());
})();
