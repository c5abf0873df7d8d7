// The guideline's examples as the labeling page and the project page show them: the item's
// text (or its image), the note on why, and the label each one is filed under. Item text and
// notes are untrusted: they only reach the DOM through textContent.
(() => {
  "use strict";

  const L = window.labelloop;

  /** The item's name as the pages write it: its id from the import, else its number. */
  function itemName(example) {
    return example.external_id ? String(example.external_id) : "#" + example.item_id;
  }

  /**
   * What the example shows of its item: the first characters of its text ("…" when cut), or
   * a thumbnail of its image when ``mediaUrl(example)`` gives one.
   */
  function excerpt(example, mediaUrl) {
    const box = L.node("div", "example-text");
    if (example.media === "image" && mediaUrl) {
      const figure = L.node("div", "example-figure");
      const img = L.node("img", "example-image");
      img.src = mediaUrl(example);
      img.alt = "item " + itemName(example);
      img.loading = "lazy";
      figure.append(img);
      const boxes = boxesOver(example);
      if (boxes) figure.append(boxes);
      box.append(figure);
    } else {
      const text = String(example.text || "");
      const shown = text + (example.truncated ? "…" : "");
      box.textContent = example.media ? `${example.media}: ${shown}` : shown;
    }
    return box;
  }

  /**
   * The example's boxes drawn over its thumbnail: an SVG in the image's own pixels (the size the
   * server read at import), stretched over the picture; null when the answer holds no boxes.
   */
  function boxesOver(example) {
    const w = Number(example.width);
    const h = Number(example.height);
    if (!(w > 0 && h > 0) || !example.value) return null;
    const drawn = Object.values(example.value)
      .filter(Array.isArray)
      .flat()
      .filter((b) => b && ["x", "y", "w", "h"].every((k) => Number.isFinite(b[k])));
    if (!drawn.length) return null;
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "example-boxes");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    for (const b of drawn) {
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

  /** The note on why the item is an example, or null when the manager left none. */
  function note(example) {
    if (!example.note) return null;
    const p = L.node("p", "example-note");
    p.append(L.node("span", "example-why", "Why: "), document.createTextNode(example.note));
    return p;
  }

  /**
   * The heading an example is filed under: its label, or for spans and boxes the labels it
   * marks (each example of a span control has its own words, so its full label would make a
   * group of one).
   */
  function groupOf(example, target) {
    const answer = example.value && target ? example.value[target.name] : undefined;
    if (Array.isArray(answer) && answer.length && answer[0] && typeof answer[0] === "object") {
      return [...new Set(answer.map((part) => String(part.label)))].join(", ");
    }
    return String(example.label);
  }

  /** Examples by heading: the target's labels in the schema's order first, then the rest. */
  function grouped(examples, target) {
    const groups = new Map();
    for (const label of (target && target.labels) || []) groups.set(String(label), []);
    for (const example of examples || []) {
      const key = groupOf(example, target);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(example);
    }
    for (const [key, list] of groups) if (!list.length) groups.delete(key);
    return groups;
  }

  L.examples = { itemName, excerpt, note, grouped };
})();
