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
   * a thumbnail of its image when ``mediaUrl(example)`` gives one, its boxes coloured by
   * ``labels`` (boxes control -> its labels) as the labeling page colours them.
   */
  function excerpt(example, mediaUrl, labels = null) {
    const box = L.node("div", "example-text");
    if (example.media === "image" && mediaUrl) {
      const { width, height, value } = example;
      const alt = "item " + itemName(example);
      box.append(L.thumbnails.figure(mediaUrl(example), { alt, value, width, height, labels }));
    } else {
      const text = String(example.text || "");
      const shown = text + (example.truncated ? "…" : "");
      box.textContent = example.media ? `${example.media}: ${shown}` : shown;
    }
    return box;
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
