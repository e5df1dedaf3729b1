// cgrad's graph page: steps the backward pass op by op, in the order cg_backward
// runs the ops; shows a node's op, shape, values and gradient; colours tensors by
// gradient norm or value magnitude; collapses time steps. DATA comes before this.
"use strict";
(function () {
  const svg = document.querySelector("#graph svg");
  svg.removeAttribute("width");     // fit the panel (Graphviz gives a viewBox)
  svg.removeAttribute("height");
  svg.style.width = "100%";
  svg.style.height = "auto";
  const byTitle = {};        // DOT node name ("t3", "op3", "t3->op5") -> <g>
  svg.querySelectorAll("g.node, g.edge, g.cluster").forEach(function (g) {
    const t = g.querySelector("title");
    if (t) byTitle[t.textContent.replace("&#45;", "-")] = g;
  });
  const tensors = {};
  DATA.tensors.forEach(function (t) { tensors[t.id] = t; });
  const opIndex = {};        // op id -> its place in the backward order
  DATA.ops.forEach(function (op, i) { opIndex[op.id] = i; });
  Object.keys(byTitle).forEach(function (id) {
    const g = byTitle[id];
    if (!g.classList.contains("node")) return;
    g.classList.add(id.startsWith("op") ? "op" : "tensor");
    g.addEventListener("mouseenter", function () { show(id); });
    g.addEventListener("click", function () { select(id); });
  });

  // ---- controls ----
  const controls = document.getElementById("controls");
  controls.innerHTML =
    '<button id="prev">&#9664; prev</button>' +
    '<input type="range" id="slider" min="0" max="' + DATA.ops.length + '" value="0">' +
    '<button id="next">next &#9654;</button><span id="status"></span>' +
    '<label>colour by <select id="colour"><option value="grad">gradient norm</option>' +
    '<option value="value">value magnitude</option></select></label> <span class="legend"></span> small to large' +
    '<label><input type="checkbox" id="collapse"> collapse time steps</label>';
  const slider = document.getElementById("slider");
  let selected = null;

  function colourOf(norm) {   // blue (1e-8) .. green .. red (1e2), on a log scale
    if (!(norm > 0)) return "hsl(240,70%,80%)";
    const x = Math.min(1, Math.max(0, (Math.log10(norm) + 8) / 10));
    return "hsl(" + Math.round(240 * (1 - x)) + ",70%,70%)";
  }
  function paint(g, fill) {
    g.querySelectorAll("ellipse, polygon, path").forEach(function (s) { s.setAttribute("fill", fill); });
  }

  // After `done` ops have run backward: which gradients have arrived.
  function arrived(done) {
    const has = {};
    has[DATA.tensors[0].id] = true;               // the root's gradient is the seed
    for (let i = 0; i < done; i++) DATA.ops[i].inputs.forEach(function (t) { has[t] = true; });
    return has;
  }

  function update() {
    const done = Number(slider.value), mode = document.getElementById("colour").value;
    const has = arrived(done);
    DATA.ops.forEach(function (op, i) {
      const g = byTitle[op.id];
      if (!g) return;
      g.classList.toggle("done", i < done);
      g.classList.toggle("next", i === done);
    });
    DATA.tensors.forEach(function (t) {
      const g = byTitle[t.id];
      if (!g) return;
      const on = mode === "value" || has[t.id];
      g.classList.toggle("arrived", !!has[t.id]);
      paint(g, mode === "value" ? colourOf(t.vnorm) : on && t.gnorm >= 0 ? colourOf(t.gnorm) : "#ffffff");
    });
    const next = DATA.ops[done];
    document.getElementById("status").textContent = done + " / " + DATA.ops.length + " ops run backward" +
      (next ? "; next: " + next.name + (tensors[next.out].step >= 0 ? " at t = " + tensors[next.out].step : "") : "; done");
    document.body.dataset.step = String(done);
    document.body.dataset.marked = String(document.querySelectorAll("g.node.op.done").length);
    document.body.dataset.arrived = String(document.querySelectorAll("g.node.tensor.arrived").length);
  }

  function fmt(v) { return v === null ? "none" : "[" + v.map(function (x) { return typeof x === "number" ? x.toPrecision(4) : x; }).join(", ") + (v.length === 8 ? ", ..." : "") + "]"; }

  function show(id) {
    const info = document.getElementById("info");
    if (id.startsWith("op")) {
      const op = DATA.ops[opIndex[id]], t = tensors["t" + id.slice(2)];
      info.textContent = "op " + (op ? op.name : "(no gradient)") + "\nmakes " + "t" + id.slice(2) + " " + t.shape +
        (t.step >= 0 ? "\ntime step " + t.step : "") +
        (op ? "\nruns backward as number " + (opIndex[id] + 1) + " of " + DATA.ops.length : "");
      return;
    }
    const t = tensors[id];
    info.textContent = (t.name ? t.name + "\n" : "") + "tensor " + id + " " + t.shape + ", " + t.numel + " values" +
      "\nmade by " + t.op + (t.step >= 0 ? " at time step " + t.step : "") +
      "\n\nvalues " + fmt(t.values) + "\n|values| " + t.vnorm.toPrecision(4) +
      "\n\ngradient " + fmt(t.grad) + (t.gnorm >= 0 ? "\n|gradient| " + t.gnorm.toPrecision(4) : "");
  }
  function select(id) {
    if (selected) byTitle[selected].classList.remove("selected");
    selected = id;
    byTitle[id].classList.add("selected");
    show(id);
  }

  // Collapsing: the nodes of each time step hidden, its cluster box labelled with the
  // gradient norm of what it holds; the edges into and out of it hidden too.
  function collapse(on) {
    const stepOf = {};
    DATA.tensors.forEach(function (t) { stepOf[t.id] = t.step; stepOf["op" + t.id.slice(1)] = t.step; });
    Object.keys(byTitle).forEach(function (id) {
      const g = byTitle[id];
      if (g.classList.contains("node")) g.classList.toggle("hidden", on && stepOf[id] >= 0);
      if (g.classList.contains("edge")) {
        const ends = id.split("->");
        g.classList.toggle("hidden", on && (stepOf[ends[0]] >= 0 || stepOf[ends[1]] >= 0));
      }
      if (g.classList.contains("cluster")) {
        const step = Number(id.replace("cluster_t", ""));
        let sq = 0;
        DATA.tensors.forEach(function (t) { if (t.step === step && t.gnorm > 0) sq += t.gnorm * t.gnorm; });
        const label = g.querySelector("text");
        if (label) label.textContent = "t = " + step + (on ? "  |grad| " + Math.sqrt(sq).toPrecision(3) : "");
        g.querySelectorAll("path, polygon").forEach(function (s) { s.setAttribute("fill", on ? colourOf(Math.sqrt(sq)) : "none"); });
      }
    });
    document.body.dataset.collapsed = on ? "yes" : "no";
  }

  slider.addEventListener("input", update);
  document.getElementById("prev").addEventListener("click", function () { slider.value = Math.max(0, Number(slider.value) - 1); update(); });
  document.getElementById("next").addEventListener("click", function () { slider.value = Math.min(DATA.ops.length, Number(slider.value) + 1); update(); });
  document.getElementById("colour").addEventListener("change", update);
  document.getElementById("collapse").addEventListener("change", function (e) { collapse(e.target.checked); });

  // The page opens at #step=N (and #collapse) when asked: tests and links use it.
  const want = /step=(\d+)/.exec(location.hash);
  if (want) slider.value = Math.min(DATA.ops.length, Number(want[1]));
  update();
  // a long unrolled net starts collapsed (one box a time step), unless #expand is asked for
  const steps = Math.max.apply(null, DATA.tensors.map(function (t) { return t.step; }));
  if (/collapse/.test(location.hash) || (steps > 24 && !/expand/.test(location.hash))) {
    document.getElementById("collapse").checked = true;
    collapse(true);
  }
  document.body.dataset.ready = "yes";
})();
