// The training pages' run loop: steps in slices of a few milliseconds so that the page
// stays responsive and redraws between them; start, pause, run to a step count
// (?autorun=STEPS), body[data-done] when it stops and body[data-msperstep], the mean time
// of a step (the compute alone, not the redraws).
"use strict";
// opts: step() does one step (throws on error), steps() how many so far, show() redraws,
// fail(message) shows an error.
function makeRunner(opts) {
  let running = false, target = Infinity, spent = 0, timed = 0;
  function loop() {
    if (!running) return;
    const until = performance.now() + 20;
    try {
      while (running && opts.steps() < target && performance.now() < until) {
        const t0 = performance.now();
        opts.step();
        spent += performance.now() - t0, timed++;
      }
    } catch (e) { opts.fail(e.message); running = false; }
    if (opts.steps() >= target) running = false;
    opts.show();
    if (running) setTimeout(loop, 0);
    else {
      document.body.dataset.done = String(opts.steps());
      if (timed) document.body.dataset.msperstep = (spent / timed).toPrecision(4);
    }
  }
  return {
    start(upTo) { if (!running) { running = true; target = upTo === undefined ? Infinity : upTo; loop(); } },
    pause() { running = false; },
  };
}
// Sets each control whose id the query string names; true when it asked for a text.
function controlsFromQuery() {
  const q = new URLSearchParams(location.search);
  q.forEach(function (v, k) { const el = document.getElementById(k); if (el && "value" in el && k !== "step" && k !== "loss") el.value = v; });
  return q;
}
function autorunSteps() { const m = /[?&]autorun=(\d+)/.exec(location.search); return m ? Number(m[1]) : null; }
