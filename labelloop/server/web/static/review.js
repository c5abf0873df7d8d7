// The review queue and the adjudication page: keyboard-first, everything through the JSON API.
// Item text, metadata, comments and usernames are untrusted: they reach the DOM via textContent.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const app = $("review-app");
  const mode = app.dataset.mode; // review | adjudicate
  const project = JSON.parse($("project-data").textContent);
  const base = "/api/projects/" + encodeURIComponent(project.slug);
  const schema = project.schema || {};
  const dataField = (schema.data && schema.data.field) || "text";
  const controls = (schema.controls || []).filter(
    (c) => c.type === "choice" || c.type === "multi_choice",
  );
  const target = controls.find((c) => c.target) || controls[0];
  const EMPTY_POLL_MS = 3000;
  const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

  const el = {
    card: $("item-card"),
    itemId: $("item-id"),
    text: $("item-text"),
    meta: $("item-meta"),
    prediction: $("prediction"),
    flags: $("flag-list"),
    empty: $("empty-state"),
    under: $("under-review"),
    reviewLabel: $("review-label"),
    reviewAnnotator: $("review-annotator"),
    reviewMeta: $("review-meta"),
    reviewRework: $("review-rework"),
    currentLabel: $("current-label"),
    fixPanel: $("fix-panel"),
    controls: $("controls"),
    comment: $("review-comment"),
    others: $("others"),
    history: $("history"),
    waiting: $("waiting-count"),
    escalated: $("escalated-count"),
    messages: $("messages"),
    sheet: $("shortcuts"),
    help: $("help-btn"),
    sheetClose: $("shortcuts-close"),
    labelKeys: $("label-keys"),
  };

  // ---------------------------------------------------------------- API and messages

  const { ApiError } = window.labelloop;

  function api(method, path, body) {
    return window.labelloop.api(method, base + path, body, { loginOn401: true });
  }

  function showMessage(text, kind = "error", timeout = 0) {
    window.labelloop.notify(el.messages, text, kind, timeout);
  }

  function report(err) {
    if (err instanceof ApiError) {
      if (err.status !== 401) showMessage(err.detail, "error");
    } else {
      console.error(err);
      showMessage("Something went wrong on this page: " + (err && err.message), "error");
    }
  }

  // ---------------------------------------------------------------- state

  const state = {
    view: null, // what the API returned for the item on screen
    values: {}, // control name -> label or [labels] (a fix or the final label)
    pending: null, // null | "reject" | "fix"
    skip: [], // annotation ids (review) or item ids (adjudicate) passed over with N
    busy: false,
    emptyTimer: null,
  };

  function setState(name) {
    app.dataset.state = name;
    el.card.setAttribute("aria-busy", name === "loading" ? "true" : "false");
    el.empty.hidden = name !== "empty";
    const working = name === "review" || name === "item";
    el.text.hidden = !working;
    if (el.under) el.under.hidden = name !== "review";
    for (const b of document.querySelectorAll("#actions .btn-action")) {
      if (b.id !== "help-btn") b.disabled = !working;
    }
    if (!working) {
      el.meta.hidden = true;
      el.flags.hidden = true;
      el.prediction.hidden = true;
      el.itemId.textContent = "";
      el.others.replaceChildren();
      el.history.replaceChildren();
      if (el.currentLabel) el.currentLabel.hidden = true;
      delete app.dataset.annotationId;
      delete app.dataset.itemId;
    }
  }

  function setPending(kind) {
    state.pending = kind;
    app.dataset.pending = kind || "";
    if (el.fixPanel) el.fixPanel.hidden = kind !== "fix";
    app.classList.toggle("is-rejecting", kind === "reject");
  }

  // ---------------------------------------------------------------- rendering

  function text(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function labelOf(value) {
    if (!value || !target) return "";
    const v = value[target.name];
    return Array.isArray(v) ? v.join(", ") || "(none)" : text(v);
  }

  function seconds(ms) {
    return typeof ms === "number" ? (ms / 1000).toFixed(1) + " s" : "–";
  }

  function node(tag, className, content) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (content !== undefined) n.textContent = content;
    return n;
  }

  function renderItem(view) {
    const item = view.item || {};
    el.itemId.textContent = item.external_id ? String(item.external_id) : "#" + item.id;
    const data = item.data || {};
    // Table rows, HTML and audio are drawn by the labeling page's renderers (fields.js).
    const render = (window.labelloop.renderers || {})[(schema.data && schema.data.type) || "text"];
    el.text.className = "item-text";
    el.text.replaceChildren();
    const plain = () => {
      el.text.textContent = text(data[dataField] !== undefined ? data[dataField] : data.text);
    };
    if (render) {
      const mediaUrl = (it) => base + "/items/" + encodeURIComponent(it.id) + "/media";
      try {
        render(item, el.text, { base, schema, settings: schema.settings || {}, mediaUrl });
      } catch (err) {
        console.error(err);
        plain();
      }
    } else {
      plain();
    }
    el.text.scrollTop = 0;
    el.meta.replaceChildren();
    const entries = Object.entries(item.metadata || {}).slice(0, 12);
    for (const [key, raw] of entries) {
      const row = document.createElement("div");
      const value = text(raw);
      row.append(node("dt", "", key), node("dd", "", value.length > 160 ? value.slice(0, 157) + "…" : value));
      el.meta.append(row);
    }
    el.meta.hidden = entries.length === 0;

    const p = view.prediction;
    if (p && p.label !== null && p.label !== undefined) {
      const strong = node("strong", "", String(p.label));
      const conf = typeof p.confidence === "number" ? ` (${p.confidence.toFixed(2)})` : "";
      const version = p.model_version ? `, model v${p.model_version}` : "";
      el.prediction.replaceChildren(document.createTextNode("Model predicts "), strong, document.createTextNode(conf + version));
      el.prediction.hidden = false;
    } else {
      el.prediction.hidden = true;
    }

    el.flags.replaceChildren();
    for (const f of view.flags || []) {
      const li = node("li", "flag flag-" + f.kind + (f.open ? "" : " flag-closed"));
      li.dataset.kind = f.kind;
      li.append(node("span", "flag-kind", f.kind.replace(/_/g, " ")));
      const who = f.user ? f.user + ": " : "";
      li.append(node("span", "flag-note", who + (f.note || "")));
      el.flags.append(li);
    }
    el.flags.hidden = !(view.flags || []).length;

    el.others.replaceChildren();
    for (const a of view.annotations || []) {
      const li = node("li", "ann ann-" + a.status);
      li.dataset.annotationId = String(a.id);
      const head = node("div", "ann-head");
      head.append(node("strong", "ann-user", a.user));
      head.append(node("span", "badge badge-muted ann-status", a.status.replace(/_/g, " ")));
      if (a.rework) head.append(node("span", "badge badge-muted", "rework"));
      const body = node("div", "ann-body");
      const chosen = node("button", "ann-label", labelOf(a.value));
      chosen.type = "button";
      chosen.title = "Use this label";
      chosen.addEventListener("click", () => useValue(a.corrected_value || a.value));
      body.append(chosen);
      if (a.corrected_value) {
        body.append(node("span", "ann-fixed", "fixed to " + labelOf(a.corrected_value)));
      }
      body.append(node("span", "muted small", " · " + seconds(a.active_ms)));
      li.append(head, body);
      if (state.view && state.view.annotation && state.view.annotation.id === a.id) {
        li.classList.add("is-current");
      }
      el.others.append(li);
    }

    el.history.replaceChildren();
    const events = [];
    for (const r of view.reviews || []) {
      const who = (view.annotations || []).find((a) => a.id === r.annotation_id);
      const what = `${r.reviewer} ${r.verdict}${r.verdict.endsWith("e") ? "d" : "ed"} ${who ? who.user + "'s" : "an"} answer` +
        (r.tier === 2 ? " (expert tier)" : "") +
        (r.corrected_value ? " → " + labelOf(r.corrected_value) : "");
      events.push({ at: r.created_at, what, comment: r.comment });
    }
    for (const h of view.history || []) {
      if (h.action.startsWith("review.")) continue; // shown above with its comment
      events.push({ at: h.at, what: describe(h), comment: h.payload && h.payload.comment });
    }
    events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    for (const e of events) {
      const li = node("li", "history-item");
      const time = node("time", "muted small", (e.at || "").slice(5, 16).replace("T", " "));
      time.dateTime = e.at || "";
      li.append(time, document.createTextNode(" "), node("span", "", e.what));
      if (e.comment) li.append(node("q", "history-comment", e.comment));
      el.history.append(li);
    }
    if (!events.length) el.history.append(node("li", "muted small", "No history yet."));
  }

  const ACTIONS = {
    "annotation.submit": "labeled it",
    "annotation.edit": "changed their label to",
    "item.adjudicate": "decided",
    "gold.set": "made it a gold item:",
    "gold.remove": "stopped using it as gold",
    "quality.scan": "scanned",
  };

  // One audit event as a short sentence (values shown as their target label).
  function describe(h) {
    const actor = h.actor || "the operator";
    const p = h.payload || {};
    if (h.action === "flag.raise") return "flagged: " + (p.kinds || []).join(", ").replace(/_/g, " ");
    const what = ACTIONS[h.action] || h.action;
    const value = p.new || p.value;
    return `${actor} ${what}` + (value ? " " + labelOf(value) : "");
  }

  function renderUnderReview(view) {
    const a = view.annotation;
    el.reviewLabel.textContent = labelOf(a.value);
    el.reviewAnnotator.textContent = a.user;
    const parts = [seconds(a.active_ms) + " active"];
    if (a.guideline_version) parts.push("guideline v" + a.guideline_version);
    if (a.suggestion) parts.push(`model suggested ${a.suggestion.label}`);
    el.reviewMeta.textContent = " · " + parts.join(" · ");
    el.reviewRework.hidden = !a.rework;
  }

  // ---------------------------------------------------------------- label buttons (fix / decide)

  const hotkeys = new Map();

  function buildControls() {
    el.controls.replaceChildren();
    hotkeys.clear();
    let k = 0;
    for (const c of controls) {
      const fieldset = node("fieldset", "control");
      const legend = node("legend");
      legend.append(node("span", "control-name", c.name), node("span", "control-hint", c.type === "multi_choice" ? "choose any" : "choose one"));
      const grid = node("div", "label-buttons");
      for (const label of c.labels) {
        const key = c === target || controls.length === 1 ? DIGITS[k++] : undefined;
        const button = node("button", "label-btn");
        button.type = "button";
        button.dataset.control = c.name;
        button.dataset.label = label;
        button.setAttribute("aria-pressed", "false");
        if (key) {
          button.append(node("kbd", "hotkey", key));
          button.setAttribute("aria-keyshortcuts", key);
          hotkeys.set(key, { control: c, label });
          if (el.labelKeys) {
            const tr = node("tr");
            const th = node("th");
            th.scope = "row";
            th.append(node("kbd", "", key));
            tr.append(th, node("td", "", label));
            el.labelKeys.append(tr);
          }
        }
        button.append(node("span", "label-name", label));
        button.addEventListener("click", () => choose(c, label));
        grid.append(button);
      }
      fieldset.append(legend, grid);
      el.controls.append(fieldset);
    }
  }

  function choose(control, label) {
    if (control.type === "multi_choice") {
      const now = Array.isArray(state.values[control.name]) ? state.values[control.name] : [];
      state.values[control.name] = now.includes(label) ? now.filter((l) => l !== label) : [...now, label];
    } else {
      state.values[control.name] = label;
    }
    renderPressed();
  }

  function useValue(value) {
    state.values = JSON.parse(JSON.stringify(value || {}));
    if (mode === "review") setPending("fix");
    renderPressed();
  }

  function renderPressed() {
    for (const b of el.controls.querySelectorAll("button.label-btn")) {
      const v = state.values[b.dataset.control];
      const on = Array.isArray(v) ? v.includes(b.dataset.label) : v === b.dataset.label;
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  function valueToSend() {
    const out = {};
    for (const c of controls) {
      const v = state.values[c.name];
      if (v === undefined || v === null || (Array.isArray(v) && !v.length && c !== target)) continue;
      out[c.name] = v;
    }
    return out;
  }

  // ---------------------------------------------------------------- loading

  function stopEmptyPoll() {
    if (state.emptyTimer) clearTimeout(state.emptyTimer);
    state.emptyTimer = null;
  }

  function showEmpty() {
    state.view = null;
    setState("empty");
    stopEmptyPoll();
    state.emptyTimer = setTimeout(() => {
      state.skip = []; // items passed over come back once the queue is otherwise empty
      load();
    }, EMPTY_POLL_MS);
  }

  function queryOf(skip) {
    return skip.length ? "?" + skip.slice(-200).map((id) => "skip=" + encodeURIComponent(id)).join("&") : "";
  }

  async function load() {
    stopEmptyPoll();
    setState("loading");
    setPending(null);
    el.comment.value = "";
    if (document.activeElement === el.comment) el.comment.blur(); // the shortcuts work again
    try {
      let view;
      if (mode === "review") {
        view = (await api("GET", "/reviews/next" + queryOf(state.skip))).review;
      } else if (app.dataset.item) {
        view = await api("GET", `/items/${encodeURIComponent(app.dataset.item)}/review`);
        delete app.dataset.item; // after this one, the queue
      } else {
        view = (await api("GET", "/adjudications/next" + queryOf(state.skip))).item;
      }
      refreshCounts();
      if (!view) return showEmpty();
      state.view = view;
      renderItem(view);
      if (mode === "review") {
        setState("review");
        app.dataset.annotationId = String(view.annotation.id);
        renderUnderReview(view);
        state.values = JSON.parse(JSON.stringify(view.annotation.value || {}));
      } else {
        setState("item");
        const current = view.label ? view.label.value : majority(view);
        state.values = JSON.parse(JSON.stringify(current || {}));
        if (view.label) {
          el.currentLabel.textContent = `Current label: ${labelOf(view.label.value)} (${view.label.resolution}${view.label.decided_by ? " by " + view.label.decided_by : ""})`;
          el.currentLabel.hidden = false;
        } else {
          el.currentLabel.hidden = true;
        }
      }
      app.dataset.itemId = String(view.item.id);
      renderPressed();
    } catch (err) {
      report(err);
      setState("empty");
    }
  }

  function majority(view) {
    const counts = new Map();
    let best = null;
    for (const a of view.annotations || []) {
      if (a.status === "rejected") continue;
      const v = a.corrected_value || a.value;
      const key = JSON.stringify(v[target.name]);
      counts.set(key, (counts.get(key) || 0) + 1);
      if (!best || counts.get(key) > counts.get(JSON.stringify(best[target.name]))) best = v;
    }
    return best;
  }

  async function refreshCounts() {
    try {
      const s = await api("GET", "/reviews/summary");
      el.waiting.textContent = String(mode === "review" ? s.in_review : s.escalated_items);
      if (el.escalated) el.escalated.textContent = String(s.escalated_items);
    } catch (_err) {
      /* the counts are informative */
    }
  }

  // ---------------------------------------------------------------- actions

  async function act(run, done) {
    if (state.busy || !state.view) return;
    state.busy = true;
    try {
      await run();
      if (done) showMessage(done, "info", 2500);
      await load();
    } catch (err) {
      report(err);
      if (err instanceof ApiError && (err.status === 409 || err.status === 404)) await load();
    } finally {
      state.busy = false;
    }
  }

  function verdict(kind, extra = {}) {
    const id = state.view.annotation.id;
    const comment = el.comment.value.trim();
    return act(
      () => api("POST", `/reviews/${id}`, { verdict: kind, comment: comment || null, ...extra }),
      { accept: "Accepted.", reject: "Sent back to its annotator.", fix: "Fixed.", escalate: "Escalated." }[kind],
    );
  }

  function accept() {
    verdict("accept");
  }

  function startReject() {
    setPending("reject");
    el.comment.focus();
  }

  function sendReject() {
    if (!el.comment.value.trim()) {
      showMessage("Write a comment first: it tells the annotator what to change.", "warn", 4000);
      el.comment.focus();
      return;
    }
    verdict("reject");
  }

  function startFix() {
    setPending("fix");
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
  }

  function sendFix() {
    verdict("fix", { value: valueToSend() });
  }

  function escalate() {
    verdict("escalate");
  }

  function decide() {
    const id = state.view.item.id;
    const comment = el.comment.value.trim();
    act(
      () => api("POST", `/items/${id}/adjudicate`, { value: valueToSend(), comment: comment || null }),
      "Decided.",
    );
  }

  function next() {
    if (!state.view || state.busy) return;
    state.skip.push(mode === "review" ? state.view.annotation.id : state.view.item.id);
    load();
  }

  function toggleHelp(open) {
    const show = open === undefined ? el.sheet.hidden : open;
    el.sheet.hidden = !show;
    el.help.setAttribute("aria-expanded", show ? "true" : "false");
  }

  // ---------------------------------------------------------------- keyboard

  el.comment.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      if (state.pending === "reject") setPending(null);
      el.comment.blur();
    } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (state.pending === "reject") sendReject();
      else if (state.pending === "fix") sendFix();
      else if (mode === "adjudicate") decide();
      else el.comment.blur();
    }
  });

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const t = e.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.isContentEditable)) return;
    const onButton = t instanceof Element && t.closest("a, button, summary") && !t.classList.contains("label-btn");
    const key = e.key;
    if (key === "?") {
      e.preventDefault();
      toggleHelp();
      return;
    }
    if (key === "Escape") {
      e.preventDefault();
      if (!el.sheet.hidden) toggleHelp(false);
      else if (state.pending) {
        setPending(null);
        if (state.view && mode === "review") state.values = JSON.parse(JSON.stringify(state.view.annotation.value));
        renderPressed();
      }
      return;
    }
    const working = app.dataset.state === "review" || app.dataset.state === "item";
    if (!working || e.repeat) return;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    if (lower === "n") {
      e.preventDefault();
      next();
    } else if (lower === "c") {
      e.preventDefault();
      el.comment.focus();
    } else if (hotkeys.has(key)) {
      e.preventDefault();
      if (mode === "review" && state.pending !== "fix") setPending("fix"); // a number starts a fix
      const hit = hotkeys.get(key);
      choose(hit.control, hit.label);
    } else if (key === "Enter") {
      if (onButton) return;
      e.preventDefault();
      if (mode === "adjudicate") decide();
      else if (state.pending === "fix") sendFix();
      else if (state.pending === "reject") sendReject();
    } else if (mode === "review") {
      if (lower === "a") {
        e.preventDefault();
        accept();
      } else if (lower === "r") {
        e.preventDefault();
        startReject();
      } else if (lower === "f") {
        e.preventDefault();
        startFix();
      } else if (lower === "e") {
        e.preventDefault();
        escalate();
      }
    }
  });

  const on = (id, fn) => {
    const b = $(id);
    if (b) b.addEventListener("click", fn);
  };
  on("accept-btn", accept);
  on("reject-btn", () => (state.pending === "reject" ? sendReject() : startReject()));
  on("fix-btn", () => (state.pending === "fix" ? sendFix() : startFix()));
  on("escalate-btn", escalate);
  on("decide-btn", decide);
  on("next-btn", next);
  el.help.addEventListener("click", () => toggleHelp());
  el.sheetClose.addEventListener("click", () => toggleHelp(false));

  if (!target) {
    showMessage("This project has no choice control.", "error");
    return;
  }
  buildControls();
  setPending(null);
  load();
})();
