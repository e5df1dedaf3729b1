// The graph page: the hello model's graph (cg_graph_json) in a layered layout of its
// own — a column per rank, time steps kept in order so the recurrence reads left to
// right — and the backward pass stepped op by op. A long sequence is drawn with time
// steps as boxes (every edge between steps kept, so the recurrence stays a chain) and
// a window of steps drawn op by op that follows the backward pass. For tests:
// body[data-ready], data-step, data-marked (ops run), data-arrived (gradients arrived),
// data-minlabel (px), data-chain (1 when every step — its h_t, or its box — lies right
// of the step before), data-links (steps with an edge into the next one), data-boxes,
// data-window ("first-last" steps drawn in full). ?step=N opens the backward pass at op
// N; ?next=N steps it N ops from there with the "next" button.
"use strict";
(async function () {
  const $ = function (id) { return document.getElementById(id); };
  const cg = await loadCgrad();
  const NS = "http://www.w3.org/2000/svg", FONT = 12, DX = 150, BOX_DX = 120, DY = 64;
  let G = null, zoom = 1, svg = null;

  // What is drawn: every tensor and op, except that a time step not in `full` is one box
  // ("box_tK"), each edge into or out of the step kept as an edge of its box.
  function visible(g, full) {
    const nodes = {}, preds = {}, succs = {}, stepOf = {};
    g.tensors.forEach(function (t) { stepOf[t.id] = t.step; });
    g.ops.forEach(function (op) { stepOf[op.id] = stepOf[op.out]; });
    function rep(id) { const st = stepOf[id]; return st >= 0 && !full(st) ? "box_t" + st : id; }
    function add(id, kind, step, role) {
      if (nodes[id]) return;
      nodes[id] = {id: id, kind: kind, step: step, role: role}; preds[id] = []; succs[id] = [];
    }
    // An edge between a box and what belongs to no step (a weight, the loss) would cross
    // the whole picture once a step: not drawn, named in the box's description instead.
    const outside = {};
    function link(a, b) {
      a = rep(a), b = rep(b);
      const box = nodes[a].kind === "box" ? a : nodes[b].kind === "box" ? b : null, other = box === a ? b : a;
      if (box && nodes[other].step < 0) {
        (outside[box] = outside[box] || {})[other] = true;
        return;
      }
      if (a !== b && preds[b].indexOf(a) < 0) preds[b].push(a), succs[a].push(b);
    }
    g.tensors.forEach(function (t) { const r = rep(t.id); add(r, r === t.id ? "tensor" : "box", t.step, t.role); });
    g.ops.forEach(function (op) { const r = rep(op.id); add(r, r === op.id ? "op" : "box", stepOf[op.id], ""); });
    g.ops.forEach(function (op) { op.args.forEach(function (a) { link(a, op.id); }); link(op.id, op.out); });
    return {nodes: nodes, preds: preds, succs: succs, outside: outside};
  }

  // Ranks: longest path from the sources; a step's first ops (or its box) after everything
  // of the step before; a source just left of its first user.
  function layout(V) {
    const nodes = V.nodes, preds = V.preds, succs = V.succs;
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
        if (s > 0 && nodes[id].kind !== "tensor" && !preds[id].some(function (p) { return nodes[p].step === s; }))
          r = Math.max(r, (maxOfStep[s - 1] || 0) + 1);
        if (r > rank[id]) rank[id] = r, moved = true;
      });
      if (!moved) break;
    }
    Object.keys(nodes).forEach(function (id) {          // sources next to their first user
      if (preds[id].length === 0 && succs[id].length)
        rank[id] = Math.min.apply(null, succs[id].map(function (s) { return rank[s]; })) - 1;
    });
    // rows: the recurrent chain (h_t, c_t, the ops making them, the boxes) on top, the
    // input's slices x_t below it, everything else under those, so no edge runs through a node
    const roleOf = {};
    Object.keys(nodes).forEach(function (id) { roleOf[id] = nodes[id].role; });
    G.ops.forEach(function (op) { if (nodes[op.id]) roleOf[op.id] = roleOf[op.out] || ""; });
    function lane(id) {
      const r = roleOf[id] || "";
      return nodes[id].kind === "box" || /^[hc]_\d+$/.test(r) ? 0 : /^x_/.test(r) ? 1 : 2;
    }
    const columns = {};
    Object.keys(nodes).forEach(function (id) { (columns[rank[id]] = columns[rank[id]] || []).push(id); });
    // x by column: a column of boxes alone is narrower than one with ops and tensors
    const xOf = {};
    let x = 80;
    Object.keys(columns).map(Number).sort(function (a, b) { return a - b; }).forEach(function (r) {
      xOf[r] = x;
      x += columns[r].every(function (id) { return nodes[id].kind === "box"; }) ? BOX_DX : DX;
    });
    Object.keys(columns).forEach(function (r) {
      columns[r].sort(function (a, b) { return (lane(a) - lane(b)) || (nodes[a].step - nodes[b].step) || (a < b ? -1 : 1); });
      let row = 0;
      columns[r].forEach(function (id) {
        row = Math.max(row, lane(id));
        nodes[id].x = xOf[r], nodes[id].y = 50 + row * DY;
        row++;
      });
    });
    return V;
  }

  function label(t) { return [t.role || "", t.shape]; }
  // Which steps are drawn op by op: all, none, or a window of three around the step the
  // backward pass is at (or a step clicked), as the view control says.
  let view = "all", centre = 0, pinned = {};
  function steps() { let last = -1; G.tensors.forEach(function (t) { last = Math.max(last, t.step); }); return last + 1; }
  function fullSteps() {
    const T = steps(), lo = Math.max(0, Math.min(centre - 1, T - 3)), hi = Math.min(T - 1, lo + 2);
    return {lo: view === "all" ? 0 : view === "boxes" ? T : lo, hi: view === "all" ? T - 1 : view === "boxes" ? -1 : hi};
  }
  let drawn = null, boxOutside = {};
  function draw(g) {
    const w = fullSteps();
    drawn = w;
    const L = layout(visible(g, function (st) { return (st >= w.lo && st <= w.hi) || pinned[st]; })), tensors = {};
    boxOutside = L.outside;
    g.tensors.forEach(function (t) { tensors[t.id] = t; });
    let W = 0, H = 0;
    Object.values(L.nodes).forEach(function (n) { W = Math.max(W, n.x + 100); H = Math.max(H, n.y + 50); });
    let out = '<svg xmlns="' + NS + '" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + " " + H + '" font-family="sans-serif">' +
      '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">' +
      '<path d="M0 0L10 5L0 10z" fill="#666"/></marker></defs>';
    Object.keys(L.preds).forEach(function (id) {
      L.preds[id].forEach(function (p) {
        const a = L.nodes[p], b = L.nodes[id], x1 = a.x + HALF[a.kind], x2 = b.x - HALF[b.kind];
        out += '<path d="M' + x1 + " " + a.y + " C" + (x1 + 40) + " " + a.y + " " + (x2 - 40) + " " + b.y + " " + x2 + " " + b.y +
          '" fill="none" stroke="#999" marker-end="url(#arrow)"/>';
      });
    });
    Object.values(L.nodes).forEach(function (n) {
      if (n.kind === "box") {
        const count = g.ops.filter(function (o) { return tensors[o.out].step === n.step; }).length;
        out += '<g class="node box" id="' + n.id + '"><rect x="' + (n.x - HALF.box) + '" y="' + (n.y - 22) + '" width="' + 2 * HALF.box +
          '" height="44" rx="4" fill="#fff" stroke="#555" stroke-dasharray="4 2"/>' +
          '<text x="' + n.x + '" y="' + (n.y - 3) + '" text-anchor="middle" font-size="' + FONT + '">t = ' + n.step + "</text>" +
          '<text x="' + n.x + '" y="' + (n.y + 12) + '" text-anchor="middle" font-size="' + (FONT - 1) + '" fill="#555">' + count + " ops</text></g>";
      } else if (n.kind === "op") {
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
    $("graph").querySelectorAll("g.node").forEach(function (el) {
      el.addEventListener("mouseenter", function () { show(el.id); });
      if (el.classList.contains("box")) el.addEventListener("click", function () { pinned[L.nodes[el.id].step] = true; redraw(); });
    });
    // the recurrence as a chain: each step (its h_t, or its box) right of the step before,
    // and an edge from every step into the next
    const at = [], linked = {};
    Object.values(L.nodes).forEach(function (n) {
      if (n.kind === "box" || /^h_\d+$/.test(n.role || "")) at[n.step] = n.x;
    });
    Object.keys(L.preds).forEach(function (id) {
      L.preds[id].forEach(function (p) { if (L.nodes[id].step === L.nodes[p].step + 1 && L.nodes[p].step >= 0) linked[L.nodes[p].step] = true; });
    });
    let chain = true;
    for (let i = 0; i < steps(); i++) chain = chain && at[i] !== undefined && (i === 0 || at[i] > at[i - 1]);
    document.body.dataset.chain = chain ? "1" : "0";
    document.body.dataset.links = String(Object.keys(linked).length);
    document.body.dataset.boxes = String($("graph").querySelectorAll("g.box").length);
    document.body.dataset.window = w.lo <= w.hi ? w.lo + "-" + w.hi : "none";
  }
  const HALF = {op: 42, tensor: 52, box: 46};
  function redraw() { draw(G); update(); }
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
    if (view === "window") {                      // the window follows the backward pass
      centre = stepAhead(done);
      if (fullSteps().lo !== drawn.lo) draw(G);
    }
    G.ops.forEach(function (op, i) {
      const el = document.getElementById(op.id);
      if (el) el.classList.toggle("done", i < done), el.classList.toggle("next", i === done);
    });
    const boxNorm = {};
    G.tensors.forEach(function (t) {
      const el = document.getElementById(t.id), norm = has[t.id] && t.gnorm > 0 ? t.gnorm : 0;
      if (el) el.querySelector("ellipse").setAttribute("fill", norm ? colour(norm, sc) : "#fff");
      else if (norm) boxNorm[t.step] = Math.max(boxNorm[t.step] || 0, norm);
    });
    $("graph").querySelectorAll("g.box").forEach(function (el) {     // a box: its largest gradient so far
      const st = Number(el.id.slice(5)), ops = G.ops.filter(function (o) { return stepOfOp(o) === st; });
      el.querySelector("rect").setAttribute("fill", boxNorm[st] ? colour(boxNorm[st], sc) : "#fff");
      el.classList.toggle("done", ops.every(function (o) { return G.ops.indexOf(o) < done; }));
      el.classList.toggle("next", ops.indexOf(G.ops[done]) >= 0);
    });
    const next = G.ops[done], follow = document.getElementById(next ? next.id : G.tensors[G.tensors.length - 1].id) ||
      (next ? document.getElementById("box_t" + stepOfOp(next)) : null);
    if (follow && follow.scrollIntoView) follow.scrollIntoView({block: "nearest", inline: "center"});
    $("status").textContent = done + " / " + G.ops.length + " ops run backward" + (next ? "; next: " + next.name : "; done");
    $("legend").textContent = "colour: |grad| from " + number(Math.pow(10, sc.lo)) + " (blue) to " + number(Math.pow(10, sc.hi)) + " (red)";
    document.body.dataset.step = String(done);
    document.body.dataset.marked = String(document.querySelectorAll("g.op.done").length);
    document.body.dataset.arrived = String(Object.keys(has).length);
  }
  function fmt(v) { return v === null ? "none" : "[" + v.map(function (x) { return typeof x === "number" ? x.toPrecision(4) : x; }).join(", ") + (v.length === 8 ? ", ..." : "") + "]"; }
  function name(id) {
    const t = G.tensors.find(function (x) { return x.id === id; }), op = G.ops.find(function (o) { return o.id === id; });
    return t ? (t.role || t.op) + " " + t.shape : op ? op.name.replace(/Backward\d*$/, "") : id;
  }
  // an op's time step is its output's (looked up once per graph: the slider asks often)
  let opSteps = null;
  function stepOfOp(op) {
    if (!opSteps || opSteps.graph !== G) {
      const stepOf = {};
      G.tensors.forEach(function (t) { stepOf[t.id] = t.step; });
      opSteps = {graph: G, of: {}};
      G.ops.forEach(function (o) { opSteps.of[o.id] = stepOf[o.out]; });
    }
    return opSteps.of[op.id];
  }
  // the time step the backward pass works on next (the loss's ops belong to none: the
  // next op that does; past the end, step 0)
  function stepAhead(done) {
    for (let i = done; i < G.ops.length; i++) if (stepOfOp(G.ops[i]) >= 0) return stepOfOp(G.ops[i]);
    return 0;
  }
  function show(id) {
    const done = Number($("slider").value);
    if (id.startsWith("box_t")) {
      const st = Number(id.slice(5)), ops = G.ops.filter(function (o) { return stepOfOp(o) === st; });
      const ran = ops.filter(function (o) { return G.ops.indexOf(o) < done; }).length, has = arrived(done);
      let big = 0;
      G.tensors.forEach(function (t) { if (t.step === st && has[t.id] && t.gnorm > big) big = t.gnorm; });
      $("info").textContent = "time step " + st + ": " + ops.length + " ops (" + ops.map(function (o) { return o.name.replace(/Backward\d*$/, ""); }).join(", ") +
        ")\nwith (edges not drawn): " + Object.keys(boxOutside[id] || {}).map(name).join(", ") +
        "\n" + ran + " of them run backward; largest |gradient| arrived in it: " + (big ? big.toPrecision(4) : "none yet") + "\nclick to draw it op by op";
      return;
    }
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
    $("slider").max = String(G.ops.length);
    const want = /[?&]step=(\d+)/.exec(location.search);
    $("slider").value = firstBuild && want ? Math.min(G.ops.length, Number(want[1])) : "0";
    firstBuild = false;
    // a long sequence opens as boxes with a window (unless the view was chosen)
    view = $("view").value !== "auto" ? $("view").value : steps() > 12 ? "window" : "all";
    pinned = {};
    centre = stepAhead(Number($("slider").value));
    redraw();
  }
  let firstBuild = true;
  $("view").onchange = function () { view = $("view").value === "auto" ? "window" : $("view").value; pinned = {}; redraw(); };
  $("build").onclick = build;
  $("slider").oninput = update;
  $("prev").onclick = function () { $("slider").value = Math.max(0, Number($("slider").value) - 1); update(); };
  $("next").onclick = function () { $("slider").value = Math.min(G.ops.length, Number($("slider").value) + 1); update(); };
  $("zoom-in").onclick = function () { setZoom(zoom * 1.25); };
  $("zoom-out").onclick = function () { setZoom(zoom / 1.25); };
  controlsFromQuery();
  build();
  // ?next=N presses "next" N times, as a user stepping through would (tests use it)
  const presses = /[?&]next=(\d+)/.exec(location.search);
  for (let i = 0; presses && i < Number(presses[1]); i++) $("next").onclick();
  document.body.dataset.ready = "1";
})();
