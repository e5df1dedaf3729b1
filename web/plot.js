// A loss curve as SVG: log y axis with ticks at 1, 2 and 5 times powers of ten (whole
// decades when the values span many), x axis with 1-2-5 steps, markers when few points.
"use strict";
function niceStep(span, count) {
  const raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}
function logTicks(lo, hi) {                  // lo, hi: values > 0; returns [from, to, ticks]
  let a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  if (b <= a) b = a + 1;
  const ticks = [];
  const every = Math.ceil((b - a) / 8);
  for (let e = a; e <= b; e++)
    [1, 2, 5].forEach(function (m) {
      const v = m * Math.pow(10, e);
      if ((b - a <= 2 || (m === 1 && (e - a) % every === 0)) && v >= Math.pow(10, a) && v <= Math.pow(10, b)) ticks.push(v);
    });
  return [Math.pow(10, a), Math.pow(10, b), ticks];
}
function label(v) { return v >= 1e-3 && v < 1e5 ? String(Number(v.toPrecision(3))) : v.toExponential(0); }
function drawLossPlot(svg, losses, title) {
  const W = Number(svg.getAttribute("width")), H = Number(svg.getAttribute("height"));
  const L = 62, R = 16, T = 26, B = 40, w = W - L - R, h = H - T - B;
  const finite = losses.filter(function (v) { return v > 0 && isFinite(v); });
  let out = '<rect width="100%" height="100%" fill="white"/><text x="' + L + '" y="16" font-size="13">' + title + "</text>";
  if (finite.length === 0) { svg.innerHTML = out; return; }
  const [lo, hi, yt] = logTicks(Math.min.apply(null, finite), Math.max.apply(null, finite));
  const n = Math.max(losses.length - 1, 1), xs = niceStep(n, 5);
  const X = function (i) { return L + w * i / (Math.ceil(n / xs) * xs); };
  const Y = function (v) { return T + h - h * (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)); };
  yt.forEach(function (v) {
    out += '<line x1="' + L + '" x2="' + (L + w) + '" y1="' + Y(v) + '" y2="' + Y(v) + '" stroke="#eee"/>' +
      '<text class="ytick" x="' + (L - 6) + '" y="' + (Y(v) + 4) + '" text-anchor="end" font-size="12">' + label(v) + "</text>";
  });
  for (let i = 0; i <= Math.ceil(n / xs) * xs + 1e-9; i += xs)
    out += '<text class="xtick" x="' + X(i) + '" y="' + (T + h + 16) + '" text-anchor="middle" font-size="12">' + i + "</text>";
  out += '<text x="' + (L + w / 2) + '" y="' + (H - 4) + '" text-anchor="middle" font-size="12">step</text>' +
    '<text x="14" y="' + (T + h / 2) + '" transform="rotate(-90 14 ' + (T + h / 2) + ')" text-anchor="middle" font-size="12">loss (log scale)</text>' +
    '<rect x="' + L + '" y="' + T + '" width="' + w + '" height="' + h + '" fill="none" stroke="#888"/>';
  const pts = [];
  losses.forEach(function (v, i) { if (v > 0 && isFinite(v)) pts.push(X(i).toFixed(1) + "," + Y(v).toFixed(1)); });
  out += '<polyline fill="none" stroke="#1f77b4" stroke-width="1.8" points="' + pts.join(" ") + '"/>';
  if (pts.length <= 40) pts.forEach(function (p) { const c = p.split(","); out += '<circle cx="' + c[0] + '" cy="' + c[1] + '" r="2.5" fill="#1f77b4"/>'; });
  svg.innerHTML = out;
}
