// Table, HTML and audio items and the rating and text controls of the labeling page, plugged into
// the host (label.js) through window.labelloop.renderers and window.labelloop.widgets.
//
// Item content is untrusted. Table cells and names reach the DOM through textContent only. HTML
// items were sanitized on the server when imported (labelloop/ingest/html.py); the markup is
// parsed here into an inert document, checked again against the same allow-list, and only then
// moved into the page, so no script, handler or javascript: URL can run even if a stored item
// escaped the server's cleaning.
(() => {
  "use strict";

  const ns = (window.labelloop = window.labelloop || {});
  ns.renderers = ns.renderers || {};
  ns.widgets = ns.widgets || {};

  const dataNode = document.getElementById("project-data");
  const project = dataNode ? JSON.parse(dataNode.textContent) : {};
  const schema = project.schema || {};
  const dataType = (schema.data && schema.data.type) || "text";
  const allControls = schema.controls || [];
  const SEEK_S = 5;

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** The first control (in schema order) that lists `key` as a hotkey: it owns that key. */
  function ownerOf(key) {
    for (const c of allControls) {
      if ((c.hotkeys || []).includes(key)) return c.name;
    }
    return null;
  }

  function typingIn(node) {
    if (!node || node === document.body) return false;
    if (node.isContentEditable) return true;
    return /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName);
  }

  /** Whether an item is on screen: the labeling page's task or edit, the review page's answer
   *  under review or the adjudication page's item. */
  function working() {
    const app = document.getElementById("label-app") || document.getElementById("review-app");
    const mode = app ? app.dataset.state : "";
    return mode === "task" || mode === "edit" || mode === "review" || mode === "item";
  }

  // ------------------------------------------------------------------ images off the labeling page

  // The labeling page (label.js) brings its own image renderer; the review and adjudication
  // pages get this same one, so a reviewer sees the image rather than its path.
  if (!document.getElementById("label-app") && !ns.renderers.image) {
    ns.renderers.image = (item, container, ctx) =>
      container.replaceChildren(ns.imageItem(item, ctx.mediaUrl(item)));
  }

  // ------------------------------------------------------------------ table rows

  // A number with every digit it has (12345678901.5, not 12345700000), except one a 32-bit
  // float column (Parquet's, NumPy's) held: the shortest text that reads back as that float,
  // 0.1 and not 0.10000000149011612. The search page's text says the same (seeding._cell).
  function numberText(value) {
    if (Number.isInteger(value) || Math.fround(value) !== value) return String(value);
    for (let digits = 1; digits < 9; digits++) {
      const short = Number(value.toPrecision(digits));
      if (Math.fround(short) === value) return String(short);
    }
    return String(value);
  }

  function cellText(value) {
    if (value === null || value === undefined || value === "") return null;
    if (typeof value === "number") return numberText(value);
    if (typeof value === "boolean") return value ? "true" : "false";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  ns.renderers.table = (item, container) => {
    const data = (item && item.data) || {};
    const row = data.row && typeof data.row === "object" ? data.row : data;
    const chosen = (schema.data && schema.data.columns) || [];
    const columns = chosen.length ? chosen : Object.keys(row);
    const table = make("table", "row-table");
    const caption = make("caption", "visually-hidden", "Fields of this row");
    const tbody = document.createElement("tbody");
    for (const name of columns) {
      const tr = document.createElement("tr");
      const th = make("th", "", name);
      th.scope = "row";
      const text = cellText(row[name]);
      const td = make("td", "", text === null ? "—" : text);
      if (text === null) {
        td.classList.add("is-empty");
        td.title = "empty";
      } else if (typeof row[name] === "number" || /^-?\d+([.,]\d+)?$/.test(text)) {
        td.classList.add("is-num");
      }
      tr.append(th, td);
      tbody.append(tr);
    }
    table.append(caption, tbody);
    container.classList.add("has-table");
    container.replaceChildren(table);
  };

  // ------------------------------------------------------------------ HTML

  const HTML_TAGS = new Set(
    (
      "a abbr b bdi bdo blockquote br caption cite code col colgroup data dd del details dfn div " +
      "dl dt em figcaption figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q rp rt " +
      "ruby s samp small span strike strong sub summary sup table tbody td tfoot th thead time " +
      "tr tt u ul var wbr"
    ).split(" "),
  );
  const HTML_ATTRS = new Set(
    (
      "href hreflang title src alt width height colspan rowspan headers scope span start " +
      "reversed cite datetime value dir target rel referrerpolicy loading"
    ).split(" "),
  );
  const SAFE_URL = /^(https?:|mailto:)/i;

  /** Sanitized markup as DOM nodes, checked again here against the server's allow-list. */
  function safeFragment(markup) {
    // DOMParser builds an inert document: nothing in it runs or loads while it is checked.
    const doc = new DOMParser().parseFromString(String(markup), "text/html");
    const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_COMMENT);
    const drop = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeType === Node.COMMENT_NODE || !HTML_TAGS.has(node.localName)) {
        drop.push(node);
        continue;
      }
      for (const attr of Array.from(node.attributes)) {
        const name = attr.name.toLowerCase();
        const url = name === "href" || name === "src" || name === "cite";
        if (!HTML_ATTRS.has(name) || (url && !SAFE_URL.test(attr.value.trim()))) {
          node.removeAttribute(attr.name);
        }
      }
      if (node.localName === "a") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    }
    for (const node of drop) node.remove();
    const fragment = document.createDocumentFragment();
    for (const child of Array.from(doc.body.childNodes)) {
      fragment.append(document.adoptNode(child));
    }
    return fragment;
  }

  ns.renderers.html = (item, container) => {
    const data = (item && item.data) || {};
    const box = make("div", "item-html");
    if (typeof data.html === "string") box.append(safeFragment(data.html));
    else box.textContent = typeof data.text === "string" ? data.text : "";
    container.classList.add("has-html");
    container.replaceChildren(box);
  };

  // ------------------------------------------------------------------ audio

  let player = null; // the <audio> of the item on screen

  function clockText(seconds) {
    if (!Number.isFinite(seconds)) return "–:––";
    const s = Math.max(0, Math.floor(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  ns.renderers.audio = (item, container, ctx) => {
    const wrap = make("div", "audio-item");
    const audio = document.createElement("audio");
    audio.className = "item-audio";
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = ctx.mediaUrl(item);
    const name = item && item.external_id ? String(item.external_id) : "item " + item.id;
    audio.setAttribute("aria-label", "Recording " + name);
    const line = make("p", "audio-line muted small");
    const position = make("span", "audio-position", "0:00 / –:––");
    position.setAttribute("aria-live", "off");
    const hint = make("span", "audio-hint");
    for (const [key, what] of [
      ["Space", "play / pause"],
      ["←", `back ${SEEK_S} s`],
      ["→", `forward ${SEEK_S} s`],
    ]) {
      hint.append(make("kbd", "", key), " " + what + " ");
    }
    line.append(position, " · ", hint);
    const update = () => {
      position.textContent = `${clockText(audio.currentTime)} / ${clockText(audio.duration)}`;
    };
    for (const type of ["timeupdate", "loadedmetadata", "seeked", "durationchange"]) {
      audio.addEventListener(type, update);
    }
    audio.addEventListener("play", () => (wrap.dataset.playing = "true"));
    audio.addEventListener("pause", () => (wrap.dataset.playing = "false"));
    wrap.dataset.playing = "false";
    wrap.append(audio, line);
    container.classList.add("has-audio");
    container.replaceChildren(wrap);
    if (player && player !== audio) player.pause();
    player = audio;
  };

  function seek(audio, delta) {
    const end = Number.isFinite(audio.duration) ? audio.duration : Infinity;
    audio.currentTime = Math.min(end, Math.max(0, audio.currentTime + delta));
  }

  // Audio keys go before the host's (this script runs first): Space plays or pauses, the arrows
  // seek, on the labeling, review and adjudication pages alike. Audio projects have no spans or
  // boxes, so the arrows are free.
  if (dataType === "audio") {
    document.addEventListener("keydown", (e) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
      if (!player || !player.isConnected || !working() || typingIn(e.target)) return;
      if (e.target === player) return; // the player's own controls handle their keys
      const other = e.target instanceof Element && e.target.closest("a, button, summary, details");
      if (e.key === " " && !other) {
        e.preventDefault();
        if (e.repeat) return;
        if (player.paused) player.play().catch(() => {});
        else player.pause();
      } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        e.preventDefault();
        seek(player, e.key === "ArrowLeft" ? -SEEK_S : SEEK_S);
      }
    });
    const app = document.getElementById("label-app");
    if (app) {
      // A clip stops when the page leaves the item (queue empty, loading): nothing plays unseen.
      new MutationObserver(() => {
        if (player && !working()) player.pause();
      }).observe(app, { attributes: true, attributeFilter: ["data-state"] });
    }
    document.addEventListener("DOMContentLoaded", () => {
      // One shortcut sheet: the host built it from the controls; the player's keys join it.
      const body = document.getElementById("shortcuts-body");
      if (!body || !document.getElementById("label-app")) return; // the labeling page only
      const h = make("h3", "", "Recording");
      const table = make("table", "keys");
      const tbody = document.createElement("tbody");
      for (const [keys, what] of [
        [["Space"], "Play or pause"],
        [["←"], `Back ${SEEK_S} seconds`],
        [["→"], `Forward ${SEEK_S} seconds`],
      ]) {
        const tr = document.createElement("tr");
        const th = document.createElement("th");
        th.scope = "row";
        for (const k of keys) th.append(make("kbd", "", k), " ");
        tr.append(th, make("td", "", what));
        tbody.append(tr);
      }
      table.append(tbody);
      body.prepend(h, table);
    });
  }

  // ------------------------------------------------------------------ rating

  ns.widgets.rating = {
    create(control, ctx) {
      const max = control.max || (control.labels || []).length || 5;
      const keys = control.hotkeys || [];
      const settings = (ctx && ctx.settings) || {};
      let chosen;
      let suggestedValue;
      const element = make("div", "rating-buttons");
      element.setAttribute("role", "group");
      element.setAttribute("aria-label", control.name);
      const buttons = [];
      for (let v = 1; v <= max; v++) {
        const button = make("button", "rating-btn");
        button.type = "button";
        button.dataset.value = String(v);
        button.setAttribute("aria-pressed", "false");
        const key = keys[v - 1];
        if (key && ownerOf(key) === control.name) {
          button.append(make("kbd", "hotkey", key));
          button.setAttribute("aria-keyshortcuts", key);
        }
        button.append(make("span", "rating-value", String(v)));
        const tag = make("span", "label-tag", "suggested");
        tag.hidden = true;
        button.append(tag);
        button.addEventListener("click", () => pick(v));
        // As a label's: Enter submits and a click keeps the keyboard focus where it was, where
        // Enter after a click pressed the rating again, clearing it, and submitted nothing.
        button.dataset.passKeys = "";
        button.addEventListener("mousedown", (e) => e.preventDefault());
        buttons.push(button);
        element.append(button);
      }

      function render() {
        for (const button of buttons) {
          const v = Number(button.dataset.value);
          button.setAttribute("aria-pressed", v === chosen ? "true" : "false");
          button.classList.toggle("is-suggested", v === suggestedValue);
          button.querySelector(".label-tag").hidden = v !== suggestedValue;
        }
      }

      function pick(v) {
        if (buttons[0].disabled) return;
        chosen = chosen === v ? undefined : v; // the same value again clears an optional rating
        render();
        const news = document.getElementById("choice-news"); // the labeling page's live region
        if (news) news.textContent = `${control.name}: ${chosen === undefined ? "cleared" : chosen}`;
      }

      return {
        element,
        show(_item, _area, value, suggested) {
          suggestedValue = Number.isInteger(suggested) ? suggested : undefined;
          if (Number.isInteger(value)) chosen = value;
          else chosen = settings.preselect_suggestion ? suggestedValue : undefined;
          render();
        },
        value() {
          return chosen;
        },
        key(e) {
          const owns = (k) => keys.includes(k) && keys.indexOf(k) < max && ownerOf(k) === control.name;
          const typed = ns.hotkeyOf(e, (t) => [t, t.toLowerCase(), t.toUpperCase()].some(owns));
          if (e.altKey || typed.length !== 1) return false;
          for (const k of [typed, typed.toLowerCase(), typed.toUpperCase()]) {
            const i = keys.indexOf(k);
            if (i >= 0 && i < max && ownerOf(k) === control.name) {
              if (!e.repeat) pick(i + 1);
              return true;
            }
          }
          return false;
        },
        shortcuts() {
          const own = keys.slice(0, max).filter((k) => k && ownerOf(k) === control.name);
          if (!own.length) return [{ keys: ["—"], what: `Rate 1–${max} with the mouse` }];
          return [
            {
              keys: own,
              what: `Rate 1–${max}`,
              note: "the same key again clears the rating",
            },
          ];
        },
        disable(off) {
          for (const button of buttons) button.disabled = off;
        },
      };
    },
  };

  // ------------------------------------------------------------------ free text

  const SINGLE_LINE_CHARS = 200; // up to this limit the answer is one line: Enter submits it
  const textControls = allControls.filter((c) => c.type === "text");

  // Whether the key before this one was Tab too: the user is walking the page's controls.
  let tabbing = false;
  let lastKey = "";
  document.addEventListener(
    "keydown",
    (e) => {
      tabbing = lastKey === "Tab";
      lastKey = e.key;
    },
    true,
  );

  function submitFrom(field) {
    field.blur(); // the next item's keys must reach the page, not this field
    const button = document.getElementById("submit-btn");
    if (button && !button.disabled) button.click();
  }

  ns.widgets.text = {
    create(control) {
      const limit = control.max_chars; // the schema gives every text control its limit
      const single = limit <= SINGLE_LINE_CHARS;
      const element = make("div", "text-answer");
      const field = single ? document.createElement("input") : document.createElement("textarea");
      if (single) field.type = "text";
      else field.rows = 3;
      field.className = "text-field";
      field.maxLength = limit;
      field.autocomplete = "off";
      field.spellcheck = true;
      field.setAttribute("aria-label", control.name);
      field.placeholder = single
        ? "Type here — Enter submits, Esc leaves the field"
        : "Type here — Ctrl+Enter submits, Esc leaves the field";
      const counter = make("span", "text-counter muted small");
      counter.setAttribute("aria-live", "polite");
      const count = () => {
        counter.textContent = `${field.value.length.toLocaleString()} / ${limit.toLocaleString()}`;
        counter.classList.toggle("is-full", field.value.length >= limit);
      };
      field.addEventListener("input", count);
      field.addEventListener("keydown", (e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          field.blur();
        } else if (e.key === "Enter" && !e.isComposing && (single || e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          e.stopPropagation();
          if (!e.repeat) submitFrom(field);
        }
      });
      element.append(field, counter);
      count();
      const first = textControls.length && textControls[0].name === control.name;

      return {
        element,
        show(_item, _area, value, suggested) {
          if (document.activeElement === field) field.blur();
          const start = typeof value === "string" ? value : suggested;
          field.value = typeof start === "string" ? start.slice(0, limit) : "";
          element.classList.toggle("is-suggested", typeof value !== "string" && !!field.value);
          count();
        },
        value() {
          const text = field.value.replace(/\s+$/, "");
          return text.trim() ? text : undefined;
        },
        key(e) {
          // Tab from nowhere (the page as it opens, after label keys, or a field left with Esc)
          // writes the answer; from a button or link, or a Tab past the page's last control, it
          // moves on as ever, so every other control stays in reach.
          const nowhere = e.target === document.body || e.target === document.documentElement;
          if (e.key === "Tab" && !e.shiftKey && first && !field.disabled && nowhere && !tabbing) {
            field.focus();
            return true;
          }
          return false;
        },
        shortcuts() {
          const rows = [];
          if (first) rows.push({ keys: ["Tab"], what: `Write the ${control.name} answer` });
          rows.push(
            single
              ? { keys: ["Enter"], what: "Submit from inside the field" }
              : { keys: ["Ctrl", "Enter"], what: "Submit from inside the field", note: "Enter starts a new line" },
            { keys: ["Esc"], what: "Leave the field, so keys label again" },
          );
          return rows;
        },
        disable(off) {
          field.disabled = off;
        },
      };
    },
  };
})();
