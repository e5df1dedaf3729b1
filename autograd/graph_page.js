// cgrad's graph page: steps the backward pass op by op, in the order cg_backward
// runs the ops; shows a node's op, role, values and gradient (once it has arrived);
// colours tensors by gradient norm or value magnitude on a scale fitted to this
// graph's numbers; zooms and pans; collapses time steps into boxes that keep the
// edges between them. DATA comes before this.
"use strict";
(function () {
  const panel = document.getElementById("graph");
  const svg = panel.querySelector("svg");
  const byTitle = {};        // DOT node name ("t3", "op3", "t3->op5", "cluster_t2") -> <g>
  svg.querySelectorAll("g.node, g.edge, g.cluster").forEach(function (g) {
    const t = g.querySelector("title");
    if (t) byTitle[t.textContent.replace("&#45;", "-")] = g;
  });
  const tensors = {};
  DATA.tensors.forEach(function (t) { tensors[t.id] = t; });
  const opIndex = {};        // op id -> its place in the backward order
  DATA.ops.forEach(function (op, i) { opIndex[op.id] = i; });
  const arrivesAt = {};      // tensor id -> how many ops have run when its gradient is complete
  arrivesAt[DATA.tensors[0].id] = 0;
  DATA.ops.forEach(function (op, i) { op.inputs.forEach(function (t) { arrivesAt[t] = i + 1; }); });
  const stepOf = {};         // node name -> time step (-1: none)
  DATA.tensors.forEach(function (t) { stepOf[t.id] = t.step; stepOf["op" + t.id.slice(1)] = t.step; });
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
    '<option value="value">value magnitude</option></select></label>' +
    '<span id="legend"><span id="legend-lo"></span><span class="legend"></span><span id="legend-hi"></span></span>' +
    '<label><input type="checkbox" id="collapse"> collapse time steps</label>' +
    '<span><button id="zoom-out" title="zoom out (or the mouse wheel)">&minus;</button>' +
    '<button id="zoom-fit" title="the whole graph in the panel">fit</button>' +
    '<button id="zoom-in" title="zoom in (or the mouse wheel)">+</button></span>';
  const slider = document.getElementById("slider");
  let selected = null, collapsed = false;

  // ---- zoom and pan: the SVG drawn at a size, so that zooming enlarges its text ----
  const box = svg.viewBox.baseVal;                  // Graphviz's points
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  let zoom = 1;                                     // CSS pixels per point
  function setZoom(z, cx, cy) {                     // keeps the point under (cx, cy) in place
    const old = zoom, rect = panel.getBoundingClientRect();
    cx = cx === undefined ? rect.width / 2 : cx, cy = cy === undefined ? rect.height / 2 : cy;
    zoom = Math.min(8, Math.max(0.05, z));
    svg.style.width = box.width * zoom + "px";
    svg.style.height = box.height * zoom + "px";
    panel.scrollLeft = (panel.scrollLeft + cx) * zoom / old - cx;
    panel.scrollTop = (panel.scrollTop + cy) * zoom / old - cy;
    document.body.dataset.zoom = zoom.toFixed(3);
    document.body.dataset.minlabel = smallestLabel().toFixed(1);
  }
  function fitZoom() {
    const rect = panel.getBoundingClientRect();
    return Math.min((rect.width - 4) / box.width, (rect.height - 4) / box.height);
  }
  // The smallest font of a visible node label, in CSS pixels as drawn now.
  function smallestLabel() {
    let least = Infinity;
    svg.querySelectorAll("g.node:not(.hidden) text").forEach(function (t) {
      least = Math.min(least, parseFloat(t.getAttribute("font-size")) * zoom);
    });
    return least === Infinity ? 0 : least;
  }
  const fontPt = parseFloat((svg.querySelector("g.node text") || {getAttribute: function () { return "10"; }}).getAttribute("font-size"));
  const readable = 12 / fontPt;                     // the zoom at which labels are 12 px
  panel.addEventListener("wheel", function (e) {
    e.preventDefault();
    const rect = panel.getBoundingClientRect();
    setZoom(zoom * Math.pow(1.0015, -e.deltaY), e.clientX - rect.left, e.clientY - rect.top);
  }, {passive: false});
  let drag = null;                                  // pan by dragging the background
  panel.addEventListener("mousedown", function (e) {
    if (e.target.closest("g.node")) return;
    drag = {x: e.clientX, y: e.clientY, left: panel.scrollLeft, top: panel.scrollTop};
    panel.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    panel.scrollLeft = drag.left - (e.clientX - drag.x);
    panel.scrollTop = drag.top - (e.clientY - drag.y);
  });
  window.addEventListener("mouseup", function () { drag = null; panel.classList.remove("dragging"); });

  // ---- colours: a log scale over this graph's own range of norms ----
  function scaleOf(mode) {
    let lo = Infinity, hi = 0;
    DATA.tensors.forEach(function (t) {
      const v = mode === "value" ? t.vnorm : t.gnorm;
      if (v > 0) lo = Math.min(lo, v), hi = Math.max(hi, v);
    });
    if (!(hi > 0)) return {lo: 1, hi: 10};
    lo = Math.log10(lo), hi = Math.log10(hi);
    if (hi - lo < 0.5) lo -= 0.25, hi += 0.25;      // nearly one value: still a scale
    return {lo: lo, hi: hi};
  }
  function colourOf(norm, scale) {                  // blue (least) .. green .. red (greatest)
    if (!(norm > 0)) return "hsl(240,70%,85%)";
    const x = Math.min(1, Math.max(0, (Math.log10(norm) - scale.lo) / (scale.hi - scale.lo)));
    return "hsl(" + Math.round(240 * (1 - x)) + ",70%,70%)";
  }
  function paint(g, fill) {
    g.querySelectorAll("ellipse, polygon, path").forEach(function (s) { s.setAttribute("fill", fill); });
  }
  function number(v) { return v >= 0.01 && v < 1e4 ? String(Number(v.toPrecision(2))) : v.toExponential(1); }

  // After `done` ops have run backward: which gradients have arrived.
  function arrived(done) {
    const has = {};
    Object.keys(arrivesAt).forEach(function (id) { if (arrivesAt[id] <= done) has[id] = true; });
    return has;
  }

  // Scrolls the panel so that a node (or, collapsed, its step's box) is in view.
  function follow(id, always) {
    const g = collapsed && stepOf[id] >= 0 ? byTitle["cluster_t" + stepOf[id]] : byTitle[id];
    if (!g) return;
    const r = g.getBoundingClientRect(), p = panel.getBoundingClientRect();
    if (!always && r.left >= p.left && r.right <= p.right && r.top >= p.top && r.bottom <= p.bottom) return;
    panel.scrollLeft += r.left + r.width / 2 - (p.left + p.width / 2);
    panel.scrollTop += r.top + r.height / 2 - (p.top + p.height / 2);
  }

  function update() {
    const done = Number(slider.value), mode = document.getElementById("colour").value, scale = scaleOf(mode);
    const has = arrived(done);
    document.getElementById("legend-lo").textContent = number(Math.pow(10, scale.lo)) + " ";
    document.getElementById("legend-hi").textContent = " " + number(Math.pow(10, scale.hi));
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
      paint(g, mode === "value" ? colourOf(t.vnorm, scale) : on && t.gnorm >= 0 ? colourOf(t.gnorm, scale) : "#ffffff");
    });
    paintSteps(has, mode, scale);
    const next = DATA.ops[done];
    document.getElementById("status").textContent = done + " / " + DATA.ops.length + " ops run backward" +
      (next ? "; next: " + next.name + (tensors[next.out].step >= 0 ? " at t = " + tensors[next.out].step : "") : "; done");
    follow(next ? next.id : DATA.tensors[DATA.tensors.length - 1].id);
    document.body.dataset.step = String(done);
    document.body.dataset.marked = String(document.querySelectorAll("g.node.op.done").length);
    document.body.dataset.arrived = String(document.querySelectorAll("g.node.tensor.arrived").length);
    if (selected) show(selected);
  }

  function fmt(v) { return v === null ? "none" : "[" + v.map(function (x) { return typeof x === "number" ? x.toPrecision(4) : x; }).join(", ") + (v.length === 8 ? ", ..." : "") + "]"; }

  function show(id) {
    const info = document.getElementById("info"), done = Number(slider.value);
    if (id.startsWith("op")) {
      const op = DATA.ops[opIndex[id]], t = tensors["t" + id.slice(2)];
      info.textContent = "op " + (op ? op.name : "(no gradient)") + "\nmakes " + (t.role || "t" + id.slice(2)) + " " + t.shape +
        (t.step >= 0 ? "\ntime step " + t.step : "") +
        (op ? "\nruns backward as number " + (opIndex[id] + 1) + " of " + DATA.ops.length +
              (opIndex[id] < done ? " (has run)" : " (has not run yet)") : "");
      return;
    }
    const t = tensors[id], at = arrivesAt[id];
    let gradient;
    if (t.gnorm < 0 || at === undefined) gradient = "gradient: none (nothing sends one here)";
    else if (at > done) gradient = "gradient: not yet arrived; it is complete after op " + at + " of " + DATA.ops.length +
      " has run backward";
    else gradient = "gradient " + fmt(t.grad) + "\n|gradient| " + t.gnorm.toPrecision(4);
    info.textContent = (t.role ? t.role + "\n" : "") + "tensor " + id + " " + t.shape + ", " + t.numel + " values" +
      "\nmade by " + t.op + (t.step >= 0 ? " at time step " + t.step : "") +
      "\n\nvalues " + fmt(t.values) + "\n|values| " + t.vnorm.toPrecision(4) + "\n\n" + gradient;
    document.body.dataset.shown = id;
  }
  function select(id) {
    if (selected) byTitle[selected].classList.remove("selected");
    selected = id;
    byTitle[id].classList.add("selected");
    show(id);
  }

  // ---- collapsing: each time step one box, labelled and coloured by the gradient that
  // has arrived in it so far; the edges between steps (the recurrence) and from the
  // parameters into them drawn box to box, so the chain stays visible ----
  const NS = "http://www.w3.org/2000/svg";
  const overlay = document.createElementNS(NS, "g");
  overlay.setAttribute("id", "step-edges");
  overlay.innerHTML = '<defs><marker id="step-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="5" ' +
    'markerHeight="5" orient="auto"><path d="M0 0L10 5L0 10z" fill="#c0392b"/></marker></defs>';
  svg.querySelector("g").appendChild(overlay);
  function centre(g) { const b = g.getBBox(); return {x: b.x + b.width / 2, y: b.y + b.height / 2, b: b}; }
  function anchorOf(name) {               // the box a node is drawn as while collapsed
    const s = stepOf[name];
    return s >= 0 ? byTitle["cluster_t" + s] : byTitle[name];
  }
  function drawStepEdges() {
    overlay.querySelectorAll("line").forEach(function (l) { l.remove(); });
    const seen = {};
    Object.keys(byTitle).forEach(function (id) {
      if (!byTitle[id].classList.contains("edge")) return;
      const ends = id.split("->"), a = anchorOf(ends[0]), b = anchorOf(ends[1]);
      if (!a || !b || a === b || !(stepOf[ends[0]] >= 0 || stepOf[ends[1]] >= 0)) return;
      const key = ends.map(function (e) { return stepOf[e] >= 0 ? "s" + stepOf[e] : e; }).join(">");
      if (seen[key]) return;
      seen[key] = true;
      const p = centre(a), q = centre(b), line = document.createElementNS(NS, "line");
      const recurrent = stepOf[ends[0]] >= 0 && stepOf[ends[1]] >= 0;
      line.setAttribute("x1", p.x + (q.x > p.x ? p.b.width / 2 : 0));
      line.setAttribute("y1", p.y);
      line.setAttribute("x2", q.x - (q.x > p.x ? q.b.width / 2 : 0));
      line.setAttribute("y2", q.y);
      line.setAttribute("class", recurrent ? "step-edge recurrent" : "step-edge");
      overlay.appendChild(line);
    });
    document.body.dataset.stepedges = String(overlay.querySelectorAll("line.recurrent").length);
  }
  // The norm of what has reached each step so far (of its values, or of the gradients
  // that have arrived); -1 where nothing has.
  function stepNorms(has, mode) {
    const sq = [];
    for (let s = 0; s <= lastStep; s++) sq.push(-1);
    DATA.tensors.forEach(function (t) {
      const v = mode === "value" ? t.vnorm : t.gnorm;
      if (t.step >= 0 && v > 0 && (mode === "value" || has[t.id])) sq[t.step] = Math.max(sq[t.step], 0) + v * v;
    });
    return sq.map(function (x) { return x < 0 ? -1 : Math.sqrt(x); });
  }
  function paintSteps(has, mode, scale) {
    const norms = stepNorms(has, mode), what = mode === "value" ? "  |values| " : "  |grad| ";
    Object.keys(byTitle).forEach(function (id) {
      const g = byTitle[id];
      if (!g.classList.contains("cluster")) return;
      const step = Number(id.replace("cluster_t", "")), norm = norms[step];
      const label = g.querySelector("text");
      if (label) label.textContent = "t = " + step + (collapsed ? (norm >= 0 ? what + number(norm) : "  no gradient yet") : "");
      g.querySelectorAll("path, polygon").forEach(function (s) {
        s.setAttribute("fill", collapsed ? (norm >= 0 ? colourOf(norm, scale) : "#ffffff") : "none");
      });
    });
    paintStrip(norms, scale);
  }

  // ---- the time strip: one cell a step, however many steps, coloured by what has reached
  // it, the step about to run backward outlined; a click brings that step into view ----
  const lastStep = Math.max.apply(null, DATA.tensors.map(function (t) { return t.step; }));
  const strip = document.createElement("div");
  strip.id = "strip";
  document.getElementById("main").before(strip);
  function paintStrip(norms, scale) {
    if (lastStep < 1) { strip.style.display = "none"; return; }
    const n = lastStep + 1, width = Math.max(200, strip.clientWidth || 900), cell = width / n;
    const every = Math.ceil(n / Math.max(1, Math.floor(width / 32)));   // step numbers 32 px apart at least
    const next = DATA.ops[Number(slider.value)], at = next ? tensors[next.out].step : -1;
    let html = '<svg width="' + width + '" height="40" font-size="12">' +
      '<line x1="' + cell / 2 + '" x2="' + (width - cell / 2) + '" y1="12" y2="12" stroke="#c0392b" stroke-width="2"/>';
    norms.forEach(function (norm, s) {
      const title = "t = " + s + (norm >= 0 ? "  " + number(norm) : "  nothing yet");
      html += '<rect class="strip-cell" data-step="' + s + '" x="' + (s * cell + 1) + '" y="4" width="' + Math.max(1, cell - 2) +
        '" height="16" fill="' + (norm >= 0 ? colourOf(norm, scale) : "#ffffff") + '" stroke="' + (s === at ? "#e67e22" : "#999") +
        '" stroke-width="' + (s === at ? 3 : 1) + '"><title>' + title + '</title></rect>';
      if (s % every === 0) html += '<text x="' + (s * cell + cell / 2) + '" y="34" text-anchor="middle">' + s + '</text>';
    });
    strip.innerHTML = html + "</svg>";
    document.body.dataset.stripcells = String(strip.querySelectorAll("rect.strip-cell").length);
    document.body.dataset.stripfilled = String(strip.querySelectorAll('rect.strip-cell:not([fill="#ffffff"])').length);
  }
  strip.addEventListener("click", function (e) {
    const cell = e.target.closest("rect.strip-cell");
    if (!cell) return;
    const id = DATA.tensors.find(function (t) { return t.step === Number(cell.dataset.step); });
    if (id) follow(id.id, true);
  });
  function collapse(on) {
    collapsed = on;
    document.getElementById("collapse").checked = on;
    Object.keys(byTitle).forEach(function (id) {
      const g = byTitle[id];
      if (g.classList.contains("node")) g.classList.toggle("hidden", on && stepOf[id] >= 0);
      if (g.classList.contains("edge")) {
        const ends = id.split("->");
        g.classList.toggle("hidden", on && (stepOf[ends[0]] >= 0 || stepOf[ends[1]] >= 0));
      }
    });
    overlay.style.display = on ? "" : "none";
    if (on) drawStepEdges();
    document.body.dataset.collapsed = on ? "yes" : "no";
    update();
    document.body.dataset.minlabel = smallestLabel().toFixed(1);
  }

  slider.addEventListener("input", update);
  document.getElementById("prev").addEventListener("click", function () { slider.value = Math.max(0, Number(slider.value) - 1); update(); });
  document.getElementById("next").addEventListener("click", function () { slider.value = Math.min(DATA.ops.length, Number(slider.value) + 1); update(); });
  document.getElementById("colour").addEventListener("change", update);
  document.getElementById("collapse").addEventListener("change", function (e) { collapse(e.target.checked); });
  document.getElementById("zoom-in").addEventListener("click", function () { setZoom(zoom * 1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { setZoom(zoom / 1.25); });
  document.getElementById("zoom-fit").addEventListener("click", function () { setZoom(fitZoom()); });

  // The page opens at #step=N (and #collapse, #expand, #zoom=Z, #show=tK) when asked: tests and links use it.
  const hash = location.hash;
  const want = /step=(\d+)/.exec(hash);
  if (want) slider.value = Math.min(DATA.ops.length, Number(want[1]));
  // opens readable: the whole graph if its labels are then 12 px or more, else at 12 px to pan around
  const askedZoom = /zoom=([0-9.]+)/.exec(hash);
  setZoom(askedZoom ? Number(askedZoom[1]) : Math.max(fitZoom(), readable), 0, 0);
  update();
  // a long unrolled net starts collapsed (one box a time step), unless #expand is asked for
  collapse(/collapse/.test(hash) || (lastStep > 24 && !/expand/.test(hash)));
  const asked = /show=(t\d+|op\d+)/.exec(hash);
  if (asked && byTitle[asked[1]]) select(asked[1]);
  document.body.dataset.ready = "yes";
})();
