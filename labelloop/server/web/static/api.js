// What the page scripts share, as one global (a classic script, no build step: base.html loads it
// before them): JSON API calls with the CSRF header, the server's error detail, message boxes.
// Server text only reaches the DOM via textContent.
window.labelloop = (() => {
  "use strict";

  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  /** A failed API call: `status` is 0 when the server was not reached; the message is `detail`. */
  class ApiError extends Error {
    constructor(status, error, detail) {
      super(detail);
      this.status = status;
      this.error = error;
      this.detail = detail;
    }
  }

  /** The server's error detail from a response body, or a sentence about the status. */
  function detailOf(status, text) {
    try {
      const body = JSON.parse(text);
      if (body && typeof body.detail === "string" && body.detail) return body.detail;
    } catch (_) {
      // not JSON (a proxy's error page): fall through
    }
    if (!status) return "the server could not be reached; check the connection and try again";
    if (status === 413) return "the file is too large for the server";
    return `the server answered ${status}`;
  }

  /**
   * Call the JSON API and return the parsed body (null when there is none). Writes carry the
   * X-CSRF-Token header; a failure throws ApiError with the server's detail. With `loginOn401`,
   * a 401 (the session ended) also sends the browser to /login?next=<this page>.
   */
  async function api(method, path, body, { loginOn401 = false } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf;
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (_) {
      throw new ApiError(0, "NetworkError", detailOf(0, ""));
    }
    if (res.status === 401 && loginOn401) {
      const here = location.pathname + location.search;
      location.assign("/login?next=" + encodeURIComponent(here));
      throw new ApiError(401, "AuthenticationFailed", "Your session ended; sign in again.");
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!res.ok) {
      throw new ApiError(res.status, (data && data.error) || "HTTPError", detailOf(res.status, text));
    }
    return data;
  }

  /**
   * Which answer is the newest of a thing a page fetches again after each action (a list, its
   * counts): each call of the function returned starts a fetch and gives a check that holds
   * while no later fetch of the same thing has started. Drawn only while its check holds, an
   * older answer arriving last (two actions ended close together) cannot put back what the
   * newer one no longer shows, where no timer would draw it again.
   */
  function newestOnly() {
    let asked = 0;
    return () => {
      const ticket = ++asked;
      return () => ticket === asked;
    };
  }

  /** Bytes of keepalive bodies a page may send as it goes: browsers carry at most 64 KiB of
   * them at once, and refuse a request past that. */
  const KEEPALIVE_BYTES = 60000;

  /** The size of a request body (JSON text) in bytes, as the keepalive budget counts it. */
  const bodyBytes = (body) => (body === undefined ? 0 : new TextEncoder().encode(body).length);

  /**
   * POST `body` (JSON text, or undefined) to `path` as a keepalive request, which outlives the
   * page, with the X-CSRF-Token header api() sends; nothing waits for its answer. False when
   * the browser refuses it at once (over its keepalive budget).
   */
  function sendPastThePage(path, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      fetch(path, {
        method: "POST",
        keepalive: true,
        credentials: "same-origin",
        headers,
        body,
      }).catch(() => undefined);
      return true;
    } catch (_) {
      return false;
    }
  }

  /** Show one message (kind: info | error) in a role="alert" box, replacing what was there;
   * ``text`` is a string or its parts, a file name or an id among them in an element of its
   * own (isolated: a direction override in it cannot turn the words after it backwards). */
  function say(box, kind, text) {
    const message = document.createElement("div");
    message.className = `message message-${kind}`;
    const span = document.createElement("span");
    span.className = "message-text";
    span.append(...[text ?? ""].flat());
    message.append(span);
    box.replaceChildren(message);
  }

  /**
   * Add a dismissible message to ``list`` (newest last, at most three kept, each said once);
   * with ``timeout`` (ms) it goes away by itself. Text is set as text, never as HTML.
   */
  function notify(list, text, kind = "error", timeout = 0) {
    const box = document.createElement("div");
    box.className = "message message-" + kind;
    const span = document.createElement("span");
    span.className = "message-text";
    span.textContent = text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "message-close";
    close.setAttribute("aria-label", "Dismiss message");
    close.textContent = "×";
    close.addEventListener("click", () => box.remove());
    box.append(span, close);
    // The same message again (a poll refused alike every few seconds) replaces the one shown,
    // so it is said once and other messages are not pushed out by its copies.
    for (const shown of list.querySelectorAll(":scope > .message-" + kind)) {
      if (shown.querySelector(".message-text")?.textContent === span.textContent) shown.remove();
    }
    list.append(box);
    while (list.children.length > 3) list.firstElementChild.remove();
    if (timeout) setTimeout(() => box.remove(), timeout);
    return box;
  }

  /** A new element with an optional class and text (set as text, never as HTML). */
  function node(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  const plural = (n, word, many = word + "s") => `${n.toLocaleString()} ${n === 1 ? word : many}`;

  /** A note the server words in lower case ("searched the first 200 characters …") as a sentence. */
  const sentence = (note) => note.charAt(0).toUpperCase() + note.slice(1) + ".";

  /** Spans of `text` as their labels and the words they cover: person “Ada Lovelace”, place
   * “London”. Offsets count code points, as the server does; long words are cut at 40. */
  function spansText(spans, text) {
    const chars = Array.from(text);
    return spans
      .map((sp) => {
        const words = chars.slice(sp.start, sp.end).join("");
        return `${sp.label} “${words.length > 40 ? words.slice(0, 39) + "…" : words}”`;
      })
      .join(", ");
  }

  /** An empty answer of a list control, by its type (as labelloop.schema.values.NOTHING): an
   * annotator who accepted an image with no boxes answered "no boxes". */
  const NOTHING = { spans: "no spans", boxes: "no boxes", multi_choice: "no labels" };

  /** A control's value in words: a label, labels, a number, or how many spans or boxes; given
   * the item's `text`, each span with the words it covers. An empty one says what it is by the
   * control's `type` ("no boxes"). */
  function valueText(value, text, type) {
    if (value === null || value === undefined) return "—";
    if (Array.isArray(value)) {
      if (!value.length) return NOTHING[type] || "none";
      if (value.every((v) => typeof v !== "object" || v === null)) return value.join(", ");
      const boxes = value.some((v) => v && "w" in v);
      const [one, many] = boxes ? ["box", "boxes"] : ["span", "spans"];
      const labels = value.map((v) => v && v.label).filter(Boolean);
      if (!boxes && typeof text === "string" && labels.length === value.length) {
        return `${plural(value.length, one, many)}: ${spansText(value, text)}`;
      }
      return `${plural(value.length, one, many)}${labels.length ? ": " + labels.join(", ") : ""}`;
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  /** An answer (control name -> value) in words; one control's value alone needs no name.
   * Given the item's `text`, spans are said with their words; given the controls' `types`
   * (name -> type), an empty value says what it is. */
  function answerText(value, text, types = {}) {
    const entries = Object.entries(value || {});
    const said = ([name, v]) => valueText(v, text, types[name]);
    if (entries.length === 1) return said(entries[0]);
    return entries.map((entry) => `${entry[0]}: ${said(entry)}`).join("; ") || "—";
  }

  /** Control name -> type of a schema's controls, for answerText. */
  const controlTypes = (controls) => Object.fromEntries((controls || []).map((c) => [c.name, c.type]));

  /** A model label worth showing: a class name, not the digest of spans or boxes (else null). */
  function shownLabel(label) {
    if (label === null || label === undefined) return null;
    const s = String(label);
    return s.startsWith("regions:") ? null : s;
  }

  /** A model's probability as the pages show it after its label: " (0.93)", or nothing. */
  function sureText(confidence) {
    return typeof confidence === "number" ? ` (${confidence.toFixed(2)})` : "";
  }

  /** What the model says instead, from a flag's data (or a doubted import's): "model says:
   * positive (0.93)"; null when it names no class, for the page to show the note that raised
   * the flag, which says no more than this where it does. */
  function modelSaysText(label, confidence) {
    const shown = shownLabel(label);
    return shown === null ? null : `model says: ${shown}${sureText(confidence)}`;
  }

  /** A time of the API (ISO 8601, UTC) as the pages show it: "2024-05-02 12:47". */
  const utcText = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "—");

  /** When an answer's annotator changed it and under which guideline ("changed at 2024-05-02
   * 12:47 UTC (guideline v2)"); "" for an answer never changed. The answer's value and
   * guideline_version are the change's, so they are said beside its time, not the first's. */
  function changedText(a) {
    if (!a.changed_at) return "";
    const under = a.guideline_version ? ` (guideline v${a.guideline_version})` : "";
    return `changed at ${utcText(a.changed_at)} UTC${under}`;
  }

  /** " (guideline v3)" after an audited answer or change made under v3; "" for other events. */
  function underText(payload) {
    const v = (payload || {}).guideline_version;
    return v ? ` (guideline v${v})` : "";
  }

  /** An audited action in words (flags with their kinds); one without words, its name spaced. */
  function actionText(h) {
    if (h.action === "flag.raise") {
      return "flagged: " + ((h.payload || {}).kinds || []).join(", ").replace(/_/g, " ");
    }
    return h.words || h.action.replace(/[._]/g, " "); // the server's words for it
  }

  /**
   * The hotkey a key press means: the character the layout types when `known(key)` says it is
   * a hotkey, else the key's place on the keyboard when that is one and the layout types no
   * ASCII letter or digit there (an AZERTY keyboard's 1 key types &, a Russian layout's S key
   * types ы), else the typed character. Hotkeys are named as on a US keyboard; a layout's own
   * character (é, й) named as a hotkey still matches as typed.
   */
  function hotkeyOf(e, known) {
    const typed = e.key;
    if (known(typed)) return typed;
    const plain = !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey;
    if (!plain || /^[A-Za-z0-9]$/.test(typed) || (typed.length !== 1 && typed !== "Dead")) {
      return typed;
    }
    const m = /^(?:Digit|Numpad)([0-9])$|^Key([A-Z])$/.exec(e.code || "");
    const place = m ? m[1] || m[2].toLowerCase() : null;
    return place && known(place) ? place : typed;
  }

  /**
   * Whether a key press typed a character with AltGr, which Windows reports as Ctrl+Alt, or
   * with Option on a Mac: `[` and `]` on German, French or Nordic keyboards. Such a press is the
   * character, not a shortcut, so the pages' `[` `]` keys work on every layout.
   */
  function typedWithAltGr(e) {
    return e.altKey && !e.metaKey && e.key.length === 1 && e.key.trim() !== "";
  }

  /** Whether a key press is a Ctrl or Cmd shortcut, left to the browser (not AltGr typing). */
  function commandKey(e) {
    return (e.ctrlKey || e.metaKey) && !typedWithAltGr(e);
  }

  /** Whether Alt is held as a modifier (boxes: Alt+arrows resize), not to type a character. */
  function altChord(e) {
    return e.altKey && !typedWithAltGr(e);
  }

  /**
   * What Ctrl+Z (Cmd+Z) and Ctrl+Shift+Z (Cmd+Shift+Z) or Ctrl+Y ask of an editing widget, as
   * in Label Studio and CVAT: "undo", "redo", or null for any other key. The letter as typed,
   * else the key's place (Ctrl+Я on a Russian layout is Ctrl+Z).
   */
  function undoKeyOf(e) {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
    const typed = e.key.toLowerCase();
    const place = (e.code || "").startsWith("Key") ? e.code.slice(3).toLowerCase() : "";
    const k = /^[a-z]$/.test(typed) || !place ? typed : place;
    if (k === "z") return e.shiftKey ? "redo" : "undo";
    if (k === "y" && e.ctrlKey && !e.shiftKey) return "redo";
    return null;
  }

  /**
   * The edits of one item a widget can take back (undo) and put back (redo): `keep(present)`
   * before each change, which starts a new line of edits, so what undo took back can no longer
   * be redone; `undo(present)` and `redo(present)` give the state to show, or null when there
   * is none. Each way keeps the last `limit` states, as copies made by `copy`.
   */
  function editHistory(copy, { limit = 100 } = {}) {
    let past = [];
    let future = [];
    const push = (stack, state) => {
      stack.push(copy(state));
      if (stack.length > limit) stack.shift();
    };
    const travel = (from, to, present) => {
      if (!from.length) return null;
      push(to, present);
      return from.pop();
    };
    return {
      keep(present) {
        push(past, present);
        future = [];
      },
      undo: (present) => travel(past, future, present),
      redo: (present) => travel(future, past, present),
      clear() {
        past = [];
        future = [];
      },
    };
  }

  // A box's colour by its label's place among its control's labels: the labeling and review
  // pages draw it so, and the thumbnails of the Items page and its trace the same.
  const BOX_COLOURS = [
    "#e03131",
    "#1c7ed6",
    "#2f9e44",
    "#f08c00",
    "#9c36b5",
    "#0c8599",
    "#d6336c",
    "#5c940d",
    "#e8590c",
    "#3b5bdb",
  ];

  /** The colour of a box labeled ``label`` in a control of ``labels``. */
  function boxColour(labels, label) {
    return BOX_COLOURS[Math.max(0, labels.indexOf(label)) % BOX_COLOURS.length];
  }

  /** Whether an image of ``width`` x ``height`` pixels is one to scale up crisp (8x8 digits), not
   * a photo to show smooth. */
  const isTinyImage = (width, height) => {
    const side = Math.max(Number(width) || 0, Number(height) || 0);
    return side > 0 && side <= 48;
  };

  /**
   * An image item as the labeling, review and adjudication pages show it, from ``src``: a
   * photo as large as the item's box allows and centred, a tiny image (8x8 digits) scaled up to
   * a fixed size with its pixels kept sharp. The size comes from the item (read at import),
   * else from the file once loaded.
   */
  function imageItem(item, src) {
    const img = document.createElement("img");
    img.className = "item-image";
    const data = (item && item.data) || {};
    // A photo smaller than the box (a 64x48 icon) is scaled up to fill it, as the boxes stage
    // does: the CSS sizes it from its shape, so it fits the box's width and half the view's height.
    const size = (width, height) => {
      img.classList.toggle("is-tiny", isTinyImage(width, height));
      const w = Number(width) || 0;
      const h = Number(height) || 0;
      img.classList.toggle("is-fitted", w > 0 && h > 0);
      if (w > 0 && h > 0) img.style.setProperty("--image-ratio", String(w / h));
    };
    size(data.width, data.height);
    img.addEventListener("load", () => size(img.naturalWidth, img.naturalHeight), { once: true });
    img.src = src;
    img.alt = item.external_id ? String(item.external_id) : "item " + item.id;
    return img;
  }

  /** Each boxes control of ``controls`` (a schema's) -> its labels: what the thumbnails colour
   * a value's boxes by. */
  function boxLabels(controls) {
    const out = {};
    for (const c of controls || []) if (c && c.type === "boxes") out[c.name] = (c.labels || []).map(String);
    return out;
  }

  // The labeling page's plug-in points (label.js documents them): data type -> renderer,
  // control type -> widget factory. Scripts loaded before label.js register into them.
  return {
    csrf,
    ApiError,
    detailOf,
    api,
    newestOnly,
    KEEPALIVE_BYTES,
    bodyBytes,
    sendPastThePage,
    say,
    notify,
    node,
    plural,
    sentence,
    spansText,
    valueText,
    answerText,
    controlTypes,
    NOTHING,
    shownLabel,
    sureText,
    modelSaysText,
    utcText,
    changedText,
    actionText,
    underText,
    hotkeyOf,
    undoKeyOf,
    commandKey,
    altChord,
    editHistory,
    boxColour,
    boxLabels,
    isTinyImage,
    imageItem,
    renderers: {},
    widgets: {},
  };
})();
