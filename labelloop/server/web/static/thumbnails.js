// Thumbnails of image items with an answer's boxes drawn over them, as the guideline's examples,
// the Items list and My answers show them. Box labels are untrusted: they reach the DOM through
// textContent only.
(() => {
  "use strict";

  const L = window.labelloop;
  const NS = "http://www.w3.org/2000/svg";

  /** The boxes a value holds: a control's list of boxes, or every list of an answer's controls. */
  function boxesIn(value) {
    if (!value || typeof value !== "object") return [];
    const lists = Array.isArray(value) ? [value] : Object.values(value).filter(Array.isArray);
    return lists
      .flat()
      .filter((b) => b && typeof b === "object" && ["x", "y", "w", "h"].every((k) => Number.isFinite(b[k])));
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
      const title = document.createElementNS(NS, "title");
      title.textContent = String(b.label || "");
      rect.append(title);
      svg.append(rect);
    }
    return svg;
  }

  /**
   * A lazily loaded thumbnail from ``src`` with the boxes of ``value`` (an answer, or one
   * control's boxes) over it; ``width`` and ``height`` are the image's size as imported.
   */
  function figure(src, { alt, value = null, width = null, height = null }) {
    const box = L.node("div", "thumb");
    // a small image (8x8 digits) stays crisp scaled up; a photo stays smooth
    const side = Math.max(Number(width), Number(height));
    if (side > 0 && side <= 48) box.classList.add("is-pixelated");
    const img = L.node("img", "thumb-image");
    img.src = src;
    img.alt = alt;
    img.loading = "lazy";
    img.decoding = "async";
    box.append(img);
    const drawn = boxesOver(boxesIn(value), width, height);
    if (drawn) box.append(drawn);
    return box;
  }

  L.thumbnails = { figure };
})();
