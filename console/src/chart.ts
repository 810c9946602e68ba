// Line charts drawn as inline SVG: one polyline per series, y-axis labels (0, half, max) and
// x-axis labels (clock times of the first, middle and last sample).

interface Series { name: string; className: string; points: [number, number][] }

const CHART_W = 640, CHART_H = 180;
const PAD_L = 84, PAD_R = 12, PAD_T = 10, PAD_B = 24;

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function lineChart(testid: string, title: string, series: Series[], yFormat: (v: number) => string): HTMLElement {
  const box = el("figure", { className: "chart", testid: testid });
  const legend = el("figcaption", null, el("span", { className: "chart-title" }, title));
  for (const s of series) {
    const last = s.points.length ? s.points[s.points.length - 1][1] : null;
    legend.appendChild(el("span", { className: "legend " + s.className, testid: testid + "-legend" },
      s.name + (last === null ? "" : ": " + yFormat(last))));
  }
  box.appendChild(legend);

  const all = series.reduce((acc, s) => acc.concat(s.points), [] as [number, number][]);
  const root = svg("svg", { viewBox: "0 0 " + CHART_W + " " + CHART_H, width: "100%", role: "img", "aria-label": title });
  const iw = CHART_W - PAD_L - PAD_R, ih = CHART_H - PAD_T - PAD_B;
  root.appendChild(svg("rect", { x: PAD_L, y: PAD_T, width: iw, height: ih, className: "plot" }));
  if (all.length < 2) {
    root.appendChild(svg("text", { x: PAD_L + iw / 2, y: PAD_T + ih / 2, "text-anchor": "middle", className: "nodata" },
      all.length ? "one sample so far, waiting for more…" : "no samples yet"));
    box.appendChild(root);
    return box;
  }
  let t0 = Infinity, t1 = -Infinity, vmax = 0;
  for (const [t, v] of all) {
    if (t < t0) t0 = t;
    if (t > t1) t1 = t;
    if (v > vmax) vmax = v;
  }
  if (t1 === t0) t1 = t0 + 1;
  const ymax = niceMax(vmax);
  const x = (t: number) => PAD_L + ((t - t0) / (t1 - t0)) * iw;
  const y = (v: number) => PAD_T + ih - (v / ymax) * ih;

  for (const frac of [0, 0.5, 1]) {
    const yy = y(ymax * frac);
    root.appendChild(svg("line", { x1: PAD_L, x2: PAD_L + iw, y1: yy, y2: yy, className: "grid" }));
    root.appendChild(svg("text", { x: PAD_L - 6, y: yy + 4, "text-anchor": "end", className: "axis" }, yFormat(ymax * frac)));
  }
  const tmid = t0 + (t1 - t0) / 2;
  const xs: [number, string][] = [[t0, "start"], [tmid, "middle"], [t1, "end"]];
  for (const [t, anchor] of xs) {
    root.appendChild(svg("text", { x: x(t), y: CHART_H - 6, "text-anchor": anchor, className: "axis" }, fmtClock(t)));
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const pts = s.points.map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
    root.appendChild(svg("polyline", { points: pts, className: "line " + s.className, testid: testid + "-line" }));
  }
  box.appendChild(root);
  return box;
}
