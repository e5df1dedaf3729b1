// Line plots as SVG for the pages: a log y axis with ticks at 1, 2 and 5 times powers of
// ten (whole decades, or every few, when the values span many), an x axis with 1-2-5
// steps, markers when the points are few, a legend when there are several series.
"use strict";
const PLOT_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
function niceStep(span, count) {
  const raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}
function logTicks(lo, hi) {                  // lo, hi: values > 0; returns [from, to, ticks]
  let a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  if (b <= a) b = a + 1;
  const every = Math.ceil((b - a) / 8), ticks = [];
  a = Math.floor(a / every) * every, b = Math.ceil(b / every) * every;
  for (let e = a; e <= b; e++)
    [1, 2, 5].forEach(function (m) {
      if (b - a <= 2 ? e < b || m === 1 : m === 1 && (e - a) % every === 0) ticks.push(m * Math.pow(10, e));
    });
  return [Math.pow(10, a), Math.pow(10, b), ticks];
}
function tickLabel(v) { return v >= 1e-3 && v < 1e5 ? String(Number(v.toPrecision(3))) : "1e" + Math.round(Math.log10(v)); }
// series: [{label, ys, xs}] (xs: the x of each point; the index when absent); opts: {title, xlabel, ylabel, refs: [{y, label}]} (dashed lines)
function drawLogPlot(svg, series, opts) {
  const W = Number(svg.getAttribute("width")), H = Number(svg.getAttribute("height"));
  const legend = series.length > 1 ? 170 : 0, L = 62, R = 16 + legend, T = 26, B = 40, w = W - L - R, h = H - T - B;
  let out = '<rect width="100%" height="100%" fill="white"/><text x="' + L + '" y="16" font-size="13">' + opts.title + "</text>";
  let lo = Infinity, hi = 0, n = 1;
  const refs = opts.refs || [];
  series.forEach(function (s) {
    n = Math.max(n, s.xs ? Math.max.apply(null, s.xs) : s.ys.length - 1);
    s.ys.forEach(function (v) { if (v > 0 && isFinite(v)) lo = Math.min(lo, v), hi = Math.max(hi, v); });
  });
  refs.forEach(function (r) { if (r.y > 0) lo = Math.min(lo, r.y), hi = Math.max(hi, r.y); });
  if (!(hi > 0)) { svg.innerHTML = out; return; }
  const [from, to, yt] = logTicks(lo, hi), xs = niceStep(n, 5), xmax = Math.ceil(n / xs) * xs;
  const X = function (i) { return L + w * i / xmax; };
  const Y = function (v) { return T + h - h * (Math.log10(v) - Math.log10(from)) / (Math.log10(to) - Math.log10(from)); };
  yt.forEach(function (v) {
    out += '<line x1="' + L + '" x2="' + (L + w) + '" y1="' + Y(v) + '" y2="' + Y(v) + '" stroke="#eee"/>' +
      '<text class="ytick" x="' + (L - 6) + '" y="' + (Y(v) + 4) + '" text-anchor="end" font-size="12">' + tickLabel(v) + "</text>";
  });
  for (let i = 0; i <= xmax + 1e-9; i += xs)
    out += '<text class="xtick" x="' + X(i) + '" y="' + (T + h + 16) + '" text-anchor="middle" font-size="12">' + Number(i.toPrecision(6)) + "</text>";
  out += '<text x="' + (L + w / 2) + '" y="' + (H - 4) + '" text-anchor="middle" font-size="12">' + opts.xlabel + "</text>" +
    '<text x="14" y="' + (T + h / 2) + '" transform="rotate(-90 14 ' + (T + h / 2) + ')" text-anchor="middle" font-size="12">' +
    opts.ylabel + " (log scale)</text>" +
    '<rect x="' + L + '" y="' + T + '" width="' + w + '" height="' + h + '" fill="none" stroke="#888"/>';
  refs.forEach(function (r) {
    out += '<line class="ref" x1="' + L + '" x2="' + (L + w) + '" y1="' + Y(r.y) + '" y2="' + Y(r.y) +
      '" stroke="#555" stroke-dasharray="6 4"/><text x="' + (L + w - 4) + '" y="' + (Y(r.y) - 5) +
      '" text-anchor="end" font-size="12" fill="#555">' + r.label + "</text>";
  });
  series.forEach(function (s, k) {
    const colour = PLOT_COLOURS[k % PLOT_COLOURS.length], pts = [];
    s.ys.forEach(function (v, i) { if (v > 0 && isFinite(v)) pts.push(X(s.xs ? s.xs[i] : i).toFixed(1) + "," + Y(v).toFixed(1)); });
    out += '<polyline class="series" fill="none" stroke="' + colour + '" stroke-width="1.8" points="' + pts.join(" ") + '"/>';
    if (pts.length <= 40) pts.forEach(function (p) { const c = p.split(","); out += '<circle cx="' + c[0] + '" cy="' + c[1] + '" r="2.5" fill="' + colour + '"/>'; });
    if (legend) out += '<line x1="' + (L + w + 12) + '" x2="' + (L + w + 32) + '" y1="' + (T + 10 + 18 * k) + '" y2="' + (T + 10 + 18 * k) +
      '" stroke="' + colour + '" stroke-width="3"/><text x="' + (L + w + 38) + '" y="' + (T + 14 + 18 * k) + '" font-size="12">' + s.label + "</text>";
  });
  svg.innerHTML = out;
}
function drawLossPlot(svg, losses, title) {
  drawLogPlot(svg, [{label: "loss", ys: losses}], {title: title, xlabel: "step", ylabel: "loss"});
}
