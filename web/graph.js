// The graph page: the hello model's graph (cg_graph_json) in a layered layout of its
// own — a column per rank, time steps kept in order so the recurrence reads left to
// right — and the backward pass stepped op by op. For tests: body[data-ready],
// data-step, data-marked (ops run), data-arrived (gradients arrived), data-minlabel (px),
// data-chain (1 when every step's h_t lies right of the step before).
"use strict";
(async function () {
  const $ = function (id) { return document.getElementById(id); };
  const cg = await loadCgrad();
  const NS = "http://www.w3.org/2000/svg", FONT = 12, DX = 150, DY = 64;
  let G = null, zoom = 1, svg = null;

  // Ranks: longest path from the sources; a step's first ops after everything of the
  // step before; a source just left of its first user.
  function layout(g) {
    const nodes = {}, preds = {}, succs = {};
    function add(id, kind, step) { nodes[id] = {id: id, kind: kind, step: step}; preds[id] = []; succs[id] = []; }
    g.tensors.forEach(function (t) { add(t.id, "tensor", t.step); });
    g.ops.forEach(function (op) {
      add(op.id, "op", nodes[op.out].step);
      op.args.forEach(function (a) { preds[op.id].push(a); succs[a].push(op.id); });
      preds[op.out].push(op.id); succs[op.id].push(op.out);
    });
    const rank = {};
    Object.keys(nodes).forEach(function (id) { rank[id] = 0; });
    for (let pass = 0; pass < 50; pass++) {             // relax until nothing moves
      let moved = false;
      const maxOfStep = {};
      Object.keys(nodes).forEach(function (id) { const s = nodes[id].step; if (s >= 0) maxOfStep[s] = Math.max(maxOfStep[s] || 0, rank[id]); });
      Object.keys(nodes).forEach(function (id) {
        let r = 0;
        preds[id].forEach(function (p) { r = Math.max(r, rank[p] + 1); });
        const s = nodes[id].step;
        if (s > 0 && nodes[id].kind === "op" && !preds[id].some(function (p) { return nodes[p].step === s; }))
          r = Math.max(r, (maxOfStep[s - 1] || 0) + 1);
        if (r > rank[id]) rank[id] = r, moved = true;
      });
      if (!moved) break;
    }
    Object.keys(nodes).forEach(function (id) {          // sources next to their first user
      if (preds[id].length === 0 && succs[id].length)
        rank[id] = Math.min.apply(null, succs[id].map(function (s) { return rank[s]; })) - 1;
    });
    // rows: the recurrent chain (h_t, c_t and the ops making them) on top, the input's
    // slices x_t below it, everything else under those, so no edge runs through a node
    const roleOf = {};
    g.tensors.forEach(function (t) { roleOf[t.id] = t.role; });
    g.ops.forEach(function (op) { roleOf[op.id] = roleOf[op.out]; });
    function lane(id) { const r = roleOf[id] || ""; return /^[hc]_\d+$/.test(r) ? 0 : /^x_/.test(r) ? 1 : 2; }
    const columns = {};
    Object.keys(nodes).forEach(function (id) { (columns[rank[id]] = columns[rank[id]] || []).push(id); });
    const minRank = Math.min.apply(null, Object.keys(columns).map(Number));
    Object.keys(columns).forEach(function (r) {
      columns[r].sort(function (a, b) { return (lane(a) - lane(b)) || (nodes[a].step - nodes[b].step) || (a < b ? -1 : 1); });
      let row = 0;
      columns[r].forEach(function (id) {
        row = Math.max(row, lane(id));
        nodes[id].x = 80 + (Number(r) - minRank) * DX, nodes[id].y = 50 + row * DY;
        row++;
      });
    });
    return {nodes: nodes, preds: preds};
  }

  function label(t) { return [t.role || "", t.shape]; }
  function draw(g) {
    const L = layout(g), tensors = {};
    g.tensors.forEach(function (t) { tensors[t.id] = t; });
    let W = 0, H = 0;
    Object.values(L.nodes).forEach(function (n) { W = Math.max(W, n.x + 100); H = Math.max(H, n.y + 50); });
    let out = '<svg xmlns="' + NS + '" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + " " + H + '" font-family="sans-serif">' +
      '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">' +
      '<path d="M0 0L10 5L0 10z" fill="#666"/></marker></defs>';
    Object.keys(L.preds).forEach(function (id) {
      L.preds[id].forEach(function (p) {
        const a = L.nodes[p], b = L.nodes[id], x1 = a.x + (a.kind === "op" ? 42 : 52), x2 = b.x - (b.kind === "op" ? 42 : 52);
        out += '<path d="M' + x1 + " " + a.y + " C" + (x1 + 40) + " " + a.y + " " + (x2 - 40) + " " + b.y + " " + x2 + " " + b.y +
          '" fill="none" stroke="#999" marker-end="url(#arrow)"/>';
      });
    });
    Object.values(L.nodes).forEach(function (n) {
      if (n.kind === "op") {
        const op = g.ops.find(function (o) { return o.id === n.id; });
        out += '<g class="node op" id="' + n.id + '"><rect x="' + (n.x - 42) + '" y="' + (n.y - 14) + '" width="84" height="28" rx="8" fill="#eee" stroke="#777"/>' +
          '<text x="' + n.x + '" y="' + (n.y + 4) + '" text-anchor="middle" font-size="' + FONT + '">' + op.name.replace(/Backward\d*$/, "") + "</text></g>";
      } else {
        const t = tensors[n.id], lines = label(t);
        out += '<g class="node tensor" id="' + n.id + '"><ellipse cx="' + n.x + '" cy="' + n.y + '" rx="52" ry="20" fill="#fff" stroke="' +
          (t.op === "parameter" ? "#000" : "#777") + '" stroke-width="' + (t.op === "parameter" ? 2 : 1) + '"/>' +
          '<text x="' + n.x + '" y="' + (n.y - 2) + '" text-anchor="middle" font-size="' + FONT + '">' + lines[0] + "</text>" +
          '<text x="' + n.x + '" y="' + (n.y + 12) + '" text-anchor="middle" font-size="' + (FONT - 1) + '" fill="#555">' + lines[1] + "</text></g>";
      }
    });
    $("graph").innerHTML = out + "</svg>";
    svg = $("graph").querySelector("svg");
    setZoom(zoom);
    $("graph").querySelectorAll("g.node").forEach(function (el) { el.addEventListener("mouseenter", function () { show(el.id); }); });
    // the recurrence as a chain: h_t right of h_{t-1}
    const hs = g.tensors.filter(function (t) { return /^h_\d+$/.test(t.role); }).sort(function (a, b) { return a.step - b.step; });
    document.body.dataset.chain = hs.every(function (t, i) { return i === 0 || L.nodes[t.id].x > L.nodes[hs[i - 1].id].x; }) ? "1" : "0";
  }
  function setZoom(z) {
    zoom = Math.max(0.2, Math.min(4, z));
    if (!svg) return;
    svg.style.width = svg.viewBox.baseVal.width * zoom + "px";
    svg.style.height = svg.viewBox.baseVal.height * zoom + "px";
    document.body.dataset.minlabel = String((FONT - 1) * zoom);
  }

  // ---- the backward pass, op by op ----
  // After done ops have run backward: the tensors whose gradient is complete (the last op
  // that sends to a tensor has run; a parameter used at every step waits for the last).
  function arrived(done) {
    const at = {}, has = {};
    at[G.tensors[0].id] = 0;
    G.ops.forEach(function (op, i) { op.inputs.forEach(function (t) { at[t] = i + 1; }); });
    Object.keys(at).forEach(function (t) { if (at[t] <= done) has[t] = true; });
    return has;
  }
  function scale() {
    let lo = Infinity, hi = 0;
    G.tensors.forEach(function (t) { if (t.gnorm > 0) lo = Math.min(lo, t.gnorm), hi = Math.max(hi, t.gnorm); });
    if (!(hi > 0)) return {lo: 0, hi: 1};
    lo = Math.log10(lo), hi = Math.log10(hi);
    if (hi - lo < 0.5) lo -= 0.25, hi += 0.25;
    return {lo: lo, hi: hi};
  }
  function colour(norm, sc) {
    const x = Math.min(1, Math.max(0, (Math.log10(norm) - sc.lo) / (sc.hi - sc.lo)));
    return "hsl(" + Math.round(240 * (1 - x)) + ",70%,70%)";
  }
  function number(v) { return v >= 0.01 && v < 1e4 ? String(Number(v.toPrecision(2))) : v.toExponential(1); }
  function update() {
    const done = Number($("slider").value), has = arrived(done), sc = scale();
    G.ops.forEach(function (op, i) {
      const el = document.getElementById(op.id);
      if (el) el.classList.toggle("done", i < done), el.classList.toggle("next", i === done);
    });
    G.tensors.forEach(function (t) {
      const el = document.getElementById(t.id);
      if (el) el.querySelector("ellipse").setAttribute("fill", has[t.id] && t.gnorm > 0 ? colour(t.gnorm, sc) : "#fff");
    });
    const next = G.ops[done], follow = document.getElementById(next ? next.id : G.tensors[G.tensors.length - 1].id);
    if (follow && follow.scrollIntoView) follow.scrollIntoView({block: "nearest", inline: "center"});
    $("status").textContent = done + " / " + G.ops.length + " ops run backward" + (next ? "; next: " + next.name : "; done");
    $("legend").textContent = "colour: |grad| from " + number(Math.pow(10, sc.lo)) + " (blue) to " + number(Math.pow(10, sc.hi)) + " (red)";
    document.body.dataset.step = String(done);
    document.body.dataset.marked = String(document.querySelectorAll("g.op.done").length);
    document.body.dataset.arrived = String(Object.keys(has).length);
  }
  function fmt(v) { return v === null ? "none" : "[" + v.map(function (x) { return typeof x === "number" ? x.toPrecision(4) : x; }).join(", ") + (v.length === 8 ? ", ..." : "") + "]"; }
  function show(id) {
    const done = Number($("slider").value);
    if (id.startsWith("op")) {
      const i = G.ops.findIndex(function (o) { return o.id === id; });
      $("info").textContent = "op " + G.ops[i].name + "\nruns backward as number " + (i + 1) + " of " + G.ops.length + (i < done ? " (has run)" : "");
      return;
    }
    const t = G.tensors.find(function (x) { return x.id === id; }), has = arrived(done)[id];
    $("info").textContent = (t.role ? t.role + "  " : "") + t.shape + (t.step >= 0 ? "  time step " + t.step : "") + "\nmade by " + t.op +
      "\nvalues " + fmt(t.values) + "\n" + (t.gnorm < 0 ? "no gradient (nothing sends one here)" : has ? "gradient " + fmt(t.grad) +
      "  |gradient| " + t.gnorm.toPrecision(4) : "gradient: not yet arrived");
  }

  function build() {
    $("error").textContent = "";
    try {
      cg.newTrainer($("text").value, $("cell").value, Number($("hidden").value), 0.1, 0);
      for (let i = 0; i < Number($("train").value); i++) cg.step();
      G = cg.graph();
    } catch (e) { $("error").textContent = e.message; return; }
    draw(G);
    $("slider").max = String(G.ops.length);
    const want = /[?&]step=(\d+)/.exec(location.search);
    $("slider").value = want ? Math.min(G.ops.length, Number(want[1])) : "0";
    update();
  }
  $("build").onclick = build;
  $("slider").oninput = update;
  $("prev").onclick = function () { $("slider").value = Math.max(0, Number($("slider").value) - 1); update(); };
  $("next").onclick = function () { $("slider").value = Math.min(G.ops.length, Number($("slider").value) + 1); update(); };
  $("zoom-in").onclick = function () { setZoom(zoom * 1.25); };
  $("zoom-out").onclick = function () { setZoom(zoom / 1.25); };
  controlsFromQuery();
  build();
  document.body.dataset.ready = "1";
})();
