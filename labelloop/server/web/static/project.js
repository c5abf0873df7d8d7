// The project overview: draws the learning curve (eval accuracy per model version) as inline SVG.
(() => {
  "use strict";

  const host = document.getElementById("learning-curve");
  const source = document.getElementById("models-data");
  if (!host || !source) return;
  const models = JSON.parse(source.textContent) || [];
  const points = models
    .filter((m) => m.metrics && typeof m.metrics.accuracy === "number")
    .map((m) => ({ version: m.version, n: m.n_train, acc: m.metrics.accuracy }));
  if (points.length === 0) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent =
      "The curve appears once a model is measured on labeled eval items (import them with --split eval).";
    host.append(p);
    host.removeAttribute("aria-hidden");
    return;
  }

  const NS = "http://www.w3.org/2000/svg";
  const W = Math.max(320, Math.round(host.clientWidth || 720)); // 1 unit = 1 px: text stays small
  const H = 220;
  const pad = { left: 44, right: 16, top: 14, bottom: 36 };
  const make = (name, attrs, text) => {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const xs = points.map((p) => p.n);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const accs = points.map((p) => p.acc);
  const lo = Math.max(0, Math.floor((Math.min(...accs) - 0.05) * 10) / 10);
  const hi = Math.min(1, Math.ceil((Math.max(...accs) + 0.02) * 10) / 10);
  const x = (n) =>
    maxX === minX
      ? (pad.left + W - pad.right) / 2
      : pad.left + ((n - minX) / (maxX - minX)) * (W - pad.left - pad.right);
  const y = (a) => pad.top + (1 - (a - lo) / (hi - lo || 1)) * (H - pad.top - pad.bottom);

  const svg = make("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `Eval accuracy by number of training labels, ${points.length} model versions`,
  });
  const ticks = 4;
  for (let i = 0; i <= ticks; i += 1) {
    const a = lo + ((hi - lo) * i) / ticks;
    svg.append(make("line", { class: "grid", x1: pad.left, x2: W - pad.right, y1: y(a), y2: y(a) }));
    svg.append(make("text", { x: pad.left - 8, y: y(a) + 4, "text-anchor": "end" }, a.toFixed(2)));
  }
  svg.append(
    make("line", { class: "axis", x1: pad.left, x2: W - pad.right, y1: H - pad.bottom, y2: H - pad.bottom }),
  );
  const labelEvery = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    if (i % labelEvery === 0 || i === points.length - 1) {
      svg.append(make("text", { x: x(p.n), y: H - pad.bottom + 16, "text-anchor": "middle" }, p.n));
    }
  });
  svg.append(
    make("text", { x: (pad.left + W - pad.right) / 2, y: H - 4, "text-anchor": "middle" }, "labels used for training"),
  );
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.n).toFixed(1)},${y(p.acc).toFixed(1)}`).join(" ");
  svg.append(make("path", { class: "line", d }));
  for (const p of points) {
    const dot = make("circle", { class: "point", cx: x(p.n), cy: y(p.acc), r: 4 });
    dot.append(make("title", {}, `v${p.version}: accuracy ${p.acc.toFixed(3)} on ${p.n} labels`));
    svg.append(dot);
  }
  host.append(svg);
})();
