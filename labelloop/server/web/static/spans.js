// The spans widget of the labeling page (data type text): mark entities by mouse or keyboard.
// It draws the item text itself as token elements, so selections snap to token boundaries.
// Item text is untrusted: it only reaches the DOM through textContent. Offsets sent to the
// server count Unicode code points (as Python does), not UTF-16 units.
(() => {
  "use strict";

  const L = window.labelloop;
  L.widgets = L.widgets || {};

  // The tokenizer of labelloop/schema/tokens.py (the span model's tokens), with Python's
  // Unicode \w and \s spelled out: a link, an @mention or #hashtag, a word, or one other
  // character. A combining mark (\p{M}) stays with the character before it, in a word or not;
  // a zero-width (non-)joiner stays in its word; an emoji is one token with its skin tone, a
  // flag's two letters and the emoji joined to it by zero-width joiners (👩‍👩‍👧, 🏳️‍🌈).
  const S = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  const JOINERS = "\\u200c\\u200d";
  const W = `[\\p{L}\\p{M}\\p{N}_${JOINERS}]`;
  const SYMBOL =
    `(?:[\\u{1F1E6}-\\u{1F1FF}]{2}|[^${S}\\p{L}\\p{M}\\p{N}_${JOINERS}])` +
    "[\\p{M}\\u{1F3FB}-\\u{1F3FF}\\u{E0020}-\\u{E007F}]*";
  const TOKEN = new RegExp(
    `https?://[^${S}]+|www\\.[^${S}]+|[@#]${W}+|${W}+(?:['’]${W}+)*|${SYMBOL}(?:\\u200d(?:${SYMBOL})?)*`,
    "gu",
  );

  // One colour per label index: [strong (border, tag), soft (background)].
  const PALETTE = [
    ["#3b5bdb", "#dbe4ff"],
    ["#e8590c", "#ffe8cc"],
    ["#2b8a3e", "#d3f9d8"],
    ["#c2255c", "#ffdeeb"],
    ["#7048e8", "#e5dbff"],
    ["#0c8599", "#c5f6fa"],
    ["#a86200", "#fff3bf"],
    ["#5c940d", "#e9fac8"],
    ["#862e9c", "#f3d9fa"],
    ["#495057", "#e9ecef"],
  ];

  /** Token boundaries of `text` in UTF-16 units: [{s, e}]. */
  function tokenize(text) {
    const out = [];
    for (const m of text.matchAll(TOKEN)) out.push({ s: m.index, e: m.index + m[0].length });
    return out;
  }

  /** Maps between UTF-16 indices and code-point offsets of `text`. */
  function offsetMaps(text) {
    const toCp = new Int32Array(text.length + 1);
    const toU16 = [];
    let cp = 0;
    for (let i = 0; i < text.length; ) {
      const width = text.codePointAt(i) > 0xffff ? 2 : 1;
      toU16[cp] = i;
      toCp[i] = cp;
      if (width === 2) toCp[i + 1] = cp + 1; // a split surrogate pair rounds up
      i += width;
      cp += 1;
    }
    toCp[text.length] = cp;
    toU16[cp] = text.length;
    return { toCp, toU16, length: cp };
  }

  // A line break ends a paragraph (as Enter does in an editor); \r\n counts once.
  const BREAK = /[\n\r\u2028\u2029\x85]/;

  /** UTF-16 offsets where the sentences of `text` begin: the browser's own sentence rules
   *  (Unicode's, Intl.Segmenter), else after . ! ? and their closing quotes. */
  function sentenceCuts(text) {
    if (typeof Intl !== "undefined" && Intl.Segmenter) {
      const segmenter = new Intl.Segmenter(undefined, { granularity: "sentence" });
      return Array.from(segmenter.segment(text), (s) => s.index);
    }
    const ends = text.matchAll(/[.!?。！？]+["'”’)\]]*\s+/g);
    return [0, ...Array.from(ends, (m) => m.index + m[0].length)];
  }

  /** The index of the first number of the sorted `list` above `x`, or list.length. */
  function firstAbove(list, x) {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The cursor motion a key asks for, as {unit, dir}, or null. The editors' keys: ← → a word
   * (in a right-to-left text ← reads on), ↑ ↓ a line, Ctrl+← → a sentence, Ctrl+↑ ↓ (a Mac's
   * Option+↑ ↓) a paragraph, Home End the line's ends, Ctrl+Home End (Cmd+↑ ↓) the text's,
   * Page Up / Down a screen. Shift extends the selection by the same move.
   */
  function motionOf(e, rtl) {
    const mods = [e.ctrlKey, e.metaKey, e.altKey].filter(Boolean).length;
    if (mods > 1) return null;
    const key = e.key;
    const across = key === "ArrowRight" ? 1 : key === "ArrowLeft" ? -1 : 0;
    if (across) {
      const dir = rtl() ? -across : across;
      if (!mods) return { unit: "word", dir };
      return e.ctrlKey ? { unit: "sentence", dir } : null;
    }
    const down = key === "ArrowDown" ? 1 : key === "ArrowUp" ? -1 : 0;
    if (down) {
      if (e.metaKey) return { unit: "text", dir: down };
      return { unit: mods ? "paragraph" : "line", dir: down };
    }
    if (e.altKey || e.metaKey) return null;
    if (key === "Home" || key === "End") {
      return { unit: e.ctrlKey ? "text" : "edge", dir: key === "End" ? 1 : -1 };
    }
    if (!e.ctrlKey && (key === "PageDown" || key === "PageUp")) {
      return { unit: "page", dir: key === "PageDown" ? 1 : -1 };
    }
    return null;
  }

  const byLabel = (a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
  const byPosition = (a, b) => a.s - b.s || a.e - b.e || byLabel(a, b);

  // Several spans controls each draw their own copy of the text; the one last used (clicked, or
  // given one of its label keys) takes the arrow keys, at first the first one.
  const created = [];
  let active = null;

  // The pages leave keys with Ctrl or Cmd to the browser; the text's own (Ctrl+→ a sentence,
  // Ctrl+↓ a paragraph, Ctrl+End the last word) reach the spans control taking the keys here.
  document.addEventListener("keydown", (e) => {
    if (!L.commandKey(e) || e.defaultPrevented || e.isComposing) return;
    const field = e.target && e.target.closest && e.target.closest("input, textarea, select");
    if (field || (e.target && e.target.isContentEditable)) return;
    const widget = created.find((w) => w.isActive());
    if (widget && widget.key(e)) e.preventDefault();
  });

  class SpansWidget {
    constructor(control, ctx) {
      this.control = control;
      this.ctx = ctx;
      this.labels = control.labels || [];
      this.hotkeys = control.hotkeys || [];
      this.active = this.labels[0];
      this.text = "";
      this.tokens = [];
      this.spans = []; // {s, e, label, suggested} in UTF-16 units, sorted
      // the spans before each change of this item, for Ctrl+Z, and those it took back
      this.history = L.editHistory((spans) => spans.map((sp) => ({ ...sp })));
      this.cursor = -1; // token index of the keyboard cursor, -1: none
      this.anchor = -1; // token index where the selection started
      this.selected = null; // the selected span
      this.shown = false;
      this.disabled = false;
      this.area = null;
      this.build();
      created.push(this);
      // A drag may end outside the text (past its last word): listen on the whole page.
      document.addEventListener("pointerup", (e) => this.onPointerUp(e));
      document.addEventListener("pointermove", (e) => this.onPointerMove(e));
      document.addEventListener("pointercancel", () => {
        this.drag = null;
      });
    }

    // ------------------------------------------------------------ the label bar

    build() {
      const root = document.createElement("div");
      root.className = "spans-widget";
      root.dataset.control = this.control.name;
      const bar = document.createElement("div");
      bar.className = "spans-bar";
      bar.setAttribute("role", "toolbar");
      bar.setAttribute("aria-label", `Labels for ${this.control.name}`);
      this.buttons = this.labels.map((label, i) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "span-label-btn";
        button.dataset.passKeys = "";
        button.dataset.label = label;
        button.style.setProperty("--span-c", this.colour(label)[0]);
        button.style.setProperty("--span-bg", this.colour(label)[1]);
        const swatch = document.createElement("span");
        swatch.className = "span-swatch";
        swatch.setAttribute("aria-hidden", "true");
        const name = document.createElement("span");
        name.className = "span-label-name";
        name.textContent = label;
        button.append(swatch, name);
        const key = this.hotkeys[i];
        if (key) {
          const kbd = document.createElement("kbd");
          kbd.className = "hotkey";
          kbd.textContent = key;
          button.append(kbd);
          button.setAttribute("aria-keyshortcuts", key);
        }
        const description = (this.control.descriptions || {})[label];
        if (description) button.title = description;
        button.addEventListener("mousedown", (e) => e.preventDefault()); // keep a text selection
        button.addEventListener("click", () => this.applyLabel(label, { button: true }));
        bar.append(button);
        return button;
      });
      this.status = document.createElement("p");
      this.status.className = "spans-status";
      this.status.setAttribute("aria-live", "polite");
      root.append(bar, this.status);
      this.element = root;
      this.renderBar();
    }

    colour(label) {
      const i = Math.max(0, this.labels.indexOf(label));
      return PALETTE[i % PALETTE.length];
    }

    renderBar() {
      for (const button of this.buttons) {
        const on = button.dataset.label === this.active;
        button.setAttribute("aria-pressed", on ? "true" : "false");
        button.disabled = this.disabled;
      }
    }

    say(text, kind = "") {
      this.status.textContent = text;
      this.status.dataset.kind = kind;
    }

    summary() {
      const n = this.spans.length;
      const suggested = this.spans.filter((s) => s.suggested).length;
      let text = n ? `${n} span${n === 1 ? "" : "s"}` : "No spans yet: select words, then a label";
      if (suggested) text += ` · ${suggested} suggested (dashed): Enter accepts them`;
      else if (!n) text += " (Enter with none submits “nothing here”)";
      this.say(text + ".");
    }

    // ------------------------------------------------------------ host API

    show(item, itemArea, value, suggested) {
      this.area = itemArea;
      // The renderer's plain text makes way for the marked-up copy; other controls' copies stay.
      for (const child of [...itemArea.childNodes]) {
        const ours = child.classList && child.classList.contains("spans-block");
        if (!ours || child.dataset.control === this.control.name) child.remove();
      }
      this.block = document.createElement("div");
      this.block.className = "spans-block";
      this.block.dataset.control = this.control.name;
      const controls = (this.ctx.schema || {}).controls || [];
      if (controls.filter((c) => c.type === "spans").length > 1) {
        const caption = document.createElement("p");
        caption.className = "spans-caption";
        caption.textContent = this.control.name;
        this.block.append(caption);
      }
      this.holder = document.createElement("div");
      this.block.append(this.holder);
      itemArea.append(this.block);
      active = null;
      this.text = this.ctx.text ? this.ctx.text(item) : String((item.data || {}).text || "");
      this.maps = offsetMaps(this.text);
      this.tokens = tokenize(this.text);
      this.units = null; // sentence and paragraph starts, found on first use
      this.columnFrom = -1;
      this.cursor = -1;
      this.anchor = -1;
      this.selected = null;
      this.shown = true;
      const given = value !== undefined && value !== null;
      this.spans = this.fromValue(given ? value : suggested, !given);
      this.history.clear();
      this.render();
      this.summary();
    }

    value() {
      if (!this.shown) return undefined;
      return this.spans
        .map((sp) => ({ start: this.maps.toCp[sp.s], end: this.maps.toCp[sp.e], label: sp.label }))
        .sort((a, b) => a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : 1));
    }

    disable(off) {
      this.disabled = !!off;
      this.renderBar();
    }

    shortcuts() {
      const rows = [];
      this.labels.forEach((label, i) => {
        const key = this.hotkeys[i];
        const note = i ? "" : "a label key marks the selection, or relabels the selected span (or the span it is)";
        rows.push({ keys: [key || "—"], what: label, note });
      });
      rows.push({
        keys: ["←", "→"],
        what: "Move the word cursor",
        note: "in a right-to-left text ← reads on, and Ctrl+← too",
      });
      rows.push({ keys: ["Shift+←", "Shift+→"], what: "Extend the selection word by word" });
      rows.push({ keys: ["↑", "↓"], what: "Move the cursor a line up / down" });
      rows.push({ keys: ["Ctrl+←", "Ctrl+→"], what: "Previous / next sentence" });
      rows.push({
        keys: ["Ctrl+↑", "Ctrl+↓"],
        what: "Previous / next paragraph",
        note: "Option+↑ / ↓ on a Mac",
      });
      rows.push({ keys: ["Home", "End"], what: "First / last word of the line" });
      rows.push({
        keys: ["Ctrl+Home", "Ctrl+End"],
        what: "First / last word of the text",
        note: "Cmd+↑ / ↓ on a Mac",
      });
      rows.push({
        keys: ["PageUp", "PageDown"],
        what: "A screen up / down: the text scrolls with the cursor",
      });
      rows.push({
        keys: ["Shift+Ctrl+→", "Shift+End", "…"],
        what: "Shift with any of these extends the selection by the same move",
        note: "Shift+Ctrl+→ to the end of the sentence, Shift+Ctrl+↓ of the paragraph",
      });
      rows.push({ keys: ["[", "]"], what: "Select the previous / next span" });
      rows.push({ keys: ["Delete"], what: "Remove the selected span" });
      const several = ((this.ctx.schema || {}).controls || []).filter((c) => c.type === "spans");
      rows.push({
        keys: ["Ctrl+Z"],
        what: "Undo the last change to the spans (marked, relabeled, removed)",
        note: several.length > 1 ? "in the spans control used last" : "",
      });
      rows.push({
        keys: ["Ctrl+Shift+Z"],
        what: "Redo what Ctrl+Z took back, until the spans change again",
        note: "or Ctrl+Y; Cmd+Shift+Z on a Mac",
      });
      rows.push({ keys: ["Esc"], what: "Clear the selection" });
      rows.push({ keys: ["Enter"], what: "Submit, accepting the suggested (dashed) spans" });
      rows.push({
        keys: ["drag"],
        what:
          "Mark the words dragged over with the active label (touch: tap the first and last" +
          " word, then a label); click a span to select it",
      });
      return rows;
    }

    /** Whether this widget takes the arrow, bracket, Delete and Esc keys. */
    isActive() {
      const live = (w) => w.shown && w.block && w.block.isConnected;
      if (active && live(active)) return active === this;
      return created.find((w) => w.shown && w.block && w.block.isConnected) === this;
    }

    key(e) {
      if (!this.shown || this.disabled) return false;
      const key = L.hotkeyOf(e, (k) => this.labelOfKey(k) !== undefined);
      const motion = motionOf(e, () => getComputedStyle(this.textRoot).direction === "rtl");
      if (motion) {
        if (!this.isActive()) return false;
        // ↑ and ↓ scroll the page as ever until a word has the cursor.
        if (motion.unit === "line" && this.cursor < 0 && !this.selected) return false;
        this.go(motion, e.shiftKey);
        return true;
      }
      const step = L.undoKeyOf(e);
      if (step) return this.isActive() && this.travel(step);
      if (L.commandKey(e) || L.altChord(e)) return false;
      if (!this.isActive()) {
        const label = this.labelOfKey(key);
        if (label === undefined || this.ctx.keyTakenElsewhere?.(key, this.control)) return false;
        active = this;
        this.applyLabel(label);
        return true;
      }
      if (key === "[" || key === "]") {
        this.step(key === "]" ? 1 : -1);
        return true;
      }
      if (key === "Delete") {
        if (!this.selected) return false;
        this.remove(this.selected);
        return true;
      }
      if (key === "Escape") {
        if (this.cursor < 0 && !this.selected) return false;
        this.clear();
        return true;
      }
      const label = this.labelOfKey(key);
      if (label === undefined) return false;
      const pending = this.selected || this.cursor >= 0;
      if (!pending && this.ctx.keyTakenElsewhere && this.ctx.keyTakenElsewhere(key, this.control)) {
        return false; // nothing to mark here: the key is the other control's
      }
      this.applyLabel(label);
      return true;
    }

    labelOfKey(key) {
      let i = this.hotkeys.indexOf(key);
      if (i < 0 && key.length === 1) {
        const flipped = key === key.toLowerCase() ? key.toUpperCase() : key.toLowerCase();
        i = this.hotkeys.indexOf(flipped);
      }
      return i >= 0 ? this.labels[i] : undefined;
    }

    // ------------------------------------------------------------ editing

    fromValue(raw, suggested) {
      const out = [];
      if (!Array.isArray(raw)) return out;
      const max = this.maps.length;
      for (const r of raw) {
        const one = Array.isArray(r) ? { start: r[0], end: r[1], label: r[2] } : r || {};
        let label = one.label;
        if (label && typeof label === "object") label = label.label;
        const start = Number(one.start);
        const end = Number(one.end);
        if (!Number.isInteger(start) || !Number.isInteger(end)) continue;
        if (start < 0 || end > max || start >= end) continue;
        if (!this.labels.includes(label)) continue;
        const span = { s: this.maps.toU16[start], e: this.maps.toU16[end], label, suggested };
        if (typeof one.score === "number") span.score = one.score;
        if (this.conflict(span, out)) continue;
        out.push(span);
      }
      return out.sort(byPosition);
    }

    /** Why `span` cannot join `list` (besides `except`), or "" when it can. */
    conflict(span, list = this.spans, except = null) {
      for (const other of list) {
        if (other === except) continue;
        if (other.s === span.s && other.e === span.e && other.label === span.label) {
          return "That span is already marked.";
        }
        if (!this.control.overlap && span.s < other.e && other.s < span.e) {
          return (
            `Spans may not overlap in ${this.control.name}; ` +
            `remove or change “${other.label}” first.`
          );
        }
      }
      return "";
    }

    /** The token range [first, last] the keyboard selection covers, or null. */
    selection() {
      if (this.cursor < 0) return null;
      const a = this.anchor < 0 ? this.cursor : this.anchor;
      return [Math.min(a, this.cursor), Math.max(a, this.cursor)];
    }

    applyLabel(label, { button = false } = {}) {
      if (this.disabled || !this.shown) return;
      active = this;
      this.active = label;
      this.renderBar();
      const native = button ? this.nativeRange() : null;
      if (native) {
        // Words selected the platform's way (touch: long press), then a label tapped.
        window.getSelection().removeAllRanges();
        this.markRange(...native);
        return;
      }
      if (this.selected && button && this.fresh) {
        // A span just made by keyboard is not what a click on a label means to change.
        this.selected = null;
        this.fresh = false;
        this.paint();
        this.say(`Active label: ${label}. Drag over words to mark them.`);
        return;
      }
      if (this.selected) {
        const span = this.selected;
        const changed = { s: span.s, e: span.e, label };
        const why = this.conflict(changed, this.spans, span);
        if (why && span.label !== label) {
          this.say(why, "warn");
          return;
        }
        if (span.label !== label || span.suggested) this.remember();
        span.label = label;
        span.suggested = false;
        this.spans.sort(byPosition);
        this.render();
        this.summary();
        return;
      }
      const range = this.selection();
      if (!range) {
        this.say(`Active label: ${label}. Select words to mark them.`);
        return;
      }
      const s = this.tokens[range[0]].s;
      const e = this.tokens[range[1]].e;
      // Words that are one span exactly: the key relabels it, as when the span is selected
      // (where spans may not overlap, a second span over them would be refused).
      const same = this.control.overlap ? null : this.spans.find((o) => o.s === s && o.e === e);
      if (same) {
        this.pick(same);
        this.applyLabel(label);
        return;
      }
      this.add(s, e, label);
    }

    /** Mark [s, e) as `label`; the new span stays selected, for a quick fix. */
    add(s, e, label) {
      const span = { s, e, label, suggested: false };
      // Words marked over a suggestion replace it (where spans may not overlap).
      const replaced = this.control.overlap
        ? []
        : this.spans.filter((o) => o.suggested && s < o.e && o.s < e);
      const kept = this.spans.filter((o) => !replaced.includes(o));
      const why = this.conflict(span, kept);
      if (why) {
        this.say(why, "warn");
        return false;
      }
      this.remember();
      this.spans = kept;
      this.spans.push(span);
      this.spans.sort(byPosition);
      this.selected = span;
      this.fresh = true;
      this.cursor = -1;
      this.anchor = -1;
      this.render();
      this.summary();
      if (replaced.length) {
        const n = replaced.length;
        this.say(`Replaced ${n} suggested span${n === 1 ? "" : "s"}. ` + this.status.textContent);
      }
      return true;
    }

    remove(span) {
      this.remember();
      this.spans = this.spans.filter((x) => x !== span);
      if (this.selected === span) {
        // The cursor stays where the span was, so the keyboard carries on from there.
        this.selected = null;
        this.cursor = this.tokens.findIndex((t) => t.s >= span.s);
        this.anchor = -1;
      }
      this.render();
      this.summary();
    }

    /** Keep the spans as they are now, before a change, so Ctrl+Z can bring them back. */
    remember() {
      active = this;
      this.history.keep(this.spans);
    }

    /** Put the spans back as they were before the last change ("undo") or as the last undo
     *  found them ("redo"); false when there is none. The span selected stays selected. */
    travel(way) {
      if (this.disabled || !this.shown || this.drag) return false;
      const spans = this.history[way](this.spans);
      if (!spans) return false;
      const was = this.selected;
      this.spans = spans;
      this.selected = (was && spans.find((sp) => sp.s === was.s && sp.e === was.e)) || null;
      this.fresh = false;
      this.render();
      this.summary();
      this.say((way === "undo" ? "Undone. " : "Redone. ") + this.status.textContent);
      return true;
    }

    clear() {
      this.cursor = -1;
      this.anchor = -1;
      this.selected = null;
      this.paint();
      this.summary();
    }

    /** Move the word cursor by `unit` (see motionOf) towards `dir`; with `extend` the
     *  selection grows or shrinks from its anchor instead. */
    go({ unit, dir }, extend) {
      if (!this.tokens.length) return;
      const vertical = unit === "line" || unit === "page";
      let from = this.cursor;
      if (from < 0 && this.selected) {
        // Continue from the selected span: after it going right, before it going left.
        const sp = this.selected;
        const inside = this.tokens
          .map((t, i) => (t.s >= sp.s && t.e <= sp.e ? i : -1))
          .filter((i) => i >= 0);
        from = dir > 0 ? inside[inside.length - 1] : inside[0];
        if (extend) this.anchor = dir > 0 ? inside[0] : inside[inside.length - 1];
      } else if (from < 0) {
        // No cursor yet: from before the text's first word, after its last, or, for the keys
        // of what is on screen, from the first word in view.
        const onScreen = vertical || unit === "edge";
        from = onScreen ? this.firstInView() : dir > 0 ? -1 : this.tokens.length;
      }
      const next = this.target(unit, dir, from, extend);
      this.columnFrom = vertical ? next : -1;
      if (extend) {
        if (this.anchor < 0) this.anchor = this.cursor < 0 ? next : this.cursor;
      } else {
        this.anchor = -1;
      }
      this.cursor = next;
      this.selected = null;
      this.paint();
      const words = this.selection();
      const n = words ? words[1] - words[0] + 1 : 0;
      const them = n === 1 ? "it" : "them";
      this.say(`${n} word${n === 1 ? "" : "s"} selected: press a label key to mark ${them}.`);
    }

    /** The token a move by `unit` towards `dir` from token `from` lands on (`from` may be -1,
     *  before the first, or tokens.length, after the last). Going on by sentence or paragraph
     *  lands on the next one's first word; extending, on the last word of this one (or of the
     *  next, at its end), so the selection takes whole sentences. Going back lands on the
     *  first word of this one, or of the one before when already there. */
    target(unit, dir, from, extend) {
      const last = this.tokens.length - 1;
      if (unit === "word") return Math.min(last, Math.max(0, from + dir));
      if (unit === "text") return dir > 0 ? last : 0;
      if (unit === "line") return this.lineFrom(from, dir);
      if (unit === "page") return this.pageFrom(from, dir);
      if (unit === "edge") return this.lineOf(from)[dir > 0 ? 1 : 0];
      const starts = this.starts(unit);
      if (dir < 0) return starts[Math.max(0, firstAbove(starts, from - 1) - 1)];
      const k = firstAbove(starts, extend ? from + 1 : from);
      if (k >= starts.length) return last;
      return extend ? starts[k] - 1 : starts[k];
    }

    /** The indices of the tokens that begin a sentence or a paragraph, sorted from 0. */
    starts(unit) {
      if (!this.units) this.units = {};
      if (this.units[unit]) return this.units[unit];
      const firsts = new Set([0]);
      for (let i = 1; i < this.tokens.length; i++) {
        const gap = this.text.slice(this.tokens[i - 1].e, this.tokens[i].s);
        if (BREAK.test(gap)) firsts.add(i); // a new paragraph is a new sentence too
      }
      if (unit === "sentence") {
        let i = 0;
        for (const cut of sentenceCuts(this.text)) {
          while (i < this.tokens.length && this.tokens[i].s < cut) i++;
          if (i < this.tokens.length) firsts.add(i);
        }
      }
      this.units[unit] = [...firsts].sort((a, b) => a - b);
      return this.units[unit];
    }

    // ------------------------------------------------------------ lines and screens

    /** Token `i`'s box on screen (its first piece's). */
    box(i) {
      return this.pieces[this.pieceIndex(this.tokens[i].s)].getBoundingClientRect();
    }

    /** [first, last]: the tokens drawn on the same line as token `i`. */
    lineOf(i) {
      const middle = (b) => (b.top + b.bottom) / 2;
      const at = this.box(i);
      const y = middle(at);
      const near = (k) => Math.abs(middle(this.box(k)) - y) < at.height / 2;
      let first = i;
      let last = i;
      while (first > 0 && near(first - 1)) first--;
      while (last < this.tokens.length - 1 && near(last + 1)) last++;
      return [first, last];
    }

    /** The token nearest to `x` on the line drawn at height `y` (client px); above the first
     *  line the first line's, below the last the last line's. */
    tokenAt(x, y) {
      let lo = 0; // the first token whose box ends below y: it is on that line
      let hi = this.tokens.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.box(mid).bottom <= y) lo = mid + 1;
        else hi = mid;
      }
      const [first, last] = this.lineOf(Math.min(lo, this.tokens.length - 1));
      let best = first;
      let gap = Infinity;
      for (let k = first; k <= last; k++) {
        const b = this.box(k);
        const d = x < b.left ? b.left - x : x > b.right ? x - b.right : 0;
        if (d < gap) {
          best = k;
          gap = d;
        }
      }
      return best;
    }

    lineHeight() {
      const px = parseFloat(getComputedStyle(this.textRoot).lineHeight);
      return Number.isFinite(px) ? px : 2 * this.box(0).height;
    }

    /** Where ↑ and ↓ keep the cursor across lines: the column it was in when they began. */
    columnOf(from) {
      if (this.columnFrom !== from) {
        const b = this.box(from);
        this.column = (b.left + b.right) / 2;
      }
      return this.column;
    }

    lineFrom(from, dir) {
      const at = this.box(from);
      const y = dir > 0 ? at.bottom + this.lineHeight() / 2 : at.top - this.lineHeight() / 2;
      return this.tokenAt(this.columnOf(from), y);
    }

    /** The box that scrolls the text (the item's, or the page), and the part of it on screen. */
    view() {
      const page = document.scrollingElement || document.documentElement;
      let scroller = page;
      for (let el = this.textRoot.parentElement; el && el !== page; el = el.parentElement) {
        const overflow = getComputedStyle(el).overflowY;
        if ((overflow === "auto" || overflow === "scroll") && el.scrollHeight > el.clientHeight) {
          scroller = el;
          break;
        }
      }
      const shown =
        scroller === page ? { top: 0, bottom: innerHeight } : scroller.getBoundingClientRect();
      return { scroller, top: Math.max(0, shown.top), bottom: Math.min(innerHeight, shown.bottom) };
    }

    /** A screen on: the token a screen's height below (or above) the cursor, the text
     *  scrolled by as much, so the cursor keeps its place in the view (as Page Down does in
     *  an editor); at the text's ends its first or last line. */
    pageFrom(from, dir) {
      const view = this.view();
      const line = this.lineHeight();
      const step = line * Math.max(1, Math.floor((view.bottom - view.top) / line) - 1);
      const at = this.box(from);
      const next = this.tokenAt(this.columnOf(from), (at.top + at.bottom) / 2 + dir * step);
      view.scroller.scrollBy(0, dir * step);
      return next;
    }

    /** The first token of the first line in view, where keys of the screen start without a
     *  cursor. */
    firstInView() {
      const view = this.view();
      return this.lineOf(this.tokenAt(-Infinity, Math.max(view.top, this.box(0).top)))[0];
    }

    step(dir) {
      if (!this.spans.length) {
        this.say("No spans to select.");
        return;
      }
      let i = this.selected ? this.spans.indexOf(this.selected) : -1;
      if (i < 0) {
        const at = this.cursor >= 0 ? this.tokens[this.cursor].s : dir > 0 ? -1 : Infinity;
        i =
          dir > 0
            ? this.spans.findIndex((sp) => sp.s > at)
            : this.spans.map((sp) => sp.s < at).lastIndexOf(true);
        if (i < 0) i = dir > 0 ? 0 : this.spans.length - 1;
      } else {
        i = (i + dir + this.spans.length) % this.spans.length;
      }
      this.pick(this.spans[i]);
    }

    // ------------------------------------------------------------ mouse

    /** The UTF-16 offset of a DOM selection boundary inside the text, or null. */
    offsetOf(node, offset) {
      const root = this.textRoot;
      if (!root || !root.isConnected || !root.contains(node)) return null;
      if (node === root) {
        const child = root.childNodes[offset];
        if (!child) return this.text.length;
        const data = child.dataset || {};
        return data.s !== undefined ? Number(data.s) : Number(data.at || 0);
      }
      const el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
      const tag = el.closest(".span-tag");
      if (tag) return Number(tag.dataset.at);
      const piece = el.closest("[data-s]");
      if (!piece) return null;
      const s = Number(piece.dataset.s);
      if (node.nodeType === Node.TEXT_NODE) return s + offset;
      return offset === 0 ? s : Number(piece.dataset.e);
    }

    /** Token indices [first, last] touching the UTF-16 range [lo, hi), or null. */
    tokensIn(lo, hi) {
      const first = this.tokens.findIndex((t) => t.e > lo);
      let last = -1;
      for (let i = this.tokens.length - 1; i >= 0; i--) {
        if (this.tokens[i].s < hi) {
          last = i;
          break;
        }
      }
      return first < 0 || last < first ? null : [first, last];
    }

    /** The native text selection inside the text as a UTF-16 range, or null. */
    nativeRange() {
      const sel = window.getSelection();
      if (!sel || sel.isCollapsed || !sel.rangeCount) return null;
      const range = sel.getRangeAt(0);
      let a = this.offsetOf(range.startContainer, range.startOffset);
      let b = this.offsetOf(range.endContainer, range.endOffset);
      if (a === null && b === null) return null; // a selection elsewhere on the page
      if (a === null) a = 0;
      if (b === null) b = this.text.length;
      return a <= b ? [a, b] : [b, a];
    }

    /** Mark the words touching [lo, hi) with the active label (a mouse or touch selection);
     *  the new span is selected as one made by keyboard is, so a label key relabels it and
     *  Delete removes it, while a click on a label button only picks the next active label. */
    markRange(lo, hi) {
      const words = this.tokensIn(lo, hi);
      if (!words) return false;
      return this.add(this.tokens[words[0]].s, this.tokens[words[1]].e, this.active);
    }

    pieceAt(x, y) {
      const el = document.elementFromPoint(x, y);
      const piece = el && el.closest ? el.closest("[data-s]") : null;
      return piece && this.textRoot && this.textRoot.contains(piece) ? piece : null;
    }

    // The mouse draws its own selection (word by word, while dragging); touch and pen keep the
    // platform's selection (long press and handles), marked on release or with a label button.
    onPointerDown(e) {
      if (this.disabled || !this.shown) return;
      active = this;
      if (e.pointerType !== "mouse" || e.button !== 0) return;
      if (!(e.target instanceof Element) || e.target.closest(".span-tag")) return;
      const piece = e.target.closest("[data-s]");
      if (!piece) return;
      e.preventDefault();
      const sel = window.getSelection();
      if (sel) sel.removeAllRanges();
      this.drag = { from: piece, to: piece, x: e.clientX, y: e.clientY, moved: false };
    }

    onPointerMove(e) {
      const drag = this.drag;
      if (!drag) return;
      if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) drag.moved = true;
      const piece = this.pieceAt(e.clientX, e.clientY);
      if (piece) drag.to = piece;
      if (!drag.moved) return;
      const words = this.tokensIn(...this.dragRange(drag));
      const lo = words ? this.tokens[words[0]].s : -1;
      const hi = words ? this.tokens[words[1]].e : -1;
      for (const p of this.textRoot.querySelectorAll("[data-s]")) {
        p.classList.toggle("is-dragging", Number(p.dataset.s) >= lo && Number(p.dataset.e) <= hi);
      }
    }

    dragRange(drag) {
      const a = [Number(drag.from.dataset.s), Number(drag.from.dataset.e)];
      const b = [Number(drag.to.dataset.s), Number(drag.to.dataset.e)];
      return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
    }

    onPointerUp(e) {
      if (this.disabled || !this.shown) {
        this.drag = null;
        return;
      }
      const drag = this.drag;
      this.drag = null;
      if (drag) {
        if (drag.moved) this.markRange(...this.dragRange(drag));
        else this.clickPiece(drag.from, { extend: e.shiftKey });
        return;
      }
      if (e.target instanceof Element && e.target.closest(".span-tag, .spans-bar")) return;
      const range = this.nativeRange();
      if (range) {
        window.getSelection().removeAllRanges();
        this.markRange(...range);
        return;
      }
      const piece = e.target instanceof Element ? e.target.closest("[data-s]") : null;
      if (piece && this.textRoot && this.textRoot.contains(piece)) {
        // On a touch screen a second tap extends the selection: tap the first and last word.
        this.clickPiece(piece, { extend: e.shiftKey || e.pointerType !== "mouse", tap: true });
      }
    }

    /**
     * A click: with `extend` (Shift, or a second tap) the word selection grows to the word;
     * otherwise select the innermost span under the pointer, else put the cursor on the word.
     */
    clickPiece(piece, { extend = false, tap = false } = {}) {
      const at = Number(piece.dataset.s);
      const token = this.tokens.findIndex((t) => t.s <= at && at < t.e);
      const words = this.selection();
      if (extend && words && token >= 0) {
        if (tap && token >= words[0] && token <= words[1]) {
          this.clear(); // tapping the selection again lets go of it
          return;
        }
        if (this.anchor < 0) this.anchor = this.cursor;
        this.cursor = token;
        this.paint();
        const n = Math.abs(this.cursor - this.anchor) + 1;
        this.say(`${n} words selected: a label marks them.`);
        return;
      }
      const under = this.spans
        .filter((sp) => sp.s <= at && at < sp.e)
        .sort((x, y) => x.e - x.s - (y.e - y.s));
      if (under.length) {
        this.pick(under[0]);
        return;
      }
      if (token >= 0) {
        this.selected = null;
        this.cursor = token;
        this.anchor = -1;
        this.paint();
        this.say("1 word selected: a label marks it; Shift+→ or a tap on another word extends.");
      } else {
        this.clear();
      }
    }

    /** Select `span` (by click or tag), so a label relabels it and Delete or × removes it. */
    pick(span) {
      this.selected = span;
      this.fresh = false;
      this.cursor = -1;
      this.anchor = -1;
      this.paint();
      const words = this.text.slice(span.s, span.e);
      this.say(`Selected “${words}” (${span.label}): a label relabels it; × or Delete removes it.`);
    }

    // ------------------------------------------------------------ drawing

    render() {
      if (!this.area) return;
      const text = this.text;
      const cuts = new Set([0, text.length]);
      for (const t of this.tokens) cuts.add(t.s).add(t.e);
      for (const sp of this.spans) cuts.add(sp.s).add(sp.e);
      const points = [...cuts].sort((a, b) => a - b);
      const tokenAt = new Map(this.tokens.map((t, i) => [t.s, i]));
      const ends = new Map(); // offset -> spans ending there, for their tags
      for (const sp of this.spans) {
        if (!ends.has(sp.e)) ends.set(sp.e, []);
        ends.get(sp.e).push(sp);
      }

      const root = document.createElement("div");
      root.className = "spans-text";
      root.dir = "auto"; // Arabic or Hebrew text reads from the right (the tags, dir'd, do not count)
      root.dataset.control = this.control.name;
      root.setAttribute("role", "group");
      root.setAttribute(
        "aria-label",
        `Text to mark for ${this.control.name}: arrow keys move a word cursor, a label key marks`,
      );
      this.pieces = [];
      this.tagOf = new Map();
      this.painted = [];
      for (let k = 0; k < points.length - 1; k++) {
        const s = points[k];
        const e = points[k + 1];
        const piece = document.createElement("span");
        piece.dataset.s = String(s);
        piece.dataset.e = String(e);
        piece.textContent = text.slice(s, e);
        const ti = tokenAt.get(s);
        if (ti !== undefined && this.tokens[ti].e >= e) {
          piece.className = "tok";
        } else {
          piece.className = "gap";
        }
        const over = this.spans.filter((sp) => sp.s <= s && e <= sp.e);
        if (over.length) {
          const outer = over.reduce((x, y) => (y.e - y.s > x.e - x.s ? y : x));
          const [strong, soft] = this.colour(outer.label);
          piece.classList.add("in-span");
          piece.style.setProperty("--span-c", strong);
          piece.style.setProperty("--span-bg", soft);
          if (outer.suggested) piece.classList.add("is-suggested");
          if (s === outer.s) piece.classList.add("span-start");
          if (e === outer.e) piece.classList.add("span-end");
          if (over.length > 1) {
            // Inner (overlapping) spans: one underline per extra span, in its colour.
            const lines = over
              .filter((sp) => sp !== outer)
              .map((sp, i) => `inset 0 ${-3 * (i + 1)}px 0 0 ${this.colour(sp.label)[0]}`);
            piece.style.boxShadow = lines.join(", ");
            piece.classList.add("is-overlap");
          }
        }
        root.append(piece);
        this.pieces.push(piece);
        for (const sp of ends.get(e) || []) {
          const tag = this.tagFor(sp);
          this.tagOf.set(sp, tag);
          root.append(tag);
        }
      }
      this.pieceStarts = points.slice(0, -1);
      this.textRoot = root;
      root.addEventListener("pointerdown", (ev) => this.onPointerDown(ev));
      this.holder.replaceChildren(root);
      this.paint();
    }

    /** Index of the first piece starting at or after UTF-16 offset `at`. */
    pieceIndex(at) {
      let lo = 0;
      let hi = this.pieceStarts.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.pieceStarts[mid] < at) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }

    /** Mark pieces [s, e) with `cls`, remembering them so the next paint can unmark them. */
    mark(s, e, cls) {
      for (let k = this.pieceIndex(s); k < this.pieces.length && this.pieceStarts[k] < e; k++) {
        this.pieces[k].classList.add(cls);
        this.painted.push(this.pieces[k]);
      }
    }

    // Cursor and selection change on every arrow key: they restyle the drawn text in place
    // (long texts stay fast); only a change to the spans draws the text again.
    paint() {
      if (!this.textRoot) return;
      for (const node of this.painted) {
        node.classList.remove("is-cursor", "is-selection", "is-selected-span", "is-selected");
      }
      this.painted = [];
      const range = this.selection();
      if (range) this.mark(this.tokens[range[0]].s, this.tokens[range[1]].e, "is-selection");
      if (this.cursor >= 0) {
        const t = this.tokens[this.cursor];
        this.mark(t.s, t.e, "is-cursor");
      }
      const sp = this.selected;
      if (sp) {
        this.mark(sp.s, sp.e, "is-selected-span");
        const tag = this.tagOf.get(sp);
        if (tag) {
          tag.classList.add("is-selected");
          this.painted.push(tag);
        }
      }
      const focus = this.cursor >= 0 ? this.textRoot.querySelector(".is-cursor") : null;
      const target = focus || (sp ? this.tagOf.get(sp) : null);
      if (target && target.scrollIntoView) target.scrollIntoView({ block: "nearest" });
    }

    tagFor(sp) {
      const tag = document.createElement("span");
      tag.className = "span-tag" + (sp.suggested ? " is-suggested" : "");
      tag.dir = "auto";
      tag.dataset.at = String(sp.e);
      tag.dataset.label = sp.label;
      tag.dataset.start = String(this.maps.toCp[sp.s]);
      tag.dataset.end = String(this.maps.toCp[sp.e]);
      tag.style.setProperty("--span-c", this.colour(sp.label)[0]);
      tag.style.setProperty("--span-bg", this.colour(sp.label)[1]);
      const name = document.createElement("span");
      name.className = "span-tag-name";
      name.textContent = sp.label + (sp.suggested ? "?" : "");
      if (sp.suggested) {
        const score = typeof sp.score === "number" ? ` (${sp.score.toFixed(2)})` : "";
        name.title = "suggested" + score;
      }
      const x = document.createElement("button");
      x.type = "button";
      x.className = "span-x";
      x.textContent = "×";
      x.setAttribute("aria-label", `Remove ${sp.label} span “${this.text.slice(sp.s, sp.e)}”`);
      x.disabled = this.disabled;
      x.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (!this.disabled) this.remove(sp);
      });
      name.addEventListener("click", () => {
        if (!this.disabled) this.pick(sp);
      });
      tag.append(name, x);
      return tag;
    }
  }

  L.widgets.spans = { create: (control, ctx) => new SpansWidget(control, ctx) };
  L.spans = { tokenize, offsetMaps }; // for tests and other widgets
})();
