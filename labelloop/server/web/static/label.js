// The labeling page host: keyboard-first, everything through the JSON API, the next item
// prefetched. Item text and metadata are untrusted: they only ever reach the DOM through
// textContent.
//
// Other scripts (loaded before this one) plug data types and control types in:
//   window.labelloop.renderers[dataType] = (item, container, ctx) => void
//       fills the item area for an item of that data type;
//       ctx = {base, schema, settings, text(item) (the data field as text), mediaUrl(item),
//              keyTakenElsewhere(key, control) (another control's label hotkey too)}.
//   window.labelloop.widgets[controlType] = { create(control, ctx) -> widget }, where a widget has
//       element, show(item, itemArea, value, suggested), value(), key(event) -> bool,
//       shortcuts() -> [{keys, what}], disable(bool). A widget's buttons marked data-pass-keys
//       leave Enter to the page (submit) when they have the focus.
// choice and multi_choice are built in; the host keeps Enter, S, Backspace, Esc, ? and !.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const app = $("label-app");
  const project = JSON.parse($("project-data").textContent);
  const L = window.labelloop;
  L.renderers = L.renderers || {};
  L.widgets = L.widgets || {};
  const { ApiError } = L;
  const base = "/api/projects/" + encodeURIComponent(project.slug);
  const schema = project.schema || {};
  const settings = project.settings || schema.settings || {};
  const dataType = (schema.data && schema.data.type) || "text";
  const dataField = (schema.data && schema.data.field) || "text";
  const { isChoice, targetOf } = L.controls;
  const allControls = schema.controls || [];
  const controls = allControls.filter(isChoice); // the host's own (choice) controls
  const target = targetOf(allControls);

  const IDLE_MS = 60000; // activity older than this stops the per-item clock
  const EMPTY_POLL_MS = 2000;
  const EXPLAIN_EVERY = 5; // empty polls between asking the server why the queue is empty
  const STATUS_POLL_MS = 4000;
  const LEASE_CHECK_MS = 5000; // how often the page looks whether its lease needs renewing
  const MAX_HELD = 20;

  const el = {
    card: $("item-card"),
    itemId: $("item-id"),
    text: $("item-text"),
    more: $("item-more"),
    meta: $("item-meta"),
    suggestion: $("suggestion"),
    why: $("why"),
    whyReason: $("why-reason"),
    whyStrategy: $("why-strategy"),
    whyRank: $("why-rank"),
    whyScore: $("why-score"),
    whyModel: $("why-model"),
    empty: $("empty-state"),
    emptyTitle: $("empty-title"),
    emptyDetail: $("empty-detail"),
    editBanner: $("edit-banner"),
    editBack: $("edit-banner-back"),
    editHere: $("edit-banner-here"),
    rework: $("rework-banner"),
    reworkReviewer: $("rework-reviewer"),
    reworkComment: $("rework-comment"),
    reworkPrevious: $("rework-previous"),
    controls: $("controls"),
    choiceNews: $("choice-news"),
    actions: $("actions"),
    submit: $("submit-btn"),
    submitLabel: $("submit-label"),
    skip: $("skip-btn"),
    back: $("back-btn"),
    help: $("help-btn"),
    flag: $("flag-btn"),
    flagBox: $("flag-box"),
    flagNote: $("flag-note"),
    flagCancel: $("flag-cancel"),
    flagChip: $("flag-chip"),
    sheet: $("shortcuts"),
    sheetBody: $("shortcuts-body"),
    sheetClose: $("shortcuts-close"),
    messages: $("messages"),
    progress: $("progress"),
    progressBar: $("progress-bar"),
    progressText: $("progress-text"),
    remainingText: $("remaining-text"),
    modelVersion: $("model-version"),
    modelName: $("model-name"),
    modelNone: $("model-none"),
    evalChip: $("eval-chip"),
    evalName: $("eval-name"),
    evalAccuracy: $("eval-accuracy"),
    stopHint: $("stop-hint"),
    training: $("training-text"),
    sending: $("sending-text"),
    guideline: $("guideline"),
    guidelineBody: $("guideline-text"),
    guidelineVersion: $("guideline-version-label"),
    guidelineNews: $("guideline-news"),
    schemaNews: $("schema-news"),
    definitions: $("label-definitions"),
    examples: $("guideline-examples"),
    examplesList: $("guideline-examples-list"),
  };

  // ---------------------------------------------------------------- API

  /**
   * A call to this project's API; a 401 (the session ended) sends the annotator to sign in.
   * Any answer takes away the "could not be reached" message an earlier call left: the server
   * is back (restarted, the network returned), and the message went on saying otherwise.
   */
  async function api(method, path, body) {
    let reached = true;
    try {
      return await window.labelloop.api(method, base + path, body, { loginOn401: true });
    } catch (err) {
      reached = !(err instanceof ApiError && err.status === 0);
      throw err;
    } finally {
      if (reached) clearUnreachable();
    }
  }

  // ---------------------------------------------------------------- messages

  function showMessage(text, kind = "error", { timeout = 0 } = {}) {
    return window.labelloop.notify(el.messages, text, kind, timeout);
  }

  // A message about the item on screen (flagged, no label chosen, nothing to go back to)
  // replaces the one before it and goes when another item is shown.
  function showItemMessage(text, kind, timeout) {
    clearItemMessages();
    const box = showMessage(text, kind, { timeout });
    box.dataset.item = "1";
    return box;
  }

  function clearItemMessages() {
    el.messages.querySelectorAll("[data-item]").forEach((box) => box.remove());
  }

  function clearUnreachable() {
    el.messages.querySelectorAll("[data-unreachable]").forEach((box) => box.remove());
  }

  function report(err) {
    if (err instanceof ApiError) {
      if (err.status === 401) return;
      if (err.status === 0) clearUnreachable(); // one such message, however many calls failed
      const box = showMessage(err.detail, "error");
      if (err.status === 0) box.dataset.unreachable = "1";
    } else {
      console.error(err);
      showMessage("Something went wrong on this page: " + (err && err.message), "error");
    }
  }

  // ---------------------------------------------------------------- active time

  // Milliseconds the tab was visible while the user had been active (key, pointer, scroll)
  // within the last minute: the time an item really took, not the time the tab stayed open.
  const clock = {
    ms: 0,
    last: performance.now(),
    lastActivity: performance.now(),
    visible: document.visibilityState === "visible",
    tick() {
      const now = performance.now();
      if (this.visible) {
        const end = Math.min(now, this.lastActivity + IDLE_MS);
        if (end > this.last) this.ms += end - this.last;
      }
      this.last = now;
    },
    activity() {
      this.tick();
      this.lastActivity = performance.now();
    },
    take() {
      this.tick();
      const value = Math.max(0, Math.round(this.ms));
      this.ms = 0;
      return value;
    },
    set(ms) {
      this.tick();
      this.ms = ms || 0;
    },
  };
  for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "scroll"]) {
    window.addEventListener(type, () => clock.activity(), { passive: true, capture: true });
  }
  document.addEventListener("visibilitychange", () => {
    clock.tick();
    clock.visible = document.visibilityState === "visible";
    if (clock.visible) {
      clock.lastActivity = performance.now();
      refreshStatus();
      keepLease(); // back after a while: take the lease again before the next key
    }
  });
  setInterval(() => clock.tick(), 1000);

  // ---------------------------------------------------------------- state

  const state = {
    mode: "loading", // loading | task | edit | empty
    current: null, // the leased task on screen (kept aside while editing)
    currentValues: null, // its selection while editing an earlier item
    currentMs: 0, // its active time while editing an earlier item
    next: null, // the prefetched task
    prefetching: null, // the in-flight prefetch promise
    editing: null, // the earlier annotation being changed
    // My answers opened the page on one answer (?annotation=ID&from=QUERY): saving or leaving
    // the change goes back there, to the items page with that query.
    returnTo: null,
    values: {}, // control name -> label (choice) or [labels] (multi_choice)
    chosenHere: new Set(), // the labels (of a control) the annotator pressed on this item
    // assignment id -> {path, body} of each submit or skip on its way to the server
    inflight: new Map(),
    pending: Promise.resolve(), // settles when every submit so far has settled
    busy: false,
    emptyTimer: null,
  };

  function setMode(mode) {
    state.mode = mode;
    app.dataset.state = mode;
    const working = mode === "task" || mode === "edit";
    el.card.setAttribute("aria-busy", mode === "loading" ? "true" : "false");
    el.empty.hidden = mode !== "empty";
    el.text.hidden = !working;
    el.editBanner.hidden = mode !== "edit";
    if (mode !== "task") el.rework.hidden = true;
    app.classList.toggle("is-editing", mode === "edit");
    el.submitLabel.textContent = mode === "edit" ? "Save change" : "Submit";
    el.submit.disabled = !working;
    el.skip.disabled = mode !== "task";
    el.flag.disabled = !working;
    closeFlag();
    renderFlagged();
    enableControls(working);
    if (!working) {
      el.meta.hidden = true;
      el.why.hidden = true;
      el.suggestion.hidden = true;
      el.itemId.textContent = "";
      if (mode === "loading") el.text.textContent = "";
    }
    if (mode !== "empty") stopEmptyPoll();
  }

  /** The label buttons and widgets take answers only while an item is on screen. */
  function enableControls(working) {
    for (const button of el.controls.querySelectorAll("button.label-btn")) {
      button.disabled = !working;
    }
    for (const widget of widgets.values()) {
      try {
        widget.disable(!working);
      } catch (err) {
        console.error(err);
      }
    }
  }

  // ---------------------------------------------------------------- rendering

  function itemText(item) {
    const data = (item && item.data) || {};
    const value = data[dataField] !== undefined ? data[dataField] : data.text;
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  const hostKeys = new Map(); // key -> control, for every control's label hotkeys

  const ctx = {
    base,
    schema,
    settings,
    text: itemText,
    /** The item's media file (images, audio), served only from the media roots. */
    mediaUrl: (item) => base + "/items/" + encodeURIComponent(item.id) + "/media",
    /** True when another control than `control` also uses `key` as a label hotkey. */
    keyTakenElsewhere(key, control) {
      const owners = hostKeys.get(key) || [];
      return owners.some((c) => c !== control);
    },
  };

  if (!L.renderers.text) {
    L.renderers.text = (item, container, c) => {
      container.textContent = c.text(item);
    };
  }
  if (!L.renderers.image) {
    L.renderers.image = (item, container, c) =>
      container.replaceChildren(L.imageItem(item, c.mediaUrl(item)));
  }

  // The data type's renderer fills the item area; an unknown type is shown as text.
  function renderItem(item) {
    el.choiceNews.textContent = ""; // the last item's choice, were it kept, is no news of this one
    el.text.replaceChildren();
    el.text.className = "item-text";
    el.text.dataset.type = dataType;
    const render = L.renderers[dataType] || L.renderers.text;
    try {
      render(item, el.text, ctx);
    } catch (err) {
      console.error(err);
      el.text.textContent = itemText(item);
    }
    requestAnimationFrame(showMore);
  }

  /** Say what of the item lies below its box (how many of a row's fields, else "more"): an
   * overlay scrollbar shows nothing until used, so a row's last fields went unseen. */
  function showMore() {
    const box = el.text;
    if (box.scrollHeight - box.clientHeight - box.scrollTop <= 1) {
      el.more.hidden = true;
      return;
    }
    const bottom = box.getBoundingClientRect().bottom + 1;
    const rows = [...box.querySelectorAll(".row-table tr")];
    const below = rows.filter((tr) => tr.getBoundingClientRect().bottom > bottom).length;
    const what = below ? `${below} more ${below === 1 ? "field" : "fields"} below` : "More below";
    el.more.textContent = `${what} · PageDown`;
    el.more.hidden = false;
  }
  el.text.addEventListener("scroll", showMore, { passive: true });
  el.text.addEventListener("load", showMore, true); // an image in it took its height
  window.addEventListener("resize", showMore);

  /** Show every widget on the item just rendered; `values` maps control name -> value. */
  function showWidgets(item, values, suggestion) {
    const suggested = (suggestion && suggestion.value) || {};
    for (const [name, widget] of widgets) {
      try {
        const value = values ? values[name] : undefined;
        widget.show(item, el.text, value === null ? undefined : value, suggested[name]);
      } catch (err) {
        report(err);
      }
    }
  }

  function renderMeta(metadata) {
    el.meta.replaceChildren();
    const entries = Object.entries(metadata || {}).slice(0, 12);
    for (const [key, raw] of entries) {
      const value = typeof raw === "string" ? raw : JSON.stringify(raw);
      const row = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      dd.textContent = value.length > 160 ? value.slice(0, 157) + "…" : value;
      if (value.length > 160) dd.title = value;
      row.append(dt, dd);
      el.meta.append(row);
    }
    el.meta.hidden = entries.length === 0;
  }

  function formatConfidence(value) {
    return typeof value === "number" ? value.toFixed(2) : "";
  }

  /** A choice control's suggested label as the page shows it: for the target the model's,
   * else (and for the other choices) an imported pre-annotation's (a label, `{label, score}`,
   * or labels for multi_choice), as the server records it; null when nothing was suggested. */
  function offeredLabel(suggestion, control = target) {
    if (!suggestion || !control || !isChoice(control)) return null;
    if (control === target && suggestion.label !== null && suggestion.label !== undefined) {
      return { label: suggestion.label, confidence: suggestion.confidence, by: "model" };
    }
    const raw = (suggestion.value || {})[control.name];
    if (raw === null || raw === undefined) return null;
    if (typeof raw === "object" && !Array.isArray(raw)) {
      const score = typeof raw.score === "number" ? raw.score : null;
      return raw.label === undefined ? null : { label: raw.label, confidence: score, by: "import" };
    }
    return { label: raw, confidence: null, by: "import" };
  }

  function offeredLabels(offered) {
    if (!offered) return [];
    return (Array.isArray(offered.label) ? offered.label : [offered.label]).map(String);
  }

  /** `tense`: "suggests" for a task, "suggested" for an answer being edited. */
  function renderSuggestion(suggestion, tense) {
    const offered = offeredLabel(suggestion);
    if (!offered || !offeredLabels(offered).length) {
      el.suggestion.hidden = true;
      el.suggestion.replaceChildren();
      return;
    }
    const prefix = (offered.by === "model" ? "Model " : "Pre-annotation ") + tense;
    const strong = document.createElement("strong");
    strong.textContent = offeredLabels(offered).join(", ");
    const conf = formatConfidence(offered.confidence);
    el.suggestion.replaceChildren(
      document.createTextNode(prefix + " "),
      strong,
      document.createTextNode(conf ? ` (${conf})` : ""),
    );
    el.suggestion.hidden = false;
  }

  function renderWhy(selection) {
    if (!selection || (!selection.reason && !selection.strategy)) {
      el.why.hidden = true;
      return;
    }
    el.whyReason.textContent = selection.reason || "queued by " + selection.strategy;
    el.whyStrategy.textContent = selection.strategy || "–";
    el.whyRank.textContent =
      selection.rank === null || selection.rank === undefined ? "–" : "#" + (selection.rank + 1);
    el.whyScore.textContent =
      typeof selection.score === "number" ? selection.score.toFixed(3) : "–";
    renderPickedBy(selection);
    el.why.dataset.strategy = selection.strategy || "";
    el.why.hidden = false;
  }

  /** The "Picked by model" line of the item shown, in the words the server sends with each pick
   *  (as the Items page's trace says it): the version whose round queued it, "none (v1 was a
   *  cold start)" where that round ran before there were labels to train a model on, "none (v3
   *  had no prediction for it)" for an image a boxes round's detector predicted nothing for, or
   *  "no (v3 was current)" for a search pick or a random control. */
  function renderPickedBy(selection) {
    const version = selection.model_version;
    el.whyModel.textContent = selection.picked_by || "–";
    el.whyModel.title = selection.cold_start
      ? `Queued in round v${version}, before there were enough labels to train a model on`
      : "";
  }

  /** A sent-back item: who rejected the answer, their whole comment and the answer itself
   * (spans with the words of the item's text they cover). */
  function renderRework(rework, text) {
    el.rework.hidden = !rework;
    if (!rework) return;
    el.reworkReviewer.textContent = rework.reviewer || "a reviewer";
    el.reworkComment.textContent = rework.comment || "(no comment)";
    el.reworkPrevious.textContent = L.answerText(rework.previous_value, text, L.controlTypes(allControls));
    $("rework-drawn").hidden = !reworkDrawn(rework);
  }

  function markSuggested(suggestion) {
    const offered = new Map(controls.map((c) => [c.name, offeredLabels(offeredLabel(suggestion, c))]));
    for (const button of el.controls.querySelectorAll("button.label-btn")) {
      const yes = (offered.get(button.dataset.control) || []).includes(button.dataset.label);
      button.classList.toggle("is-suggested", yes);
      const tag = button.querySelector(".label-tag");
      if (tag) tag.hidden = !yes;
    }
  }

  function renderPressed() {
    for (const button of el.controls.querySelectorAll("button.label-btn")) {
      const value = state.values[button.dataset.control];
      const on = Array.isArray(value) ? value.includes(button.dataset.label) : value === button.dataset.label;
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  /** Whether the suggested label is pre-selected: the project says so and the model (or the
   * import's score) is sure enough (`preselect_confidence`); an imported pre-annotation without
   * a score always is. */
  function preselects(offered) {
    if (!settings.preselect_suggestion || !offered) return false;
    const floor = typeof settings.preselect_confidence === "number" ? settings.preselect_confidence : 0;
    return typeof offered.confidence !== "number" || offered.confidence >= floor;
  }

  function initialValues(suggestion) {
    const values = {};
    for (const c of controls) {
      values[c.name] = c.type === "multi_choice" ? [] : null;
      const offered = offeredLabel(suggestion, c);
      if (!preselects(offered)) continue;
      const labels = offeredLabels(offered).filter((l) => c.labels.includes(l));
      if (c.type === "multi_choice") values[c.name] = labels;
      else if (labels.length) values[c.name] = labels[0];
    }
    return values;
  }

  function copyValues(values) {
    const out = {};
    for (const c of controls) {
      const v = values ? values[c.name] : undefined;
      if (c.type === "multi_choice") out[c.name] = Array.isArray(v) ? v.slice() : v ? [v] : [];
      else out[c.name] = typeof v === "string" ? v : null;
    }
    return out;
  }

  /** A new item's keys act on the page: a page button that brought it (Skip or Back reached
   *  with Tab and pressed with Enter) lets go of the focus, else the next Enter would press it
   *  again, skipping this item too, instead of submitting it; so does a label or rating button
   *  reached with Tab on the last item, which Space would press on this one. */
  function keysToPage() {
    const focus = document.activeElement;
    if (!focus || focus === document.body) return;
    const control = el.controls.contains(focus) && focus.matches(".label-btn, [data-pass-keys]");
    if (el.actions.contains(focus) || control || !focus.isConnected) focus.blur();
  }

  function showTask(task, { values = null, ms = 0 } = {}) {
    clearItemMessages();
    keysToPage();
    useWaitingSchema();
    state.current = task;
    state.editing = null;
    state.values = values ? copyValues(values) : initialValues(task.suggestion);
    state.chosenHere = new Set();
    state.widgetValues = values ? Object.assign({}, values) : reworkDrawn(task.rework);
    setMode("task");
    app.dataset.assignmentId = String(task.assignment_id);
    delete app.dataset.annotationId;
    const item = task.item || {};
    el.itemId.textContent = item.external_id ? String(item.external_id) : "#" + item.id;
    renderItem(item);
    showWidgets(item, state.widgetValues, task.suggestion);
    renderMeta(item.metadata);
    renderSuggestion(task.suggestion, "suggests");
    renderRework(task.rework, itemText(task.item));
    // The reason of a sent-back item holds the start of the comment, which the banner shows whole.
    renderWhy(task.rework ? { ...task.selection, reason: "sent back by a reviewer" } : task.selection);
    markSuggested(task.suggestion);
    renderPressed();
    clock.set(ms);
    el.text.scrollTop = 0;
    noticeGuideline(task.guideline_version);
    prefetch();
  }

  // A sent-back answer's spans, boxes and fields start where the annotator left them, to be
  // fixed rather than made again; its choices do not: one key makes a choice afresh.
  function reworkDrawn(rework) {
    const previous = rework && rework.previous_value;
    if (!previous) return null;
    const drawn = {};
    for (const name of widgets.keys()) {
      const value = previous[name];
      const empty = value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length);
      if (!empty) drawn[name] = value;
    }
    return Object.keys(drawn).length ? drawn : null;
  }

  function showEdit(annotation) {
    clearItemMessages();
    keysToPage();
    if (state.mode === "task" && state.current) {
      state.currentValues = collectValues();
      state.currentMs = clock.take();
    }
    useWaitingSchema(); // after the leased item's answer was kept from the widgets it was made in
    state.editing = annotation;
    state.values = copyValues(annotation.value);
    state.chosenHere = new Set();
    setMode("edit");
    // A reviewer's verdict keeps the answer as it was: say so, as a change would be refused.
    if (annotation.refusal) {
      el.submit.disabled = true;
      showItemMessage(annotation.refusal, "warn");
    }
    app.dataset.annotationId = String(annotation.annotation_id);
    const item = annotation.item || {};
    el.itemId.textContent = item.external_id ? String(item.external_id) : "#" + item.id;
    renderItem(item);
    showWidgets(item, annotation.value || {}, annotation.suggestion);
    renderMeta(item.metadata);
    renderSuggestion(annotation.suggestion, "suggested");
    el.why.hidden = true;
    markSuggested(annotation.suggestion);
    renderPressed();
    clock.set(0);
  }

  function showEmpty() {
    state.current = null;
    keysToPage();
    useWaitingSchema();
    // Neutral words until the server has said why there is nothing (explainEmpty): a new
    // project's page read "No item for you right now." for a second before "Choosing the first
    // items to label…".
    el.emptyTitle.textContent = LOOKING;
    el.emptyDetail.textContent = "";
    delete el.empty.dataset.idle;
    setMode("empty");
    delete app.dataset.assignmentId;
    startEmptyPoll();
    explainEmpty();
  }

  const LOOKING = "Looking for an item for you…"; // until tasks/idle answers
  const NO_ITEM = "No item for you right now.";

  // What the empty page says, by the server's reason (tasks.idle): [title, detail].
  function idleText(why) {
    const n = why.remaining || 0;
    const items = (k) => `${k.toLocaleString()} ${k === 1 ? "item" : "items"}`;
    switch (why.state) {
      case "empty":
        return [
          "No items to label yet.",
          "Once items are imported into this project, the learner chooses the first ones to " +
            "label and they appear here. ",
        ];
      case "done":
        return ["Everything is labeled.", "Every item to label in the pool has a label. "];
      case "leased":
        return [
          n === 1
            ? "The last item is being labeled by someone else right now."
            : `All ${items(n)} left are being labeled by someone else right now.`,
          "An item comes back here if its lease runs out before it is labeled. ",
        ];
      case "waiting":
        return [
          "Nothing left for you to label right now.",
          n === 1
            ? "The 1 item left is being labeled, waits for another annotator or review, " +
              "or is one you skipped. "
            : `The ${items(n)} left are being labeled, wait for another annotator or review, ` +
              "or are ones you skipped. ",
        ];
      case "open":
      case "unqueued":
        if (why.learner === false) {
          return [
            "No items are being queued: no learner is running.",
            (n === 1 ? "The 1 item left waits" : `The ${items(n)} left wait`) +
              " for a learner to queue them; a manager starts one (`labelloop worker`, or " +
              "`labelloop serve` without LABELLOOP_LEARNER=off). ",
          ];
        }
        if (why.state === "open" && why.first) {
          return [
            "Choosing the first items to label…",
            `The learner is reading the ${items(n)} to choose the first ones worth labeling; ` +
              "they appear here by themselves as soon as it is done. ",
          ];
        }
        if (why.state === "open") {
          return ["No items in the queue right now — the model is preparing more.", ""];
        }
        if (why.blocked) {
          // No round can run whatever is labeled: saying "more labels start it" would send
          // annotators labeling for nothing.
          return [
            why.first ? "The first items cannot be chosen." : "Nothing queued for you right now.",
            (n === 1 ? "The 1 item left waits" : `The ${items(n)} left wait`) +
              ` for a training round, and the project's settings stop every round (${why.blocked}); ` +
              "a manager of the project fixes that setting, more labels do not. ",
          ];
        }
        return [
          "Nothing queued for you right now.",
          (n === 1 ? "The 1 item left waits" : `The ${items(n)} left wait`) +
            " for the model's next training round to queue them; more labels start it. ",
        ];
      default:
        return [NO_ITEM, ""];
    }
  }

  async function explainEmpty() {
    let why;
    try {
      why = await api("GET", "/tasks/idle");
    } catch (_err) {
      // The page keeps its last words, or says no more than the server did; the poll goes on.
      if (state.mode === "empty" && !el.empty.dataset.idle) el.emptyTitle.textContent = NO_ITEM;
      return;
    }
    if (state.mode !== "empty") return;
    const [title, detail] = idleText(why);
    el.emptyTitle.textContent = title;
    el.emptyDetail.textContent = detail;
    el.empty.dataset.idle = why.state;
  }

  // ---------------------------------------------------------------- controls

  const hotkeys = new Map(); // key -> {control, label}, the choice controls' label keys
  const widgets = new Map(); // control name -> widget, for every non-choice control shown

  /** Every control's label keys in `hostKeys`; `hotkeys` is filled again as the choice
   * fieldsets are built, in control order (the first control to declare a key gets it). */
  function registerKeys() {
    hostKeys.clear();
    hotkeys.clear();
    for (const c of allControls) {
      (c.hotkeys || []).forEach((key) => {
        if (!key) return;
        if (!hostKeys.has(key)) hostKeys.set(key, []);
        hostKeys.get(key).push(c);
      });
    }
  }

  function buildControls() {
    el.controls.replaceChildren();
    registerKeys();
    widgets.clear();
    for (const c of allControls) {
      if (isChoice(c)) el.controls.append(choiceFieldset(c));
      else buildWidget(c);
    }
  }

  /** The choice controls' buttons drawn again where they are, the widgets left as they are:
   * what the item on screen has chosen (state.values) shows pressed on the new buttons. */
  function redrawChoices() {
    registerKeys();
    for (const c of controls) {
      const old = [...el.controls.children].find((f) => f.dataset.control === c.name);
      if (old) old.replaceWith(choiceFieldset(c));
    }
    const shown = state.mode === "edit" ? state.editing : state.current;
    enableControls(state.mode === "task" || state.mode === "edit");
    markSuggested(shown && shown.suggestion);
    renderPressed();
  }

  // A control type with a registered widget gets it; any other shows why it cannot be filled.
  function buildWidget(c) {
    const missing =
      `This page cannot show "${c.type}" controls yet, so "${c.name}" stays unanswered` +
      (c === target ? " and items cannot be submitted here." : ".");
    const { fieldset, widget } = L.controls.widgetFieldset(c, ctx, missing);
    if (widget) widgets.set(c.name, widget);
    el.controls.append(fieldset);
  }

  function choiceFieldset(c) {
    return L.controls.choiceFieldset(c, { hotkeys, onChoose: choose, suggestTag: true });
  }

  function choose(control, label, clicked = false) {
    if (state.mode !== "task" && state.mode !== "edit") return;
    L.controls.press(state.values, state.chosenHere, control, label, clicked);
    renderPressed();
    const now = state.values[control.name];
    // a screen reader hears the change
    el.choiceNews.textContent = `${control.name}: ${L.valueText(now, undefined, control.type)}`;
  }

  /** Every control's answer so far (choice controls and widgets), to restore it later. */
  function collectValues() {
    const out = copyValues(state.values);
    for (const [name, widget] of widgets) {
      try {
        const v = widget.value();
        if (v !== undefined) out[name] = v;
      } catch (err) {
        console.error(err);
      }
    }
    return out;
  }

  function currentValue() {
    const value = {};
    for (const c of controls) {
      const v = state.values[c.name];
      if (c.type === "multi_choice") {
        if (Array.isArray(v) && (v.length || c === target)) value[c.name] = v.slice();
      } else if (typeof v === "string") {
        value[c.name] = v;
      }
    }
    for (const [name, widget] of widgets) {
      const v = widget.value();
      if (v !== undefined && v !== null) value[name] = v;
    }
    const t = value[target.name];
    if (t === undefined || (Array.isArray(t) && t.length === 0 && target.type === "choice")) {
      return null;
    }
    return value;
  }

  function missingTargetMessage() {
    if (isChoice(target)) {
      const keys = keysFor(target);
      return `Choose a label for ${target.name} first${keys ? " (keys " + keys + ", or click one)" : ""}.`;
    }
    return `Answer ${target.name} first.`;
  }

  function keysFor(c) {
    return c.labels
      .map((_, i) => ownKey(c, i))
      .filter(Boolean)
      .join(", ");
  }

  /** The key of a choice control's label `i` if pressing it picks that label, else undefined. */
  function ownKey(c, i) {
    return L.controls.ownKey(c, i, hotkeys);
  }

  function buildHelp() {
    el.sheetBody.replaceChildren();
    const addRow = (tbody, keys, what, note) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      for (const k of keys) {
        const kbd = document.createElement("kbd");
        kbd.textContent = k;
        th.append(kbd, " ");
      }
      const td = document.createElement("td");
      td.textContent = what;
      if (note) {
        const small = document.createElement("span");
        small.className = "muted small";
        small.textContent = " — " + note;
        td.append(small);
      }
      tr.append(th, td);
      tbody.append(tr);
    };
    for (const c of allControls) {
      const h = document.createElement("h3");
      const table = document.createElement("table");
      table.className = "keys";
      const tbody = document.createElement("tbody");
      if (isChoice(c)) {
        h.textContent = L.controls.choiceHeading(c);
        c.labels.forEach((label, i) => {
          const key = ownKey(c, i);
          addRow(tbody, key ? [key] : ["—"], label, (c.descriptions || {})[label]);
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
        for (const row of rows) addRow(tbody, row.keys || ["—"], row.what || "", row.note);
        if (!rows.length) addRow(tbody, ["—"], widget ? "Use the mouse" : "Not available here");
      }
      // A span or box label's key shared with another control still works on a selection.
      for (const key of c.type === "spans" || c.type === "boxes" ? collisions(c) : []) {
        addRow(
          tbody,
          [key],
          "shared with another control: a selected span or box takes it, otherwise the first" +
            " choice control listed",
        );
      }
      table.append(tbody);
      el.sheetBody.append(h, table);
    }
    const h = document.createElement("h3");
    h.textContent = "Everywhere";
    const table = document.createElement("table");
    table.className = "keys";
    const tbody = document.createElement("tbody");
    addRow(tbody, ["Enter"], "Submit (or save the change to an earlier item)");
    addRow(tbody, ["S"], "Skip this item");
    addRow(tbody, ["Backspace"], "Go back to your previous item to change it");
    addRow(tbody, ["Esc"], "Leave an earlier item unchanged / close this sheet");
    addRow(tbody, ["!"], "Flag the item as ambiguous, with a note (Enter saves it)");
    addRow(tbody, ["?"], "Show or hide these shortcuts");
    addRow(tbody, ["PageDown", "PageUp"], "Page through an item longer than its box");
    table.append(tbody);
    el.sheetBody.append(h, table);
  }

  function collisions(c) {
    return (c.hotkeys || []).filter((k) => k && (hostKeys.get(k) || [])[0] !== c);
  }

  function buildDefinitions() {
    el.definitions.replaceChildren();
    for (const c of allControls) {
      const described = (c.labels || []).filter((l) => (c.descriptions || {})[l]);
      if (!described.length) continue;
      const h = document.createElement("h3");
      h.textContent = "Labels: " + c.name;
      const dl = document.createElement("dl");
      for (const label of described) {
        const dt = document.createElement("dt");
        dt.textContent = label;
        const dd = document.createElement("dd");
        dd.textContent = c.descriptions[label];
        dl.append(dt, dd);
      }
      el.definitions.append(h, dl);
    }
  }

  function toggleHelp(open) {
    const show = open === undefined ? el.sheet.hidden : open;
    el.sheet.hidden = !show;
    el.help.setAttribute("aria-expanded", show ? "true" : "false");
  }

  // ---------------------------------------------------------------- flag as ambiguous

  const flagged = new Map(); // "task:<id>" or "annotation:<id>" -> the note sent

  /** The flag route and key of what is on screen: the leased task, or the earlier annotation. */
  function flagTarget() {
    if (state.mode === "edit" && state.editing) {
      const id = state.editing.annotation_id;
      return { key: "annotation:" + id, path: `/annotations/${id}/flag` };
    }
    if (state.mode === "task" && state.current) {
      const id = state.current.assignment_id;
      return { key: "task:" + id, path: `/tasks/${id}/flag` };
    }
    return null;
  }

  function renderFlagged() {
    const t = flagTarget();
    const note = t ? flagged.get(t.key) : undefined;
    el.flagChip.hidden = note === undefined;
    el.flagChip.title = note ? "Your note: " + note : "";
  }

  function openFlag() {
    const t = flagTarget();
    if (!t) return;
    el.flagNote.value = flagged.get(t.key) || "";
    el.flagBox.hidden = false;
    el.flag.setAttribute("aria-expanded", "true");
    el.flagNote.focus();
  }

  function closeFlag() {
    if (el.flagBox.hidden) return;
    el.flagBox.hidden = true;
    el.flag.setAttribute("aria-expanded", "false");
    if (document.activeElement === el.flagNote) el.flagNote.blur();
  }

  async function saveFlag() {
    const t = flagTarget();
    if (!t) return closeFlag();
    const note = el.flagNote.value.trim();
    try {
      await api("POST", t.path, { note });
      flagged.set(t.key, note);
      closeFlag();
      renderFlagged();
      showItemMessage("Flagged as ambiguous. Label it as best you can, or skip it.", "info", 3500);
    } catch (err) {
      report(err);
    }
  }

  el.flag.addEventListener("click", () => (el.flagBox.hidden ? openFlag() : closeFlag()));
  el.flagCancel.addEventListener("click", () => closeFlag());
  el.flagBox.addEventListener("submit", (e) => {
    e.preventDefault();
    saveFlag();
  });
  el.flagNote.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      closeFlag();
    }
  });

  // ---------------------------------------------------------------- the loop

  function heldIds() {
    const held = [];
    if (state.current) held.push(state.current.assignment_id);
    if (state.next) held.push(state.next.assignment_id);
    for (const id of state.inflight.keys()) held.push(id);
    return held.slice(0, MAX_HELD);
  }

  async function fetchTask() {
    const data = await api("POST", "/tasks/next", { held: heldIds() });
    const task = data ? data.task : null;
    if (task) task.fetchedAt = Date.now();
    if (task) givenBackIfLeft(task); // a prefetch on its way as the page went
    return task;
  }

  /** Give back `task`, leased (or renewed) by a request sent before the page was left and
   * answered after, at once with the end the server just gave, as the rest were given back;
   * taken again if the page comes back. Whether it was given back. */
  function givenBackIfLeft(task) {
    if (!leaving.gone || state.inflight.has(task.assignment_id)) return false;
    sendPastThePage("/tasks/release", JSON.stringify({ leases: [leaseOf(task)] }));
    task.givenBack = true;
    return true;
  }

  // A prefetched lease that is about to run out is not worth showing: its submit would fail.
  function fresh(task) {
    const leaseMs = (settings.lease_minutes || 10) * 60000;
    return task && Date.now() - (task.fetchedAt || 0) < leaseMs - 30000;
  }

  // Lease the item after the one on screen so the next submit shows it without waiting.
  function prefetch() {
    if (state.next || state.prefetching || !state.current) return state.prefetching;
    // Its lease given back as the page was left: taken again first, or it could come back as
    // the prefetched item.
    if (state.current.givenBack) return null;
    const forId = state.current.assignment_id;
    const p = fetchTask()
      .then((task) => {
        if (task && task.givenBack) return; // it landed after the page was left
        if (task && task.assignment_id !== forId && !state.inflight.has(task.assignment_id)) {
          if (state.current && state.current.assignment_id === task.assignment_id) return;
          state.next = task;
          noticeSchema(task.schema_version); // its labels are drawn before it is shown
        }
      })
      .catch((err) => {
        if (!(err instanceof ApiError) || err.status !== 0) report(err);
      })
      .finally(() => {
        if (state.prefetching === p) state.prefetching = null;
      });
    state.prefetching = p;
    return p;
  }

  async function advance() {
    clearItemMessages(); // about the item we leave
    state.current = null;
    let task = fresh(state.next) ? state.next : null;
    state.next = null;
    if (!task && state.prefetching) {
      setMode("loading");
      await state.prefetching;
      task = state.next;
      state.next = null;
    }
    if (!task) {
      setMode("loading");
      try {
        task = await fetchTask();
      } catch (err) {
        report(err);
        task = null;
      }
    }
    if (task) await noticeSchema(task.schema_version); // a label added: its button first
    if (task) showTask(task);
    else showEmpty();
  }

  // The item on screen stays leased while its annotator works on it: a renew every third of a
  // lease, while the tab is visible and they were active within IDLE_MS. A page left alone lets
  // the lease run out; a submit after that still counts while the item is free.
  async function keepLease() {
    const task = state.current;
    const leaseMs = (settings.lease_minutes || 10) * 60000;
    if (state.mode !== "task" || !task || task.renewing || !clock.visible) return;
    if (leaving.gone) return; // left: its timers take nothing back until it is shown again
    const given = task.givenBack; // as the page was left: taken again before anything else
    if (!given && performance.now() - clock.lastActivity >= IDLE_MS) return;
    if (!given && Date.now() - (task.fetchedAt || 0) < leaseMs / 3) return;
    task.renewing = true;
    try {
      const renewed = await api("POST", `/tasks/${task.assignment_id}/renew`);
      task.lease_expires_at = renewed.lease_expires_at; // a give-back names the lease so
      task.fetchedAt = Date.now();
      task.givenBack = false;
      // On its way as the page was left: the give-back named the end it moved (or reached
      // the server first, and this renewal took the lease again).
      if (givenBackIfLeft(task)) return;
      if (given && state.current === task && state.mode === "task") prefetch();
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 409) return; // tried again next tick
      if (leaving.gone) return; // someone else's now: the page shows the next when shown again
      // Someone else has the item now: say so and show the next one for real.
      if (state.current !== task || state.mode !== "task" || state.busy) return;
      showMessage(err.detail + " — here is the next item.", "warn");
      state.busy = true;
      advance().finally(() => {
        state.busy = false;
      });
    } finally {
      task.renewing = false;
    }
  }

  function startEmptyPoll() {
    stopEmptyPoll();
    let polls = 0;
    state.emptyTimer = setTimeout(async function poll() {
      state.emptyTimer = null;
      if (state.mode !== "empty") return;
      try {
        const task = await fetchTask();
        if (task) await noticeSchema(task.schema_version);
        if (state.mode !== "empty") return;
        if (task) {
          showTask(task);
          return;
        }
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 0) report(err);
      }
      if (state.mode !== "empty") return;
      polls += 1;
      // The reason changes slowly and asking costs, except in an empty project: its first
      // import turns "no items yet" into "choosing the first items" within seconds.
      if (polls % EXPLAIN_EVERY === 0 || el.empty.dataset.idle === "empty") explainEmpty();
      state.emptyTimer = setTimeout(poll, EMPTY_POLL_MS);
    }, EMPTY_POLL_MS);
  }

  function stopEmptyPoll() {
    if (state.emptyTimer) clearTimeout(state.emptyTimer);
    state.emptyTimer = null;
  }

  // Send a submit or skip in the background; the next item is already on screen.
  function send(task, path, body, { value = null, ms = 0 } = {}) {
    const id = task.assignment_id;
    state.inflight.set(id, { path, body });
    renderSending();
    const done = api("POST", path, body)
      .then((answer) => {
        if (answer) noticeGuideline(answer.current_guideline_version);
        scheduleStatus();
      })
      .catch((err) => {
        if (err instanceof ApiError && err.status === 409) {
          showMessage(err.detail + " — moved on to the next item.", "warn");
          return;
        }
        report(err);
        if (err instanceof ApiError && err.status === 401) return;
        // The item was not stored: bring it back so the work is not lost, and stay for it.
        if (leaving.to) {
          leaving.to = null;
          showMessage("An answer could not be sent and is back on screen; you stayed on this page.");
        }
        if (state.mode === "task" && state.current) {
          if (!state.next) state.next = state.current;
          showTask(task, { values: value, ms });
        } else if (state.mode === "empty" || state.mode === "loading") {
          showTask(task, { values: value, ms });
        }
      })
      .finally(() => {
        state.inflight.delete(id);
        renderSending();
      });
    state.pending = Promise.all([state.pending, done]).then(() => undefined);
    return done;
  }

  // ---------------------------------------------------------------- leaving the page

  // Answers go in the background, so some can still be on their way when the annotator leaves.
  // While any is, the status line counts them, the browser asks before the page is left, the
  // page's own links and Log out wait for them, and a page left anyway sends them once more as
  // keepalive requests, which outlive the page (the server refuses a second answer for a task).
  const UNSENT_KEY = "labelloop.unsent." + project.slug;
  // where a link or Log out goes once the answers are stored; and whether the page was left
  // (pagehide) and not shown again since
  const leaving = { to: null, gone: false };

  function renderSending() {
    const n = state.inflight.size;
    el.sending.hidden = n === 0;
    el.sending.textContent = n
      ? `sending ${L.plural(n, "answer")}…` + (leaving.to ? " you leave once they are stored" : "")
      : "";
    if (!n && leaving.to) {
      const go = leaving.to;
      leaving.to = null;
      go();
    }
  }

  window.addEventListener("beforeunload", (e) => {
    if (!state.inflight.size) return;
    e.preventDefault();
    e.returnValue = ""; // the browser's own prompt; it shows no page text
  });

  /** Leave by `go` once every answer is stored; a second click while waiting leaves at once
   * (the browser still asks, and the answers still go as keepalive requests). */
  function leaveAfterSending(e, go) {
    if (!state.inflight.size) return;
    e.preventDefault();
    if (leaving.to) {
      leaving.to = null;
      go();
      return;
    }
    leaving.to = go;
    renderSending();
  }

  document.addEventListener("click", (e) => {
    const link = e.target instanceof Element && e.target.closest("a[href]");
    if (!link || e.defaultPrevented || e.button !== 0) return;
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || link.target) return; // a new tab
    if (link.getAttribute("href").startsWith("#")) return;
    leaveAfterSending(e, () => location.assign(link.href));
  });
  for (const form of document.querySelectorAll("form.logout-form")) {
    // Signed out, the page could give nothing back as it goes: it gives its items back first.
    const signOut = () => givenBackFirst().then(() => form.submit());
    form.addEventListener("submit", (e) => {
      leaveAfterSending(e, signOut);
      if (e.defaultPrevented) return;
      e.preventDefault();
      signOut();
    });
  }

  /** POST `body` (JSON text, or undefined) to `path` (of this project's API) as a keepalive
   * request, which outlives the page; false when the browser refuses it at once. */
  const sendPastThePage = (path, body) => L.sendPastThePage(base + path, body);

  /** Send what is still on its way as keepalive requests, oldest first, while they fit the
   * browser's budget; what does not fit waits in this browser for the page's next visit. */
  function sendOnLeaving() {
    let room = L.KEEPALIVE_BYTES;
    const kept = [];
    for (const sent of state.inflight.values()) {
      const body = sent.body === undefined ? undefined : JSON.stringify(sent.body);
      const size = L.bodyBytes(body);
      if (size <= room) {
        room -= size;
        if (sendPastThePage(sent.path, body)) continue;
      }
      kept.push(sent); // refused at once (over the browser's budget after all)
    }
    if (!kept.length) return;
    try {
      const earlier = JSON.parse(localStorage.getItem(UNSENT_KEY) || "[]");
      localStorage.setItem(UNSENT_KEY, JSON.stringify([...earlier, ...kept]));
    } catch (_) {
      // storage full or off: the browser's prompt was the last word
    }
  }

  // A page left (closed, navigated away from; not a mere switch to another tab) gives back the
  // item on screen and the prefetched one, so the next annotator is served them at once rather
  // than when their leases run out. Those with an answer on its way stay leased for it.
  // Each lease is named with the end the server last gave it: one served again since (the page
  // reloaded and asked for work before this give-back arrived) ends later, and stays.
  const leaseOf = (task) => ({
    assignment_id: task.assignment_id,
    lease_expires_at: task.lease_expires_at,
  });

  function toGiveBack() {
    return [state.current, state.next]
      .filter((task) => task && !task.givenBack && !state.inflight.has(task.assignment_id))
      .map(leaseOf);
  }

  function giveBack() {
    const leases = toGiveBack();
    if (!leases.length) return;
    sendPastThePage("/tasks/release", JSON.stringify({ leases }));
    if (state.current) state.current.givenBack = true; // taken again if the page comes back
    state.next = null;
  }

  /** Give the page's items back and settle once the server has them (or after 2 s), before a
   * step that ends the session. */
  function givenBackFirst() {
    const leases = toGiveBack();
    if (!leases.length) return Promise.resolve();
    const asked = api("POST", "/tasks/release", { leases }).then(() => {
      if (state.current) state.current.givenBack = true;
      state.next = null;
    });
    const waited = new Promise((resolve) => setTimeout(resolve, 2000));
    return Promise.race([asked, waited]).catch(() => undefined);
  }

  window.addEventListener("pagehide", () => {
    leaving.gone = true; // an item asked for meanwhile is given back as it lands
    if (state.inflight.size) sendOnLeaving();
    giveBack();
  });

  // Back from the browser's back-forward cache: the item on screen is taken again (or, taken
  // by someone else meanwhile, the next one is shown), then the one after it is leased again.
  window.addEventListener("pageshow", (e) => {
    leaving.gone = false;
    if (e.persisted) keepLease();
  });

  /** Send the answers an earlier visit could not (too large to go as the page closed); one the
   * server already has is refused as a duplicate, which counts as sent. */
  async function sendKept() {
    let kept;
    try {
      kept = JSON.parse(localStorage.getItem(UNSENT_KEY) || "[]");
      localStorage.removeItem(UNSENT_KEY);
    } catch (_) {
      return;
    }
    if (!Array.isArray(kept)) return;
    let stored = 0;
    for (const sent of kept) {
      // only this page's own two calls, whatever else the storage was made to hold
      if (!sent || !/^\/tasks\/\d+\/(submit|skip)$/.test(String(sent.path))) continue;
      try {
        await api("POST", sent.path, sent.body);
        stored += 1;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && /already submitted/.test(err.detail)) {
          stored += 1;
        } else {
          report(err);
        }
      }
    }
    if (stored) {
      showMessage(`Sent ${L.plural(stored, "answer")} left unsent when you last left this page.`, "info");
      scheduleStatus();
    }
  }

  // A submit's or an edit's body: the label is made under the guideline version the panel shows.
  function answerBody(value, ms) {
    const body = { value, active_ms: ms };
    if (guideline.shown > 0) body.guideline_version = guideline.shown;
    return body;
  }

  async function submit() {
    if (state.busy) return;
    if (state.mode === "edit") return saveEdit();
    if (state.mode !== "task" || !state.current) return;
    const value = currentValue();
    if (!value) {
      showItemMessage(missingTargetMessage(), "warn", 4000);
      return;
    }
    const task = state.current;
    const ms = clock.take();
    send(task, `/tasks/${task.assignment_id}/submit`, answerBody(value, ms), { value, ms });
    state.busy = true;
    try {
      await advance();
    } finally {
      state.busy = false;
    }
  }

  async function skip() {
    if (state.busy || state.mode !== "task" || !state.current) return;
    const task = state.current;
    clock.take();
    send(task, `/tasks/${task.assignment_id}/skip`, undefined);
    state.busy = true;
    try {
      await advance();
    } finally {
      state.busy = false;
    }
  }

  async function goBack() {
    if (state.busy || state.mode === "loading") return;
    state.busy = true;
    try {
      await state.pending; // the latest submit must be stored before we can go back to it
      const before = state.mode === "edit" && state.editing ? state.editing.annotation_id : null;
      const data = await api(
        "GET",
        "/annotations/previous" + (before ? "?before=" + encodeURIComponent(before) : ""),
      );
      if (!data || !data.annotation) {
        showItemMessage(
          before ? "That was your first annotation in this project." : "Nothing labeled yet to go back to.",
          "info",
          3000,
        );
        return;
      }
      if (state.mode === "empty") stopEmptyPoll();
      showEdit(data.annotation);
    } catch (err) {
      report(err);
    } finally {
      state.busy = false;
    }
  }

  async function saveEdit() {
    if (state.editing.refusal) {
      showItemMessage(state.editing.refusal, "warn");
      return;
    }
    const value = currentValue();
    if (!value) {
      showItemMessage(missingTargetMessage(), "warn", 4000);
      return;
    }
    state.busy = true;
    try {
      const saved = await api(
        "PUT",
        "/annotations/" + state.editing.annotation_id,
        answerBody(value, clock.take()),
      );
      showMessage(saved && saved.unchanged ? "Kept as it was." : "Change saved.", "info", { timeout: 2500 });
      scheduleStatus();
      resume();
    } catch (err) {
      report(err);
    } finally {
      state.busy = false;
    }
  }

  // Back from an earlier item to the leased one (or to the queue, or to My answers).
  function resume() {
    if (state.returnTo) {
      location.assign(state.returnTo);
      return;
    }
    state.editing = null;
    if (state.current) {
      showTask(state.current, { values: state.currentValues, ms: state.currentMs });
      state.currentValues = null;
      state.currentMs = 0;
    } else {
      state.busy = true;
      advance().finally(() => {
        state.busy = false;
      });
    }
  }

  // ---------------------------------------------------------------- guideline

  // The panel's guideline version. A task, a submit's answer or the status line naming a newer
  // one means a manager published new rules mid-session: the panel shows them and the polite
  // status region says so. The HTML is the server's render_markdown (raw HTML escaped, unsafe
  // links dropped), the same the page was built with.
  const guideline = { shown: Number(project.guideline_version) || 0, fetching: 0 };

  /** Highlight a changed version number briefly (again, if it is still highlighted). */
  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }

  async function noticeGuideline(version) {
    if (!(version > guideline.shown) || version <= guideline.fetching) return;
    guideline.fetching = version;
    let found;
    try {
      found = await api("GET", "/guidelines/" + encodeURIComponent(version));
    } catch (_err) {
      guideline.fetching = 0; // asked again with the next task or status poll
      return;
    }
    if (found.version <= guideline.shown) return;
    guideline.shown = found.version;
    el.guidelineBody.innerHTML =
      found.html || '<p class="muted">This project has no guideline yet.</p>';
    el.guidelineVersion.textContent = "v" + found.version;
    renderExamples(found.examples);
    flash(el.guidelineVersion);
    // The news opens the panel at the new rules: on a phone it starts folded under the item.
    const read = L.node("button", "link-button", "Read it");
    read.type = "button";
    read.addEventListener("click", () => {
      el.guideline.open = true;
      el.guideline.scrollIntoView({ block: "start" });
      // Reading moves there, so the keys label the item again (Enter on the button would not).
      el.guidelineBody.focus({ preventScroll: true });
    });
    el.guidelineNews.replaceChildren(
      L.node("span", "news-text", `Guideline updated to v${found.version}: ${found.summary}`),
      " ",
      read,
    );
  }

  // A manager added a label while the page was open. Every task, like the status line, names
  // the project's schema version; a newer one is read (the project's detail) and its labels
  // drawn with their keys, as the schema gives them (labelloop assigns a new label's key when it
  // is added). Choice buttons are drawn again at once, what the item on screen has chosen kept;
  // a widget's (spans, boxes) waits for the next item to be shown, as drawing it again takes
  // the item's marks and their undo history. A short notice names each new label and its key.
  const schemaSeen = L.controls.schemaWatch({
    version: project.schema_version,
    list: allControls,
    read: () => api("GET", ""),
    busy: () => state.mode === "task" || state.mode === "edit",
    use: useSchema,
  });

  function noticeSchema(version) {
    return schemaSeen.notice(version);
  }

  function useWaitingSchema() {
    schemaSeen.useWaiting();
  }

  /** Draw the labels of `found` and say which are new. */
  function useSchema(found) {
    const added = L.controls.takeLabels(allControls, found);
    if (added.some(({ control }) => !isChoice(control))) {
      buildControls(); // nothing on screen, or the next item is about to be
      enableControls(state.mode === "task" || state.mode === "edit"); // none while none is
    } else {
      redrawChoices();
    }
    buildHelp();
    buildDefinitions();
    L.controls.announceLabels(el.schemaNews, allControls, added, hotkeys);
  }

  // The items the guideline pins as examples, under its text and grouped by label: each with
  // the first lines of its text and the manager's note on why. A new guideline version brings
  // its own list (pinning or unpinning is a new version).
  function renderExamples(examples) {
    const list = Array.isArray(examples) ? examples : [];
    const E = L.examples;
    const groups = [];
    for (const [label, shown] of E.grouped(list, target)) {
      const group = L.node("section", "example-group");
      group.dataset.label = label;
      const heading = L.node("h4", "example-label");
      heading.append(L.node("span", "chip", label));
      const items = L.node("ul", "example-list");
      for (const example of shown) {
        const li = L.node("li", "example");
        li.dataset.itemId = String(example.item_id);
        li.append(E.excerpt(example, exampleMedia, L.boxLabels(allControls)));
        // A span or box example is filed under its labels; its own answer names the words.
        if (String(example.label) !== label) {
          li.append(L.node("p", "example-answer", String(example.label)));
        }
        const note = E.note(example);
        if (note) li.append(note);
        items.append(li);
      }
      group.append(heading, items);
      groups.push(group);
    }
    el.examplesList.replaceChildren(...groups);
    el.examples.hidden = list.length === 0;
  }

  function exampleMedia(example) {
    return ctx.mediaUrl({ id: example.item_id });
  }

  // ---------------------------------------------------------------- status line

  let statusTimer = null;
  let shownVersion = null;
  // The eval figure the project's rounds measure, named as the project page names it: span F1
  // (exact match) for spans; none for boxes, whose rounds measure no eval score, so no chip.
  const EVAL_METRICS = { spans: { key: "span_f1", name: "eval span F1" }, boxes: null };
  const targetType = target ? target.type : "";
  const evalMetric =
    targetType in EVAL_METRICS ? EVAL_METRICS[targetType] : { key: "accuracy", name: "eval acc" };
  el.evalChip.hidden = !evalMetric;
  if (evalMetric) el.evalName.textContent = evalMetric.name;

  function scheduleStatus() {
    if (statusTimer) clearTimeout(statusTimer);
    statusTimer = setTimeout(refreshStatus, 250);
  }

  async function refreshStatus() {
    statusTimer = null;
    let data;
    try {
      data = await api("GET", "/status");
    } catch (_err) {
      return; // the status line is informative; labeling goes on without it
    }
    noticeGuideline(data.guideline_version);
    noticeSchema(data.schema_version);
    // The settings the page applies as it shows an item (the widgets share this object), as the
    // project has them now: a manager's change applies without a reload.
    if (data.labeling) Object.assign(settings, data.labeling);
    const c = data.counts || {};
    const pool = c.pool || 0;
    // The model's labels from auto-label runs count as done: nobody has those items to label.
    const byModel = c.auto_labeled || 0;
    const done = (c.labeled || 0) + byModel;
    const pct = pool ? (100 * done) / pool : 0;
    el.progressBar.style.width = pct.toFixed(2) + "%";
    el.progress.setAttribute("aria-valuenow", pct.toFixed(1));
    // Under review or overlap an answer is a label only once reviewed (or answered again):
    // say where the answers are, or a page of 10 answers reads "0 labeled" as if stuck.
    const inReview = c.awaiting_review || 0;
    const forAnother = Math.max(0, (c.awaiting_label || 0) - inReview);
    const answered = [];
    if (inReview) answered.push(`${inReview.toLocaleString()} answered, in review`);
    if (forAnother) {
      answered.push(`${forAnother.toLocaleString()} waiting for another answer`);
    }
    el.progressText.textContent =
      `${done.toLocaleString()} / ${pool.toLocaleString()} labeled` +
      (byModel ? ` (${byModel.toLocaleString()} by the model)` : "") +
      (answered.length ? ` · ${answered.join(" · ")}` : "");
    el.remainingText.textContent = `${(c.remaining || 0).toLocaleString()} remaining`;
    const model = data.model;
    const version = model ? "v" + model.version : "none yet";
    if (shownVersion !== null && shownVersion !== version) flash(el.modelVersion);
    shownVersion = version;
    el.modelVersion.textContent = version;
    // A cold-start round ranks the first items without a model: its version names the round,
    // in the words the item's reason uses ("no model yet"), not a model that does not exist.
    const cold = Boolean(model && model.cold_start);
    el.modelName.textContent = cold ? "round" : "model";
    el.modelNone.hidden = !cold;
    el.modelVersion.title = !model
      ? "the learner trains once there are items"
      : model.cold_start
        ? `no model trained yet: ${version} is a cold start, on ${model.n_train} labels`
        : `${model.model} trained on ${model.n_train} labels`;
    const metrics = (model && model.metrics) || {};
    const acc = evalMetric ? metrics[evalMetric.key] : undefined;
    el.evalAccuracy.textContent = typeof acc === "number" ? acc.toFixed(3) : "–";
    el.stopHint.hidden = !data.stop_recommended;
    const training = data.training;
    if (training && typeof training.retrain_every === "number") {
      const left = training.retrain_every - (training.labels_since_model || 0);
      el.training.textContent =
        training.due || left <= 0
          ? "training a new model…"
          : inReview
            ? `next model after ${left} more reviewed label${left === 1 ? "" : "s"}`
            : `next model in ${left} label${left === 1 ? "" : "s"}`;
    } else {
      el.training.textContent = "";
    }
  }

  // ---------------------------------------------------------------- keyboard

  function typingIn(node) {
    if (!node || node === document.body) return false;
    if (node.isContentEditable) return true;
    return /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName);
  }

  // The link or button a pointer last pressed, until Tab moves the focus on (see onOther).
  let clicked = null;
  document.addEventListener(
    "pointerdown",
    (e) => {
      clicked = e.target instanceof Element ? e.target.closest("a, button, summary") : null;
    },
    true,
  );
  document.addEventListener("focusin", (e) => {
    if (e.target !== clicked) clicked = null;
  });
  document.addEventListener(
    "keydown",
    (e) => {
      if (e.key === "Tab") clicked = null;
    },
    true,
  );

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || L.commandKey(e) || e.isComposing) return;
    if (typingIn(e.target)) return;
    const key = e.key;
    // Enter and Space on a link or another button reached by keyboard keep their usual
    // meaning. One only clicked (the guideline's fold, "Read it") keeps the focus: there Enter
    // submits, as the page's keys say, rather than clicking it again.
    const other = e.target instanceof Element && e.target.closest("a, button, summary");
    const onOther = other && !other.matches(".label-btn, [data-pass-keys]") && other !== clicked;

    // Widgets see each key first, in control order; a widget that handles it ends it here.
    if ((state.mode === "task" || state.mode === "edit") && !state.busy) {
      for (const widget of widgets.values()) {
        let handled = false;
        try {
          handled = widget.key(e);
        } catch (err) {
          console.error(err);
        }
        if (handled) {
          e.preventDefault();
          return;
        }
      }
    }
    if (L.altChord(e)) return; // Alt+key is a widget's (boxes: Alt+arrows resize) or the browser's

    if (key === "?") {
      e.preventDefault();
      toggleHelp();
      return;
    }
    if (key === "!") {
      e.preventDefault();
      if (state.mode === "task" || state.mode === "edit") openFlag();
      return;
    }
    if (key === "Escape") {
      if (!el.flagBox.hidden) {
        closeFlag();
        e.preventDefault();
      } else if (!el.sheet.hidden) {
        toggleHelp(false);
        e.preventDefault();
      } else if (state.mode === "edit" && !state.busy) {
        e.preventDefault();
        resume();
      }
      return;
    }
    if (key === "Enter") {
      if (onOther) return;
      e.preventDefault();
      if (!e.repeat) submit();
      return;
    }
    if (key === "Backspace") {
      e.preventDefault();
      if (!e.repeat) goBack();
      return;
    }
    const hotkey = L.hotkeyOf(e, (k) => k === "s" || k === "S" || !!hotkeyHit(k));
    if (hotkey === "s" || hotkey === "S") {
      if (!hotkeys.has(hotkey)) {
        e.preventDefault();
        if (!e.repeat) skip();
        return;
      }
    }
    if ((key === "PageDown" || key === "PageUp") && !onOther) {
      if (scrollItem(key === "PageDown" ? 1 : -1)) e.preventDefault();
      return;
    }
    const hit = hotkeyHit(hotkey);
    if (hit) {
      e.preventDefault();
      // a held key picks once: its repeats would clear the label again, then pick it, ...
      if (!e.repeat) choose(hit.control, hit.label);
    }
  });

  /** The choice label `key` picks, in either case, or undefined. */
  function hotkeyHit(key) {
    const hit = hotkeys.get(key);
    if (hit || key.length !== 1) return hit;
    return hotkeys.get(key === key.toLowerCase() ? key.toUpperCase() : key.toLowerCase());
  }

  /** Page through an item taller than its box (a row of 200 fields, a long text), which no
   * other key scrolls; false when it has nothing more that way, for the page to scroll. */
  function scrollItem(direction) {
    const box = el.text;
    const room = box.scrollHeight - box.clientHeight;
    const at = box.scrollTop;
    if (room <= 1 || (direction > 0 ? at >= room - 1 : at <= 0)) return false;
    box.scrollTop = at + direction * Math.max(box.clientHeight - 40, 40);
    return true;
  }

  // A click leaves the keyboard focus where it was (as the boxes' buttons do): a Skip or Back
  // button kept it, so the next item's Enter skipped or went back again instead of submitting.
  for (const button of el.actions.querySelectorAll("button")) {
    button.addEventListener("mousedown", (e) => e.preventDefault());
  }
  el.submit.addEventListener("click", () => submit());
  el.skip.addEventListener("click", () => skip());
  el.back.addEventListener("click", () => goBack());
  el.help.addEventListener("click", () => toggleHelp());
  el.sheetClose.addEventListener("click", () => toggleHelp(false));

  // ---------------------------------------------------------------- start

  if (!target) {
    showMessage("This project has no control to label with.", "error");
    return;
  }
  buildControls();
  buildHelp();
  buildDefinitions();
  renderExamples(project.guideline_examples);
  if (window.matchMedia("(max-width: 600px)").matches) el.guideline.open = false;
  setMode("loading");
  refreshStatus();
  setInterval(() => {
    if (document.visibilityState === "visible") refreshStatus();
  }, STATUS_POLL_MS);
  setInterval(keepLease, LEASE_CHECK_MS);
  const asked = new URLSearchParams(location.search);
  sendKept().finally(() => {
    if (asked.get("annotation")) openAnswer(asked.get("annotation"), asked.get("from") || "");
    else advance();
  });

  /** Show one of the user's answers to change (My answers' E), no item leased meanwhile; one
   * that cannot be shown is said, and labeling goes on. */
  async function openAnswer(id, from) {
    state.busy = true;
    try {
      const data = await api("GET", "/annotations/" + encodeURIComponent(id));
      // Only a query string of the items page: the way back cannot lead off this project.
      state.returnTo = `/p/${encodeURIComponent(project.slug)}/items?${new URLSearchParams(from)}`;
      el.editHere.hidden = true;
      el.editBack.hidden = false;
      showEdit(data.annotation);
    } catch (err) {
      report(err);
      await advance();
    } finally {
      state.busy = false;
    }
  }
})();
