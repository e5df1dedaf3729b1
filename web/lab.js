// The lab page: bptt_lab flow, live. The current settings' curve is redrawn on every
// change; "add curve" keeps it for comparison. For tests: body[data-ready], body[data-first]
// and body[data-last] (the norms 0 and T-1 steps back of the current curve), #summary;
// ?cell=…&rho=…&length=…&seed=…&clip-rho=…&clip-norm=…&clip-steps=… set the controls; clip:
// body[data-clipdead] (the step the unclipped loss became NaN, 0: never), data-clipfirst, data-cliplast;
// ?memory=run trains the memory table at load (memory-steps, memory-gaps), body[data-memorydone] counts cells;
// ?truncate=run runs truncate at load (truncate-chars, truncate-ts): body[data-truncateT] the final loss of chunk T.
"use strict";
(async function () {
  const $ = function (id) { return document.getElementById(id); };
  const cg = await loadCgrad();
  const kept = [];
  let current = null;

  function name() {
    const cell = $("cell").options[$("cell").selectedIndex].text, rho = Number($("rho").value);
    return cell + (rho > 0 ? ", ρ = " + rho : "") + ", T = " + $("length").value;
  }
  function measure() {
    $("error").textContent = "";
    const rho = Number($("rho").value), isRnn = $("cell").value.startsWith("rnn");
    $("rho-value").textContent = rho > 0 ? "ρ = " + rho.toFixed(2) : "PyTorch's init";
    $("rho").disabled = !isRnn;
    try {
      current = {label: name(), ys: cg.flow($("cell").value, isRnn ? rho : 0, Number($("length").value), Number($("seed").value))};
    } catch (e) { $("error").textContent = e.message; current = null; }
    draw();
  }
  function draw() {
    const series = kept.concat(current ? [current] : []);
    drawLogPlot($("plot"), series, {title: "||dL_T / dh_t||: the gradient of the last step's loss, t steps back",
                                    xlabel: "steps back from T", ylabel: "gradient norm"});
    if (!current) return;
    const ys = current.ys, first = ys[0], last = ys[ys.length - 1];
    const zero = ys.findIndex(function (v) { return v === 0; });
    $("summary").textContent = first.toPrecision(3) + " at the last step, " + last.toPrecision(3) + " " + (ys.length - 1) +
      " steps back: a factor " + (last > 0 ? (last / first).toPrecision(2) : "0");
    $("note").textContent = zero >= 0 ? "The gradient underflows float32 " + zero + " steps back (below about 1.4e-45 it is 0):" +
      " the vanishing gradient, complete — earlier steps get nothing at all." : "";
    document.body.dataset.first = String(first);
    document.body.dataset.last = String(last);
    document.body.dataset.curves = String(series.length);
  }
  // ---- clip ----
  function clip() {
    $("clip-error").textContent = "";
    const threshold = Number($("clip-norm").value);
    let r;
    try {
      r = cg.clip(TEXTS.sonnets.text, Number($("clip-rho").value), threshold, Number($("clip-steps").value), Number($("seed").value));
    } catch (e) { $("clip-error").textContent = e.message; return; }
    const labels = ["no clipping", "clip_grad_norm " + threshold];
    drawLogPlot($("clip-loss"), [{label: labels[0], ys: r.loss[0]}, {label: labels[1], ys: r.loss[1]}],
                {title: "training loss", xlabel: "step", ylabel: "loss"});
    drawLogPlot($("clip-gnorm"), [{label: labels[0], ys: r.gnorm[0]}, {label: labels[1], ys: r.gnorm[1]}],
                {title: "the gradient norm before clipping", xlabel: "step", ylabel: "gradient norm",
                 refs: [{y: threshold, label: "clip threshold"}]});
    const dead = r.loss[0].findIndex(function (v) { return !isFinite(v); });
    const last = r.loss[1][r.loss[1].length - 1];
    $("clip-summary").textContent = "first gradient norm " + r.gnorm[0][0].toPrecision(4) + "; unclipped, " +
      (dead >= 0 ? "the loss is NaN by step " + (dead + 1) : "the loss ends at " + r.loss[0][r.loss[0].length - 1].toPrecision(3)) +
      "; clipped, it goes from " + r.loss[1][0].toPrecision(3) + " to " + last.toPrecision(3);
    document.body.dataset.clipdead = String(dead + 1);
    document.body.dataset.cliplast = String(last);
    document.body.dataset.clipfirst = String(r.loss[1][0]);
  }
  $("clip-run").onclick = clip;

  // ---- memory: one cell (net, gap) per tick, so that the page shows progress ----
  const NETS = ["RNN", "LSTM", "GRU", "LSTM, forget bias 1"];
  function memory() {
    $("memory-error").textContent = "";
    const gaps = $("memory-gaps").value.split(",").map(Number), steps = Number($("memory-steps").value);
    if (gaps.some(function (g) { return !(g >= 1 && g <= 200 && g === Math.floor(g)); })) {
      $("memory-error").textContent = "gaps: whole numbers 1 to 200, separated by commas"; return;
    }
    let html = "<tr><th style='padding:3px 10px'>gap</th>" + NETS.map(function (n) { return "<th style='padding:3px 10px'>" + n + "</th>"; }).join("") + "</tr>";
    gaps.forEach(function (g) {
      html += "<tr><td style='padding:3px 10px'>" + g + "</td>" +
        NETS.map(function (_, k) { return "<td id='mem-" + k + "-" + g + "' style='padding:3px 10px; text-align:right'>…</td>"; }).join("") + "</tr>";
    });
    $("memory-table").innerHTML = html;
    const cells = [];
    gaps.forEach(function (g) { NETS.forEach(function (_, k) { cells.push([k, g]); }); });
    let done = 0;
    document.body.dataset.memorydone = "0";
    (function next() {
      if (done === cells.length) { $("memory-status").textContent = "done (chance 0.25)"; return; }
      const [k, g] = cells[done];
      let acc;
      try { acc = cg.memory(k, g, steps, Number($("seed").value)); } catch (e) { $("memory-error").textContent = e.message; return; }
      const td = $("mem-" + k + "-" + g);
      td.textContent = acc.toFixed(3);
      td.style.background = "hsl(" + Math.round(120 * Math.max(0, (acc - 0.25) / 0.75)) + ",70%,80%)";
      done++;
      document.body.dataset.memorydone = String(done);
      $("memory-status").textContent = done + " of " + cells.length + " trained";
      setTimeout(next, 0);
    })();
  }
  $("memory-run").onclick = memory;

  // ---- truncate: one chunk length per tick ----
  function truncate() {
    $("truncate-error").textContent = "";
    const Ts = $("truncate-ts").value.split(",").map(Number), chars = Number($("truncate-chars").value), series = [];
    if (Ts.some(function (T) { return !(T >= 1 && T <= 256 && T === Math.floor(T)); })) {
      $("truncate-error").textContent = "chunk lengths: whole numbers 1 to 256, separated by commas"; return;
    }
    let k = 0;
    (function next() {
      if (k === Ts.length) { document.body.dataset.truncatedone = String(series.length); return; }
      let r;
      try { r = cg.truncate(TEXTS.sonnets.text, Ts[k], chars, Number($("seed").value)); }
      catch (e) { $("truncate-error").textContent = e.message; return; }
      const last = r.loss.slice(-Math.ceil(r.loss.length / 10));
      const final = last.reduce(function (a, b) { return a + b; }, 0) / last.length;
      series.push({label: "T = " + Ts[k] + ": " + r.loss.length + " steps", xs: r.chars, ys: r.loss});
      document.body.dataset["truncate" + Ts[k]] = String(final);
      $("truncate-status").textContent = series.length + " of " + Ts.length + " run";
      drawLogPlot($("truncate-plot"), series, {title: "training loss against characters read", xlabel: "characters read", ylabel: "loss"});
      k++;
      setTimeout(next, 0);
    })();
  }
  $("truncate-run").onclick = truncate;

  controlsFromQuery();
  ["cell", "rho", "length", "seed"].forEach(function (id) { $(id).oninput = measure; $(id).onchange = measure; });
  $("add").onclick = function () { if (current && kept.length < 7) { kept.push(current); measure(); } };
  $("clear").onclick = function () { kept.length = 0; draw(); };
  measure();
  clip();
  document.body.dataset.ready = "1";
  if (new URLSearchParams(location.search).get("memory") === "run") memory();
  if (new URLSearchParams(location.search).get("truncate") === "run") truncate();
})();
