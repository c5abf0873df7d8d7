// The review queue and the adjudication page: keyboard-first, everything through the JSON API.
// Item text, metadata, comments and usernames are untrusted: they reach the DOM via textContent.
//
// Every control type is shown and edited with the labeling page's own widgets
// (window.labelloop.widgets: spans, boxes, rating, text); choice and multi_choice are built in
// here. Under review the widgets only show the annotation (spans on the text, boxes on the
// image); a fix (F, or a label key) makes them editable with the labeling page's keys.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const app = $("review-app");
  const mode = app.dataset.mode; // review | adjudicate
  const project = JSON.parse($("project-data").textContent);
  const L = window.labelloop;
  L.renderers = L.renderers || {};
  L.widgets = L.widgets || {};
  const base = "/api/projects/" + encodeURIComponent(project.slug);
  const schema = project.schema || {};
  const settings = project.settings || schema.settings || {};
  const dataType = (schema.data && schema.data.type) || "text";
  const dataField = (schema.data && schema.data.field) || "text";
  // Between the parts of a line: the no-break space keeps the dot with the text before it.
  const SEP = "\u00a0· ";
  const { isChoice, targetOf } = L.controls;
  // shared with the Items page (api.js)
  const { actionText, changedText, underText, shownLabel, sureText, modelSaysText } = L;
  const allControls = schema.controls || [];
  const controls = allControls.filter(isChoice); // the page's own (choice) controls
  const target = targetOf(allControls);
  const EMPTY_POLL_MS = 3000;
  const LEASE_CHECK_MS = 5000; // how often the page looks whether its lease needs renewing
  const LEASE_MS = (settings.lease_minutes || 10) * 60000;
  const COUNTS_MS = 15000; // how often the counts above the item (and the schema) are read again
  const PAGE_KEYS = new Set(["a", "r", "f", "e", "n", "c"]); // the page's letter keys

  const el = {
    card: $("item-card"),
    itemId: $("item-id"),
    text: $("item-text"),
    meta: $("item-meta"),
    prediction: $("prediction"),
    flags: $("flag-list"),
    empty: $("empty-state"),
    emptyOwn: $("empty-own"),
    under: $("under-review"),
    reviewLabel: $("review-label"),
    reviewValues: $("review-values"),
    reviewAnnotator: $("review-annotator"),
    reviewMeta: $("review-meta"),
    reviewWhy: $("review-why"),
    reviewRework: $("review-rework"),
    reviewDisagrees: $("review-disagrees"),
    guideline: $("guideline"),
    guidelineVersion: $("guideline-version-label"),
    guidelineText: $("guideline-text"),
    currentLabel: $("current-label"),
    fixPanel: $("fix-panel"),
    controls: $("controls"),
    comment: $("review-comment"),
    others: $("others"),
    history: $("history"),
    waiting: $("waiting-count"),
    waitingNoun: $("waiting-noun"),
    held: $("held-count"),
    escalated: $("escalated-count"),
    escalatedNoun: $("escalated-noun"),
    messages: $("messages"),
    schemaNews: $("schema-news"),
    sheet: $("shortcuts"),
    help: $("help-btn"),
    sheetClose: $("shortcuts-close"),
    controlKeys: $("control-keys"),
    pinButton: $("pin-btn"), // managers only, on the review page
    pinBox: $("pin-box"),
    pinAnswer: $("pin-answer"),
    pinNote: $("pin-note"),
    pinSave: $("pin-save"),
    pinStatus: $("pin-status"),
  };
  if (el.pinButton) PAGE_KEYS.add("p");

  // ---------------------------------------------------------------- API and messages

  const { ApiError } = L;

  function api(method, path, body) {
    return L.api(method, base + path, body, { loginOn401: true });
  }

  function showMessage(text, kind = "error", timeout = 0) {
    L.notify(el.messages, text, kind, timeout);
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
    values: {}, // control name -> label or [labels] (the choice controls of a fix or decision)
    chosenHere: new Set(), // the labels (of a control) the reviewer pressed on this answer
    pending: null, // null | "reject" | "fix"
    fixFrom: null, // while fixing: the answer the fix started from, as valueToSend() gave it
    skip: [], // annotation ids (review) or item ids (adjudicate) passed over with N
    skipItems: [], // items of imported labels (review) passed over with N
    busy: false,
    emptyTimer: null,
  };

  /** Whether the controls take edits now: while fixing, and always when adjudicating. */
  function editing() {
    const working = app.dataset.state === "review" || app.dataset.state === "item";
    return working && (mode === "adjudicate" || state.pending === "fix");
  }

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
    enableControls();
  }

  function setPending(kind) {
    state.pending = kind;
    app.dataset.pending = kind || "";
    if (el.fixPanel) el.fixPanel.hidden = kind !== "fix";
    app.classList.toggle("is-rejecting", kind === "reject");
    enableControls();
  }

  function enableControls() {
    const on = editing();
    for (const b of el.controls.querySelectorAll("button.label-btn")) b.disabled = !on;
    for (const widget of widgets.values()) {
      try {
        widget.disable(!on);
      } catch (err) {
        console.error(err);
      }
    }
  }

  // ---------------------------------------------------------------- values as words

  function text(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function itemText(item) {
    const data = (item && item.data) || {};
    const value = data[dataField] !== undefined ? data[dataField] : data.text;
    return text(value);
  }

  /** One control's value as a short readable phrase. */
  function readable(control, v, item) {
    if (v === undefined || v === null) return "–";
    switch (control.type) {
      case "multi_choice":
        return Array.isArray(v) ? L.valueText(v, undefined, control.type) : text(v);
      case "rating":
        return `${v} / ${control.max || (control.labels || []).length || 5}`;
      case "text": {
        const s = String(v);
        return "“" + (s.length > 120 ? s.slice(0, 119) + "…" : s) + "”";
      }
      case "spans":
        if (!Array.isArray(v)) return text(v);
        if (!v.length) return L.valueText(v, undefined, control.type); // "no spans"
        return L.spansText(v, itemText(item));
      case "boxes": {
        if (!Array.isArray(v)) return text(v);
        if (!v.length) return L.valueText(v, undefined, control.type); // "no boxes"
        const counts = new Map();
        for (const b of v) counts.set(b.label, (counts.get(b.label) || 0) + 1);
        const n = v.length;
        const parts = [...counts].map(([label, k]) => (k > 1 ? `${k} × ${label}` : label));
        return `${n} box${n === 1 ? "" : "es"}: ${parts.join(", ")}`;
      }
      default:
        return text(v);
    }
  }

  /** The short form of a value: the target's answer (a count for spans and boxes; none of
   * them: "no spans", "no boxes"). */
  function labelOf(value) {
    if (!value || !target) return "";
    const v = value[target.name];
    if (Array.isArray(v) && v.length && (target.type === "spans" || target.type === "boxes")) {
      const what = target.type === "spans" ? "span" : "box";
      return `${v.length} ${what}${v.length === 1 ? "" : what === "box" ? "es" : "s"}`;
    }
    return readable(target, v, currentItem());
  }

  /** Every answered control of a value as "name: phrase" lines. */
  function valueLines(value, item) {
    const out = [];
    for (const c of allControls) {
      if (!value || value[c.name] === undefined || value[c.name] === null) continue;
      out.push({ control: c, phrase: readable(c, value[c.name], item) });
    }
    return out;
  }

  function fullText(value, item) {
    const lines = valueLines(value, item);
    if (lines.length === 1 && lines[0].control === target) return lines[0].phrase;
    return lines.map((l) => `${l.control.name}: ${l.phrase}`).join(" · ");
  }

  function currentItem() {
    return (state.view && state.view.item) || {};
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

  // ---------------------------------------------------------------- rendering

  const ctx = {
    base,
    schema,
    settings,
    text: itemText,
    /** The item's media file (images, audio), served only from the media roots. */
    mediaUrl: (item) => base + "/items/" + encodeURIComponent(item.id) + "/media",
    keyTakenElsewhere(key, control) {
      return allControls.some((c) => c !== control && (c.hotkeys || []).includes(key));
    },
  };

  if (!L.renderers.text) {
    L.renderers.text = (item, container, c) => {
      container.textContent = c.text(item);
    };
  }

  function renderItem(view) {
    const item = view.item || {};
    el.itemId.textContent = item.external_id ? String(item.external_id) : "#" + item.id;
    // Table rows, HTML, audio and images are drawn by the labeling page's renderers.
    const render = L.renderers[dataType] || L.renderers.text;
    el.text.className = "item-text";
    el.text.dataset.type = dataType;
    el.text.replaceChildren();
    try {
      render(item, el.text, ctx);
    } catch (err) {
      console.error(err);
      el.text.textContent = itemText(item);
    }
    el.text.scrollTop = 0;
    el.meta.replaceChildren();
    const entries = Object.entries(item.metadata || {}).slice(0, 12);
    for (const [key, raw] of entries) {
      const row = document.createElement("div");
      const value = text(raw);
      const shown = value.length > 160 ? value.slice(0, 157) + "…" : value;
      row.append(node("dt", "", key), node("dd", "", shown));
      el.meta.append(row);
    }
    el.meta.hidden = entries.length === 0;

    const p = view.prediction;
    const predicted = p ? shownLabel(p.label) : null;
    if (predicted !== null) {
      const strong = node("strong", "", predicted);
      const conf = sureText(p.confidence);
      const version = p.model_version ? `, model v${p.model_version}` : "";
      el.prediction.replaceChildren(
        document.createTextNode("Model predicts "),
        strong,
        document.createTextNode(conf + version),
      );
      el.prediction.hidden = false;
    } else {
      el.prediction.hidden = true;
    }

    renderFlags(view.flags);

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
      chosen.title = mode === "review" ? "Fix starting from this answer" : "Use this answer";
      chosen.addEventListener("click", () => useValue(a.corrected_value || a.value));
      body.append(chosen);
      if (a.corrected_value) {
        body.append(node("span", "ann-fixed", "fixed to " + labelOf(a.corrected_value)));
      }
      body.append(node("span", "muted small", SEP + seconds(a.active_ms)));
      const detail = fullText(a.corrected_value || a.value, item);
      if (detail && detail !== labelOf(a.corrected_value || a.value)) {
        body.append(node("p", "ann-detail muted small", detail));
      }
      li.append(head, body);
      if (view.annotation && view.annotation.id === a.id) li.classList.add("is-current");
      el.others.append(li);
    }

    renderHistory(view);
  }

  /** The item's reviews and audit events, oldest first, as short sentences. */
  function renderHistory(view) {
    const item = view.item || {};
    el.history.replaceChildren();
    const events = [];
    for (const r of view.reviews || []) {
      const who = (view.annotations || []).find((a) => a.id === r.annotation_id);
      const past = r.verdict.endsWith("e") ? "d" : "ed";
      const what =
        `${r.reviewer} ${r.verdict}${past} ${who ? who.user + "'s" : "an"} answer` +
        (r.tier === 2 ? " (expert tier)" : "") +
        (r.corrected_value ? " → " + fullText(r.corrected_value, item) : "");
      events.push({ at: r.created_at, what, comment: r.comment });
    }
    for (const h of view.history || []) {
      if (h.action.startsWith("review.")) continue; // shown above with its comment
      const p = h.payload || {};
      const comment = h.action === "guideline.example.pin" ? p.note : p.comment; // why it was pinned
      events.push({ at: h.at, what: describe(h, item), comment });
    }
    events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    for (const e of events) {
      const li = node("li", "history-item");
      const time = node("time", "muted small", (e.at || "").slice(5, 16).replace("T", " ") + " UTC");
      time.dateTime = e.at || "";
      li.append(time, document.createTextNode(" "), node("span", "", e.what));
      if (e.comment) li.append(node("q", "history-comment", e.comment));
      el.history.append(li);
    }
    if (!events.length) el.history.append(node("li", "muted small", "No history yet."));
  }

  function renderFlags(flags) {
    el.flags.replaceChildren();
    for (const f of flags || []) {
      const li = node("li", "flag flag-" + f.kind + (f.open ? "" : " flag-closed"));
      li.dataset.kind = f.kind;
      li.append(node("span", "flag-kind", f.kind.replace(/_/g, " ")));
      const who = f.user ? f.user + ": " : "";
      const said = modelSaysText(f.suggestion, f.confidence);
      if (said === null) {
        li.append(node("span", "flag-note", who + (f.note || "")));
      } else {
        // The label the model suggests, from the flag's data; the note stays on hover.
        li.append(node("span", "flag-note flag-suggestion", who + said));
        li.title = f.note || "";
      }
      if (f.resolved_note) li.append(node("span", "flag-note", "— " + f.resolved_note));
      el.flags.append(li);
    }
    el.flags.hidden = !(flags || []).length;
  }

  // One audit event as a short sentence.
  function describe(h, item) {
    const actor = h.actor || "the operator";
    const p = h.payload || {};
    const what = actionText(h);
    if (h.action === "flag.raise") return what;
    const value = p.new || p.value;
    const set = value && typeof value === "object" ? " " + fullText(value, item) : "";
    return `${actor} ${what}${set}${underText(p)}`;
  }

  /** What is under review: an annotator's answer, or an imported label the model doubts (it has
   *  a value, and no annotator to send it back to). */
  function underReview() {
    const view = state.view;
    return view.annotation || view.imported_label;
  }

  /** An imported label the model contradicts, served once no answer waits: the label, where it
   *  came from and the model's doubt; the reviewer keeps it (A) or fixes it (F). */
  function renderImported(view) {
    const l = view.imported_label;
    el.reviewLabel.textContent = labelOf(l.value);
    if (el.reviewValues) el.reviewValues.replaceChildren();
    el.reviewAnnotator.textContent = l.filename ? `an import of ${l.filename}` : "an import";
    // The label the model says instead, from the flag's data; the note that raised it on hover.
    const said = modelSaysText(l.suggestion, l.confidence);
    const doubt = said || l.note;
    el.reviewMeta.textContent = SEP + "imported label" + (doubt ? SEP + doubt : "");
    el.reviewMeta.title = said ? l.note || "" : "";
    el.reviewWhy.hidden = true;
    el.reviewRework.hidden = true;
    el.reviewDisagrees.textContent =
      "The model contradicts this imported label. Keep it with accept (A), or fix it (F): the " +
      "fix is your answer. It has no annotator to send it back to or escalate from.";
    el.reviewDisagrees.hidden = false;
    showGuideline(view.guideline_version, view.guideline_version);
  }

  function renderUnderReview(view) {
    const a = view.annotation;
    el.reviewLabel.textContent = labelOf(a.value);
    if (el.reviewValues) {
      el.reviewValues.replaceChildren();
      for (const line of valueLines(a.value, view.item)) {
        const li = node("li", "review-value");
        li.dataset.control = line.control.name;
        li.append(node("span", "review-value-name", line.control.name + ": "));
        li.append(node("span", "review-value-text", line.phrase));
        el.reviewValues.append(li);
      }
    }
    el.reviewAnnotator.textContent = a.user;
    const parts = [seconds(a.active_ms) + " active"];
    if (a.changed_at) parts.push(changedText(a)); // the value shown is the change's
    if (a.guideline_version) parts.push(guidelineText(a.guideline_version, view.guideline_version));
    // The label the model suggested, and the spans, boxes or values pre-filled with it.
    if (a.suggestion) parts.push(a.suggestion.sentence);
    // One run of text with "by NAME": a line wraps after a separator, never before one.
    el.reviewMeta.textContent = parts.map((part) => SEP + part).join("");
    el.reviewMeta.title = "";
    const why = pickedText(a.selection);
    el.reviewWhy.textContent = why;
    el.reviewWhy.hidden = !why;
    el.reviewRework.hidden = !a.rework;
    const others = disagreeing(view);
    el.reviewDisagrees.textContent = others.length
      ? `It disagrees with ${others.join(", ")}: ` +
        (app.dataset.resolution === "adjudication"
          ? "the expert tier decides the label."
          : "accepting both leaves the label to the majority (two tied: the earlier one).") +
        " Fix (F) or reject (R) this one if it is wrong, or escalate (E) for the expert tier."
      : "";
    el.reviewDisagrees.hidden = !others.length;
    showGuideline(a.guideline_version || view.guideline_version, view.guideline_version);
  }

  const guidelines = new Map(); // version -> its text as safe HTML, read once
  let guidelineShown = 0;

  /** The guideline the answer under review was made under, in the side panel: the reviewer
   * judges it by the rules its annotator was shown, an older version than the newest maybe.
   * The expert tier decides by the newest. */
  async function showGuideline(made, now) {
    if (!el.guideline || !made) return;
    el.guidelineVersion.textContent = guidelineText(made, now).replace("guideline ", "");
    if (made === guidelineShown) return;
    guidelineShown = made;
    try {
      if (!guidelines.has(made)) {
        // not the last version's text under this version's name while this one is read
        el.guidelineText.innerHTML = `<p class="muted">Reading guideline v${Number(made)}…</p>`;
        const found = await api("GET", "/guidelines/" + encodeURIComponent(made));
        guidelines.set(made, found.html || '<p class="muted">This project has no guideline yet.</p>');
      }
    } catch (err) {
      guidelineShown = 0; // read again with the next answer shown
      report(err);
      return;
    }
    if (guidelineShown === made) el.guidelineText.innerHTML = guidelines.get(made);
  }

  /** The item's other answers whose target differs from the one under review, as "ann's
   * barolo (accepted)": under overlap each answer is reviewed on its own, and one judged alone
   * may be accepted beside another it contradicts. Spans and boxes are compared region by region
   * by the quality report, not here. */
  function disagreeing(view) {
    const a = view.annotation;
    if (!target || target.type === "spans" || target.type === "boxes") return [];
    const key = (value) => {
      const v = value ? value[target.name] : null;
      return JSON.stringify(Array.isArray(v) ? [...v].sort() : v === undefined ? null : v);
    };
    const mine = key(a.value);
    return (view.annotations || [])
      .filter((o) => o.id !== a.id && o.status !== "rejected")
      .filter((o) => key(o.corrected_value || o.value) !== mine)
      .map((o) => {
        const said = labelOf(o.corrected_value || o.value) || "no answer";
        return `${o.user}'s ${said} (${o.status.replace(/_/g, " ")})`;
      });
  }

  /** The guideline an answer was made under, and the one now when it changed since: an answer
   * made under v1 is judged by the rules of v1, not those published after it. */
  function guidelineText(made, now) {
    return `guideline v${made}` + (now && now > made ? ` (v${now} now)` : "");
  }

  /** Why the item was served to its annotator: "why picked: auto: model unsure between …". */
  function pickedText(selection) {
    if (!selection) return "";
    if (selection.strategy === "import") return `from an import: ${selection.reason}`;
    const said = [selection.strategy, selection.reason].filter(Boolean).join(": ");
    return said ? `why picked: ${said}` : "";
  }

  // ---------------------------------------------------------------- controls (fix / decide)

  const hotkeys = new Map(); // key -> {control, label}: the choice controls' label keys
  const widgets = new Map(); // control name -> widget, for every other control type

  function buildControls() {
    el.controls.replaceChildren();
    hotkeys.clear();
    widgets.clear();
    for (const c of allControls) {
      if (isChoice(c)) buildChoice(c);
      else buildWidget(c);
    }
  }

  function buildChoice(c) {
    el.controls.append(L.controls.choiceFieldset(c, { hotkeys, onChoose: choose }));
  }

  function buildWidget(c) {
    const missing = `This page cannot show "${c.type}" controls yet.`;
    const { fieldset, widget } = L.controls.widgetFieldset(c, ctx, missing);
    if (widget) widgets.set(c.name, widget);
    el.controls.append(fieldset);
  }

  /** The shortcut sheet's rows for the controls: choice keys and every widget's own. */
  function buildHelp() {
    if (!el.controlKeys) return;
    el.controlKeys.replaceChildren();
    const addRow = (tbody, keys, what, note) => {
      const tr = node("tr");
      const th = node("th");
      th.scope = "row";
      for (const k of keys) th.append(node("kbd", "", k), " ");
      const td = node("td", "", what);
      if (note) td.append(node("span", "muted small", " — " + note));
      tr.append(th, td);
      tbody.append(tr);
    };
    for (const c of allControls) {
      const h = node("h3");
      const table = node("table", "keys");
      const tbody = node("tbody");
      if (isChoice(c)) {
        h.textContent = L.controls.choiceHeading(c);
        c.labels.forEach((label, i) => {
          const key = L.controls.ownKey(c, i, hotkeys); // an earlier control may have the key
          addRow(tbody, key ? [key] : ["—"], label);
        });
      } else {
        h.textContent = `${c.name} (${c.type})`;
        const widget = widgets.get(c.name);
        let rows = [];
        try {
          rows = widget ? widget.shortcuts() || [] : [];
        } catch (err) {
          console.error(err);
        }
        for (const row of rows) {
          if ((row.keys || []).includes("Enter")) continue; // Enter is the page's: save / decide
          // The page's own letters (N: next) stay the page's unless they are label keys.
          const keys = (row.keys || ["—"]).filter(
            (k) => !PAGE_KEYS.has(k.toLowerCase()) || declared(k),
          );
          if (keys.length) addRow(tbody, keys, row.what || "", row.note);
        }
        if (!rows.length) addRow(tbody, ["—"], widget ? "Use the mouse" : "Not available here");
      }
      table.append(tbody);
      el.controlKeys.append(h, table);
    }
  }

  // A manager added a label while the page was open: each answer or item served, like the
  // counts the page reads while it is visible, names the project's schema version; a newer one
  // is read (the project's detail) and its labels drawn with their keys, with a short notice
  // naming them. Choice buttons are drawn again at once, a fix in progress kept; a widget's
  // (spans, boxes) waits for the next answer while the answer on screen is being changed.
  const schemaSeen = L.controls.schemaWatch({
    version: project.schema_version,
    list: allControls,
    read: () => api("GET", ""),
    busy: editing,
    use: useSchema,
  });

  function useSchema(found) {
    const added = L.controls.takeLabels(allControls, found);
    if (added.some(({ control }) => !isChoice(control))) {
      buildControls();
      showValue(state.values); // the answer on screen, in the widgets drawn again
    } else {
      hotkeys.clear(); // registered again in the controls' order, as buildControls does
      for (const c of allControls.filter(isChoice)) {
        const old = [...el.controls.children].find((f) => f.dataset.control === c.name);
        if (old) old.replaceWith(L.controls.choiceFieldset(c, { hotkeys, onChoose: choose }));
      }
      renderPressed(); // what the fix in progress has chosen
    }
    enableControls();
    buildHelp();
    L.controls.announceLabels(el.schemaNews, allControls, added, hotkeys);
  }

  /** Draw a newer schema `version` before an answer or item is shown. */
  async function catchUpSchema(version) {
    await schemaSeen.notice(version);
    schemaSeen.useWaiting();
  }

  function choose(control, label, clicked = false) {
    if (!editing()) return;
    L.controls.press(state.values, state.chosenHere, control, label, clicked);
    renderPressed();
  }

  /** Put `value` (control name -> value) into every control: choice buttons and widgets. */
  function showValue(value) {
    state.values = JSON.parse(JSON.stringify(value || {}));
    state.chosenHere = new Set();
    renderPressed();
    if (!state.view) return;
    const item = state.view.item || {};
    const on = editing();
    for (const [name, widget] of widgets) {
      try {
        // Enabled before it draws, so what it draws (a span's ×, a box's handles) works.
        if (on) widget.disable(false);
        const v = state.values[name];
        widget.show(item, el.text, v === null ? undefined : v, undefined);
        if (!on) widget.disable(true);
      } catch (err) {
        report(err);
      }
    }
  }

  function useValue(value) {
    if (mode === "review") setPending("fix");
    showValue(value);
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
    for (const [name, widget] of widgets) {
      let v;
      try {
        v = widget.value();
      } catch (err) {
        console.error(err);
      }
      if (v !== undefined && v !== null) out[name] = v;
    }
    return out;
  }

  // ---------------------------------------------------------------- the lease

  // The item the queue served is leased to this reviewer: other reviewers' queues pass it by.
  // The page renews the lease every third of it while the tab is visible and the reviewer did
  // something within a lease; a verdict, a decision or N gives it back (the server's part), and
  // so does leaving the page. A page left alone lets it run out, for another reviewer to take.
  // `ends`: the lease's end as the server last told it; the give-back names it, so a lease
  // served again since (the page reloaded before the give-back arrived) stays.
  // `gone`: the page was left (pagehide) and not shown again since.
  const lease = {
    item: null,
    ends: null,
    renewedAt: 0,
    renewing: false,
    lastActivity: Date.now(),
    gone: false,
  };

  function holdLease(view) {
    lease.item = view && view.lease_expires_at ? view.item.id : null;
    lease.ends = lease.item === null ? null : view.lease_expires_at;
    lease.renewedAt = Date.now();
  }

  async function keepLease() {
    const item = lease.item;
    if (item === null || lease.renewing || document.visibilityState !== "visible") return;
    if (Date.now() - lease.lastActivity >= LEASE_MS) return;
    if (Date.now() - lease.renewedAt < LEASE_MS / 3) return;
    lease.renewing = true;
    try {
      const renewed = await api("POST", `/reviews/leases/${encodeURIComponent(item)}/renew`);
      // On its way as the page was left: the give-back named the end it moved. Given back
      // again with the end it gave, as an answer served after leaving is.
      if (lease.gone) giveBack(item, renewed.lease_expires_at);
      else if (lease.item === item) lease.ends = renewed.lease_expires_at;
      lease.renewedAt = Date.now();
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 409) return; // tried again next tick
      // Another reviewer has the item now (the lease ran out): say so and show the next one.
      if (lease.item !== item || state.busy) return;
      showMessage(err.detail + " — here is the next one.", "warn");
      await load();
    } finally {
      lease.renewing = false;
    }
  }

  /** An item opened by its id (the Items page's Adjudicate) is not leased to this page: say
   * so when another reviewer has it on theirs. */
  function warnHeld(view) {
    const held = view.review_lease;
    const me = document.querySelector(".user-name");
    if (view.lease_expires_at || !held || (me && me.textContent === held.user)) return;
    showMessage(`${held.user} has this item on their review page right now.`, "warn", 8000);
  }

  /** Give the item on screen back as the page goes: the next reviewer's queue serves it. */
  function releaseLease() {
    if (lease.item === null) return;
    giveBack(lease.item, lease.ends);
    lease.item = null;
  }

  /** Give back the lease on `item` while it still ends at `ends`, past the page's end. */
  function giveBack(item, ends) {
    const path = `/reviews/leases/${encodeURIComponent(item)}/release`;
    const body = JSON.stringify({ lease_expires_at: ends });
    L.sendPastThePage(base + path, body); // refused at once: the lease runs out instead
  }

  for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "scroll", "touchstart"]) {
    window.addEventListener(type, () => (lease.lastActivity = Date.now()), {
      passive: true,
      capture: true,
    });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    lease.lastActivity = Date.now();
    keepLease(); // back after a while: take the lease again before the next key
    if (state.view) refreshCounts();
  });
  window.addEventListener("pagehide", () => {
    lease.gone = true; // an answer asked for meanwhile is given back as it lands
    releaseLease();
  });
  window.addEventListener("pageshow", (e) => {
    lease.gone = false;
    if (e.persisted) load(); // back from the browser's cache: its item was given back
  });
  setInterval(keepLease, LEASE_CHECK_MS);
  // What waits, what other reviewers hold and the project's labels change while an item is read.
  setInterval(() => {
    if (state.view && document.visibilityState === "visible") refreshCounts();
  }, COUNTS_MS);

  // ---------------------------------------------------------------- loading

  function stopEmptyPoll() {
    if (state.emptyTimer) clearTimeout(state.emptyTimer);
    state.emptyTimer = null;
  }

  function showEmpty() {
    state.view = null;
    lease.item = null; // the server gave back what this page held
    setState("empty");
    stopEmptyPoll();
    state.emptyTimer = setTimeout(() => {
      state.skip = []; // items passed over come back once the queue is otherwise empty
      state.skipItems = [];
      load();
    }, EMPTY_POLL_MS);
  }

  function queryOf(skip, skipItems = []) {
    const pairs = [
      ...skip.slice(-200).map((id) => "skip=" + encodeURIComponent(id)),
      ...skipItems.slice(-200).map((id) => "skip_item=" + encodeURIComponent(id)),
    ];
    return pairs.length ? "?" + pairs.join("&") : "";
  }

  /** Clear the card for the next answer or item: no pending verdict, pin form or comment. */
  function clearCard() {
    stopEmptyPoll();
    setState("loading");
    setPending(null);
    closePin({ forget: true });
    el.comment.value = "";
    if (document.activeElement === el.comment) el.comment.blur(); // the shortcuts work again
  }

  async function load() {
    clearCard();
    try {
      let view;
      if (mode === "review") {
        view = (await api("GET", "/reviews/next" + queryOf(state.skip, state.skipItems))).review;
      } else if (app.dataset.item) {
        view = await api("GET", `/items/${encodeURIComponent(app.dataset.item)}/review`);
        delete app.dataset.item; // after this one, the queue
      } else {
        view = (await api("GET", "/adjudications/next" + queryOf(state.skip))).item;
      }
      refreshCounts();
      if (!view) return showEmpty();
      holdLease(view);
      // Asked for before the page was left and answered after: given back at once, as the
      // one shown was (the page asks again if it is shown again).
      if (lease.gone) releaseLease();
      await catchUpSchema(view.schema_version);
      show(view);
      warnHeld(view);
    } catch (err) {
      report(err);
      setState("empty");
    }
  }

  /** Show the answer under review again, as it is now: its annotator changed it since it was
   * shown, and the verdict was not recorded. When it no longer waits for review, the next one. */
  async function reload(annotationId, itemId) {
    clearCard();
    try {
      const view = await api("GET", `/items/${encodeURIComponent(itemId)}/review`);
      const answer = view.annotations.find((a) => a.id === annotationId);
      if (!answer || answer.status !== "in_review") return load();
      await catchUpSchema(view.schema_version);
      show({ ...view, annotation: answer });
    } catch (err) {
      report(err);
      await load();
    }
  }

  function show(view) {
    state.view = view;
    renderItem(view);
    if (mode === "review") {
      setState("review");
      app.dataset.annotationId = view.annotation ? String(view.annotation.id) : "";
      if (view.annotation) renderUnderReview(view);
      else renderImported(view);
      showValue(underReview().value);
    } else {
      setState("item");
      showGuideline(view.guideline_version, view.guideline_version); // the rules it decides by
      showValue(view.label ? view.label.value : majority(view));
      if (view.label) {
        const l = view.label;
        const by = l.decided_by ? " by " + l.decided_by : "";
        const how =
          l.resolution === "auto"
            ? `the model's, ${(100 * l.confidence).toFixed(1)}% sure, in auto-label run ${l.auto_run} applied${by}`
            : `${l.resolution}${by}`;
        el.currentLabel.textContent = `Current label: ${fullText(l.value, view.item)} (${how})`;
        el.currentLabel.hidden = false;
      } else {
        el.currentLabel.hidden = true;
      }
    }
    app.dataset.itemId = String(view.item.id);
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

  /** With nothing served but answers waiting, and none passed over: every one waiting is on an
   * item the reviewer labeled, which no one reviews (or settles) themselves. Say so, rather than
   * "nothing waits" beside a count of them. */
  function explainEmpty(waiting, held) {
    const shown = app.dataset.state === "empty" && !state.skip.length && waiting > 0;
    el.emptyOwn.hidden = !shown;
    if (!shown) return;
    const own = Math.max(0, waiting - held);
    const parts = [];
    if (own) {
      const one = own === 1;
      parts.push(
        mode === "review"
          ? `The ${own} waiting ${one ? "is an answer" : "are answers"} on items you labeled ` +
              `yourself: another reviewer or a manager reviews ${one ? "it" : "them"}.`
          : `The ${own} waiting ${one ? "is an item" : "are items"} you labeled yourself: ` +
              `another manager or expert settles ${one ? "it" : "them"}.`,
      );
    }
    if (held) {
      const one = held === 1;
      const what = mode === "review" ? (one ? "answer" : "answers") : one ? "item" : "items";
      parts.push(
        `${one ? "Another reviewer has" : "Other reviewers have"} ${own ? "" : "the "}${held} ` +
          `${own ? "more " : "waiting "}${what} on ${one ? "their page" : "their pages"} ` +
          `right now; this page shows ${one ? "it" : "them"} if ${one ? "it is" : "they are"} ` +
          "passed or left.",
      );
    }
    el.emptyOwn.textContent = parts.join(" ");
  }

  async function refreshCounts() {
    try {
      const s = await api("GET", "/reviews/summary");
      const waiting = mode === "review" ? s.in_review + (s.imported_labels || 0) : s.escalated_items;
      const others = s.leased_to_others || {};
      const held = (mode === "review" ? others.in_review : others.escalated_items) || 0;
      // the count and its noun apart, so that the number stays one element a script reads
      el.waiting.textContent = String(waiting);
      if (el.waitingNoun) el.waitingNoun.textContent = waiting === 1 ? "answer" : "answers";
      if (el.held) {
        el.held.textContent =
          held === 1 ? "1 on another reviewer's page" : `${held} on other reviewers' pages`;
        el.held.hidden = !held;
      }
      if (el.escalated) {
        el.escalated.textContent = String(s.escalated_items);
        el.escalatedNoun.textContent = s.escalated_items === 1 ? "item" : "items";
      }
      explainEmpty(waiting, held);
      if (state.view) schemaSeen.notice(s.schema_version); // a label added meanwhile
    } catch (_err) {
      /* the counts are informative */
    }
  }

  // ---------------------------------------------------------------- actions

  async function act(run, done) {
    if (state.busy || !state.view) return;
    state.busy = true;
    const shown = state.view;
    try {
      await run();
      if (done) showMessage(done, "info", 2500);
      await load();
    } catch (err) {
      report(err);
      if (err instanceof ApiError && err.error === "AnswerChanged") {
        await reload(shown.annotation.id, shown.item.id); // the new value, for a new verdict
      } else if (err instanceof ApiError && (err.status === 409 || err.status === 404)) {
        await load();
      }
    } finally {
      state.busy = false;
    }
  }

  function verdict(kind, extra = {}) {
    const comment = el.comment.value.trim();
    // Shown while the next item is already on screen: the confirmation names its item.
    const item = el.itemId.textContent;
    if (!state.view.annotation) return secondLook(kind, extra, comment, item);
    const id = state.view.annotation.id;
    const done = {
      accept: `Accepted item ${item}.`,
      reject: `Sent item ${item} back to its annotator.`,
      fix: `Fixed item ${item}.`,
      escalate: `Escalated item ${item}.`,
    }[kind];
    // The verdict is on the value shown: a change its annotator made since is a 409.
    const seen = state.view.annotation.value;
    return act(
      () =>
        api("POST", `/reviews/${id}`, { verdict: kind, comment: comment || null, seen, ...extra }),
      done,
    );
  }

  /** Keep or fix an imported label the model doubts; it has no annotator to reject to and no
   *  answer to escalate. */
  function secondLook(kind, extra, comment, item) {
    if (kind !== "accept" && kind !== "fix") {
      showMessage("An imported label has no annotator: keep it (A) or fix it (F).", "warn", 4000);
      return;
    }
    const body = { verdict: kind === "accept" ? "keep" : "fix", comment: comment || null, ...extra };
    const done = kind === "accept" ? `Kept item ${item}'s imported label.` : `Fixed item ${item}.`;
    const id = encodeURIComponent(state.view.item.id);
    return act(() => api("POST", `/items/${id}/second-look`, body), done);
  }

  /** Accept what is shown: a fix opened and changed is what the reviewer accepts (a mouse user
   *  moves a box, then clicks Accept), so it is sent as the fix, where the change was dropped. */
  function accept() {
    if (state.pending === "fix" && JSON.stringify(valueToSend()) !== state.fixFrom) sendFix();
    else verdict("accept");
  }

  function startReject() {
    cancelFix();
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
    if (state.pending === "fix") return;
    setPending("fix");
    showValue(state.view ? underReview().value : {}); // the widgets draw editable
    state.fixFrom = JSON.stringify(valueToSend()); // the answer as the fix starts from it
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
  }

  /** Leave a fix: every control shows the annotation under review again, read-only. */
  function cancelFix() {
    if (state.pending !== "fix") return;
    setPending(null);
    if (state.view && mode === "review") showValue(underReview().value);
  }

  function sendFix() {
    verdict("fix", { value: valueToSend() });
  }

  /** Save a fix: one that changes nothing yet is no fix (its annotator would read "corrected
   *  by a reviewer" of their own answer), so the page waits for the change. */
  function saveFix() {
    if (JSON.stringify(valueToSend()) !== state.fixFrom) return sendFix();
    showMessage(
      "The fix changes nothing yet: change the answer first, or A accepts it as it is.",
      "warn",
      5000,
    );
  }

  function escalate() {
    verdict("escalate");
  }

  function decide() {
    const id = state.view.item.id;
    const comment = el.comment.value.trim();
    const value = valueToSend();
    // Shown while the next item is already on screen: the confirmation names the one decided.
    const done = `Decided item ${el.itemId.textContent}: ${fullText(value, currentItem())}.`;
    act(() => api("POST", `/items/${id}/adjudicate`, { value, comment: comment || null }), done);
  }

  /** Save what is on screen: the fix (review) or the final label (adjudicate). */
  function save() {
    if (mode === "adjudicate") decide();
    else if (state.pending === "fix") saveFix();
    else if (state.pending === "reject") sendReject();
  }

  function next() {
    if (!state.view || state.busy) return;
    if (mode === "review" && !state.view.annotation) state.skipItems.push(state.view.item.id);
    else state.skip.push(mode === "review" ? state.view.annotation.id : state.view.item.id);
    load();
  }

  // ---------------------------------------------------------------- pin as example (managers)

  // A manager pins the item under review to the guideline as an example, with a note on why.
  // What is pinned is the answer the page shows: the annotation under review, or the reviewer's
  // corrected answer while a fix is open, since what the controls show is what the reviewer
  // holds to be right. Pinning is no verdict: the review of the item goes on. It sends no
  // base_version: the reviewer is not editing a version, and the newest one is the one to add to.

  function shownAnswer() {
    if (!state.view) return null;
    return state.pending === "fix" ? valueToSend() : underReview().value;
  }

  function openPin() {
    if (!el.pinBox || app.dataset.state !== "review" || state.busy) return;
    el.pinAnswer.replaceChildren(node("strong", "", labelOf(shownAnswer()) || "the answer shown"));
    el.pinBox.hidden = false;
    el.pinButton.setAttribute("aria-expanded", "true");
    el.pinNote.focus();
  }

  /** Close the pin form; with `forget` (another item comes) its note and status go too. */
  function closePin({ forget = false } = {}) {
    if (!el.pinBox) return;
    if (forget) {
      el.pinNote.value = "";
      el.pinStatus.textContent = "";
    }
    if (el.pinBox.hidden) return;
    el.pinBox.hidden = true;
    el.pinButton.setAttribute("aria-expanded", "false");
    if (document.activeElement === el.pinNote) el.pinNote.blur(); // the page's keys work again
  }

  async function sendPin() {
    const view = state.view;
    if (!view || state.busy || app.dataset.state !== "review") return;
    state.busy = true;
    el.pinSave.disabled = true;
    try {
      const done = await api("POST", "/guidelines/examples", {
        item_id: view.item.id,
        value: shownAnswer(),
        note: el.pinNote.value.trim(),
      });
      closePin({ forget: true });
      el.pinStatus.textContent = pinnedText(done);
      await refreshContext(view);
    } catch (err) {
      report(err);
    } finally {
      state.busy = false;
      el.pinSave.disabled = false;
    }
  }

  /** The item's flags (a pin resolves its ambiguous ones) and history (the pin) anew. */
  async function refreshContext(view) {
    let fresh;
    try {
      fresh = await api("GET", `/items/${encodeURIComponent(view.item.id)}/review`);
    } catch (_err) {
      return; // the context is informative; it is right again with the next item
    }
    if (state.view !== view) return;
    view.flags = fresh.flags;
    view.history = fresh.history;
    renderFlags(view.flags);
    renderHistory(view);
  }

  function pinnedText(done) {
    const n = done.flags_resolved || 0;
    const flags = !n
      ? ""
      : n === 1
        ? " Its ambiguous flag is resolved."
        : ` Its ${n} ambiguous flags are resolved.`;
    const what = done.replaced
      ? `Changed the example in the guideline (v${done.version}): now an example of`
      : `Pinned to the guideline (v${done.version}) as an example of`;
    return `${what} ${done.label}.${flags}`;
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
      if (state.pending) save();
      else if (mode === "adjudicate") decide();
      else el.comment.blur();
    }
  });

  /** Whether `key` is some control's declared label hotkey (either case). */
  function declared(key) {
    if (key.length !== 1) return false;
    const keys = [key, key.toLowerCase(), key.toUpperCase()];
    return allControls.some((c) => (c.hotkeys || []).some((k) => keys.includes(k)));
  }

  /** Offer a key to the widgets, in control order; true when one handled it. */
  function toWidgets(e) {
    for (const widget of widgets.values()) {
      let handled = false;
      try {
        handled = widget.key(e);
      } catch (err) {
        console.error(err);
      }
      if (handled) return true;
    }
    return false;
  }

  function choiceKey(key) {
    let hit = hotkeys.get(key);
    if (!hit && key.length === 1) {
      const flipped = key === key.toLowerCase() ? key.toUpperCase() : key.toLowerCase();
      hit = hotkeys.get(flipped);
    }
    return hit;
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || L.commandKey(e) || e.isComposing) return;
    const t = e.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.isContentEditable)) return;
    const onButton =
      t instanceof Element &&
      t.closest("a, button, summary") &&
      !t.closest(".label-btn, [data-pass-keys]");
    const key = e.key;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    const working = app.dataset.state === "review" || app.dataset.state === "item";
    if (key === "?") {
      e.preventDefault();
      toggleHelp();
      return;
    }
    if (key === "Escape" && !el.sheet.hidden) {
      e.preventDefault();
      toggleHelp(false);
      return;
    }
    if (key === "Escape" && el.pinBox && !el.pinBox.hidden) {
      e.preventDefault();
      closePin();
      return;
    }
    if (!working || state.busy) return;

    // A label key starts a fix of the annotation under review (the page's letters stay its own).
    const pageKey = !L.altChord(e) && PAGE_KEYS.has(lower);
    if (mode === "review" && !state.pending && !pageKey && !e.repeat && declared(key)) {
      startFix();
    }
    // While editing the widgets see each key first, as on the labeling page; a page letter
    // goes to them only when it is one of their declared label keys.
    if (editing() && (!pageKey || declared(key)) && toWidgets(e)) {
      e.preventDefault();
      return;
    }
    if (L.altChord(e)) return;
    if (key === "Escape") {
      e.preventDefault();
      if (state.pending === "fix") cancelFix();
      else if (state.pending) setPending(null);
      return;
    }
    if (e.repeat) return;
    const hit = editing() ? choiceKey(key) : undefined;
    if (hit && (!pageKey || declared(key))) {
      e.preventDefault();
      choose(hit.control, hit.label);
    } else if (lower === "n") {
      e.preventDefault();
      next();
    } else if (lower === "c") {
      e.preventDefault();
      el.comment.focus();
    } else if (key === "Enter") {
      if (onButton) return;
      e.preventDefault();
      save();
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
      } else if (lower === "p" && el.pinBox) {
        e.preventDefault();
        openPin();
      }
    }
  });

  const on = (id, fn) => {
    const b = $(id);
    if (b) b.addEventListener("click", fn);
  };
  on("accept-btn", accept);
  // Reject opens the comment box; a second click sends, or the first when the comment is written
  // (not while a fix is open: its comment was written for the fix, which the first click drops).
  on("reject-btn", () =>
    state.pending === "reject" || (state.pending !== "fix" && el.comment.value.trim())
      ? sendReject()
      : startReject(),
  );
  on("fix-btn", () => (state.pending === "fix" ? saveFix() : startFix()));
  on("escalate-btn", escalate);
  // Save fix (review) or Decide (adjudicate); a text answer's Enter presses it too.
  on("submit-btn", save);
  on("next-btn", next);
  on("pin-btn", () => (el.pinBox.hidden ? openPin() : closePin()));
  on("pin-cancel", () => closePin());
  if (el.pinBox) {
    el.pinBox.addEventListener("submit", (e) => {
      e.preventDefault();
      sendPin();
    });
    el.pinNote.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        closePin();
      }
    });
  }
  el.help.addEventListener("click", () => toggleHelp());
  el.sheetClose.addEventListener("click", () => toggleHelp(false));

  if (!target) {
    showMessage("This project has no control to review.", "error");
    return;
  }
  buildControls();
  buildHelp();
  setPending(null);
  load();
})();
