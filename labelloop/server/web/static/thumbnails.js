// Thumbnails of image items with an answer's boxes drawn over them, as the guideline's examples,
// the Items list and My answers show them. Box labels are untrusted: they reach the DOM through
// textContent only.
(() => {
  "use strict";

  const L = window.labelloop;
  const NS = "http://www.w3.org/2000/svg";

  /** The boxes a value holds: a control's list of boxes, or every list of an answer's controls,
   * each with the colour the labeling page draws it in (``labels``: control -> its labels). */
  function boxesIn(value, labels) {
    if (!value || typeof value !== "object") return [];
    const known = labels && typeof labels === "object" ? labels : {};
    const only = Object.values(known).length === 1 ? Object.values(known)[0] : null;
    const lists = Array.isArray(value)
      ? [[only, value]]
      : Object.entries(value)
          .filter(([, list]) => Array.isArray(list))
          .map(([name, list]) => [Array.isArray(known[name]) ? known[name] : null, list]);
    return lists.flatMap(([names, list]) =>
      list
        .filter((b) => b && typeof b === "object" && ["x", "y", "w", "h"].every((k) => Number.isFinite(b[k])))
        .map((b) => ({ ...b, colour: names ? L.boxColour(names, String(b.label)) : null })),
    );
  }

  /**
   * The boxes as an SVG in the image's own pixels (``width`` x ``height``, the size the server
   * read at import), fitted and centred in its box as ``object-fit: contain`` fits the picture,
   * so it lies on the picture; null when there is nothing to draw.
   */
  function boxesOver(boxes, width, height) {
    const w = Number(width);
    const h = Number(height);
    if (!(w > 0 && h > 0) || !boxes.length) return null;
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "thumb-boxes");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.setAttribute("aria-hidden", "true");
    for (const b of boxes) {
      const rect = document.createElementNS(NS, "rect");
      for (const [name, key] of [["x", "x"], ["y", "y"], ["width", "w"], ["height", "h"]]) {
        rect.setAttribute(name, String(b[key]));
      }
      rect.setAttribute("vector-effect", "non-scaling-stroke");
      if (b.colour) rect.style.stroke = b.colour;
      const title = document.createElementNS(NS, "title");
      title.textContent = String(b.label || "");
      rect.append(title);
      svg.append(rect);
    }
    return svg;
  }

  /**
   * A lazily loaded thumbnail from ``src`` with the boxes of ``value`` (an answer, or one
   * control's boxes) over it, coloured by ``labels`` (control -> its labels) as the labeling
   * page colours them; ``width`` and ``height`` are the image's size as imported. With
   * ``legend``, each label drawn is named under it in its colour.
   */
  function figure(src, { alt, value = null, width = null, height = null, labels = null, legend = false }) {
    const box = L.node("div", "thumb");
    // a small image (8x8 digits) stays crisp scaled up; a photo stays smooth
    if (L.isTinyImage(width, height)) box.classList.add("is-pixelated");
    const img = L.node("img", "thumb-image");
    img.src = src;
    img.alt = alt;
    img.loading = "lazy";
    img.decoding = "async";
    box.append(img);
    const boxes = boxesIn(value, labels);
    const drawn = boxesOver(boxes, width, height);
    if (drawn) box.append(drawn);
    if (!legend || !drawn) return box;
    const figure = L.node("div", "thumb-figure");
    const key = L.node("ul", "thumb-legend");
    key.setAttribute("aria-label", "box colours");
    const named = new Map(boxes.map((b) => [String(b.label || ""), b.colour]));
    for (const [label, colour] of named) {
      const li = L.node("li", "thumb-legend-item", label);
      if (colour) li.style.setProperty("--c", colour);
      key.append(li);
    }
    figure.append(box, key);
    return figure;
  }

  L.thumbnails = { figure };
})();
