// The Items page: every item with its label, filtered and paged, and one item's whole trace
// beside the list (each answer with who, when, under which guideline and model, and why the item
// was picked; the reviews, flags and history). The filters live in the address, so a view can be
// bookmarked or sent on. Item text is untrusted: it only ever reaches the DOM via textContent.
//
// To an annotator (page.mine) the page is My answers: the items they answered with their own
// answer and a reviewer's verdict on it, their part of an item's trace, and E to change an
// answer on the labeling page (which comes back here when it is saved).
(() => {
  "use strict";

  const { api, say, node, plural, valueText, answerText, thumbnails, utcText, changedText, actionText, underText } =
    window.labelloop;
  const { commandKey, altChord, sentence, modelSaysText, newestOnly } = window.labelloop;
  const $ = (id) => document.getElementById(id);
  const page = JSON.parse($("items-data").textContent);
  const base = "/api/projects/" + encodeURIComponent(page.slug);
  const LIMIT = 50;
  const FILTERS = page.mine
    ? ["status", "label", "order", "q"]
    : ["status", "label", "annotator", "picked_by", "resolution", "split", "order", "q"];
  const STATES = page.state_words; // an answer's state as its annotator is told it

  const el = {
    app: $("items-app"),
    form: $("items-form"),
    messages: $("items-messages"),
    summary: $("items-summary"),
    rows: $("items-rows"),
    prev: $("items-prev"),
    next: $("items-next"),
    trace: $("item-trace"),
    traceTitle: $("trace-title"),
    traceBody: $("trace-body"),
    traceClose: $("trace-close"),
    q: $("f-q"),
  };

  const state = {
    offset: Math.max(0, parseInt(page.offset, 10) || 0),
    result: null,
    open: null, // the item id whose trace is shown
    answer: null, // My answers: the open item's newest answer of the caller's
    asked: newestOnly(), // lists fetched: a slow answer never overwrites a newer one
  };

  const narrow = window.matchMedia("(max-width: 900px)"); // items.css stacks the trace there
  const when = utcText;

  function filters() {
    const out = {};
    for (const name of FILTERS) {
      const value = $("f-" + name).value.trim();
      if (value && !(name === "status" && value === "all") && !(name === "order" && value === "id")) {
        out[name] = value;
      }
    }
    return out;
  }

  /** The address of this view: the filters, the page and the open item. */
  function remember() {
    const params = new URLSearchParams(filters());
    if (state.offset) params.set("offset", String(state.offset));
    if (state.open !== null) params.set("item", String(state.open));
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  // ------------------------------------------------------------------- the list

  function answerLine(answers) {
    if (!answers.length) return "—";
    return answers.map((a) => (a.status === "submitted" ? a.user : `${a.user} (${a.status.replaceAll("_", " ")})`)).join(", ");
  }

  function labelCell(row) {
    const td = node("td", "items-label");
    if (!row.resolution) {
      td.append(node("span", "muted", "no label yet"));
    } else {
      td.append(node("strong", "", valueText(row.label, undefined, page.types[page.target])));
      const how = row.resolution.replaceAll("_", " ") + (row.decided_by ? ` · ${row.decided_by}` : "");
      td.append(node("span", "items-how muted small", how));
    }
    return td;
  }

  /** My answers' cells: the caller's answer, the verdict on it, when it was given. */
  function ownCells(row) {
    const state = node("td", "items-state", STATES[row.state] || row.state);
    state.dataset.state = row.state;
    return [
      node("td", "items-label", valueText(row.label, undefined, page.types[page.target])),
      state,
      node("td", "items-when muted small", when(row.answered_at)),
    ];
  }

  function itemCells(row) {
    const answers = node("td", "items-answers", answerLine(row.answers));
    const flags = node("td", "items-flags");
    for (const kind of row.flags) flags.append(node("span", "badge badge-alert", kind.replaceAll("_", " ")), " ");
    return [labelCell(row), answers, flags];
  }

  /** What the item shows: its text, or an image's thumbnail (with the boxes of the row's label,
   * or of the caller's answer on My answers) beside its path, to find it by eye. */
  function contentCell(row) {
    const text = row.text + (row.truncated ? "…" : "");
    if (page.data_type !== "image") {
      const td = node("td", "items-text", text);
      td.dir = "auto"; // a right-to-left item reads right to left, as on the labeling page
      return td;
    }
    const { width, height, value } = row;
    const alt = "item " + (row.external_id ? String(row.external_id) : "#" + row.id);
    const labels = page.box_labels;
    const thumb = thumbnails.figure(`${base}/items/${row.id}/thumbnail?size=96`, { alt, value, width, height, labels });
    thumb.classList.add("items-thumb");
    const media = node("div", "items-media");
    media.append(thumb, node("span", "items-path", text));
    const td = node("td", "items-text");
    td.append(media);
    return td;
  }

  function renderRow(row) {
    const tr = node("tr", "items-row");
    tr.dataset.itemId = String(row.id);
    tr.tabIndex = -1; // the arrow keys move focus between rows; Tab reaches one (roving)
    tr.addEventListener("focus", () => {
      for (const other of el.rows.children) other.tabIndex = other === tr ? 0 : -1;
    });
    if (state.open === row.id) tr.setAttribute("aria-current", "true"); // its trace is open
    const name = node("th", "items-id");
    name.scope = "row";
    const open = node("button", "link-button", row.external_id ? String(row.external_id) : "#" + row.id);
    open.type = "button";
    open.tabIndex = -1;
    open.addEventListener("click", () => openTrace(row.id));
    name.append(open);
    const tags = [];
    if (row.split === "eval") tags.push(["eval", "badge-muted"]);
    if (row.gold) tags.push(["gold", "badge-warn"]);
    if (row.reviewing) tags.push([`on ${row.reviewing.user}'s review page`, "badge-muted"]);
    for (const [text, kind] of tags) name.append(" ", node("span", "badge " + kind, text));
    tr.append(name, contentCell(row), ...(page.mine ? ownCells(row) : itemCells(row)));
    tr.addEventListener("click", (e) => {
      // A tap or click anywhere on the row opens its trace, but not one on a control of its own
      // (the id's button opens it itself) nor one that ends selecting the row's words to copy.
      if (e.target.closest("a, button, input, select, textarea, label")) return;
      const selected = window.getSelection();
      if (selected && !selected.isCollapsed && tr.contains(selected.anchorNode)) return;
      openTrace(row.id);
    });
    return tr;
  }

  async function load({ focusFirst = false } = {}) {
    const newest = state.asked();
    const params = new URLSearchParams({ ...filters(), limit: String(LIMIT), offset: String(state.offset) });
    el.app.dataset.state = "loading";
    el.summary.textContent = "Loading…";
    try {
      const result = await api("GET", `${base}/items?${params}`, undefined, { loginOn401: true });
      if (!newest()) return;
      state.result = result;
      el.messages.replaceChildren();
      el.rows.replaceChildren(...result.items.map(renderRow));
      if (el.rows.firstElementChild) el.rows.firstElementChild.tabIndex = 0;
      const first = result.total ? result.offset + 1 : 0;
      const last = result.offset + result.items.length;
      const what = page.mine ? "answer" : "item";
      // Both splits listed: say how many are eval items, as the project page counts the
      // pool's labels only (57 labeled here against its 19 read as a mistake).
      const splits = result.by_split || {};
      const split =
        splits.eval && !params.get("split")
          ? ` (${(splits.pool || 0).toLocaleString()} pool, ${splits.eval.toLocaleString()} eval)`
          : "";
      el.summary.textContent = !result.total
        ? `No ${what} matches these filters.`
        : result.items.length
          ? `${plural(result.total, what)}${split}; showing ${first.toLocaleString()}–${last.toLocaleString()}.`
          : `${plural(result.total, what)}${split}; none this far on (go back a page).`;
      // a long query: which of its words were searched, as the search page says it
      if (result.cut) el.summary.textContent += " " + sentence(result.note);
      el.prev.disabled = result.offset === 0;
      el.next.disabled = last >= result.total || result.offset + LIMIT > page.max_offset;
      el.app.dataset.state = "ready";
      remember();
      if (focusFirst && el.rows.firstElementChild) el.rows.firstElementChild.focus();
    } catch (err) {
      if (!newest()) return;
      say(el.messages, "error", err.message);
      el.summary.textContent = "";
      el.app.dataset.state = "error";
    }
  }

  function turn(by) {
    if (!state.result) return;
    const offset = state.offset + by * LIMIT;
    if (offset < 0 || offset >= state.result.total) return;
    state.offset = offset;
    load({ focusFirst: true });
  }

  // ------------------------------------------------------------------ the trace

  function table(head, rows) {
    const wrap = node("div", "table-wrap");
    const t = node("table", "table trace-table");
    const thead = node("thead");
    const tr = node("tr");
    for (const h of head) {
      const th = node("th", "", h);
      th.scope = "col";
      tr.append(th);
    }
    thead.append(tr);
    const tbody = node("tbody");
    for (const cells of rows) {
      const r = node("tr");
      for (const c of cells) {
        const td = node("td", "wrap");
        td.append(c); // text, or a node of its own
        r.append(td);
      }
      tbody.append(r);
    }
    t.append(thead, tbody);
    wrap.append(t);
    return wrap;
  }

  /** A flag's note in the trace: the label the model says instead, from the flag's data, with
   * the note that raised the flag on hover; else the note. */
  function flagNote(f) {
    const said = modelSaysText(f.suggestion, f.confidence);
    if (said === null) return f.note || "";
    const span = node("span", "flag-suggestion", said);
    span.title = f.note || "";
    return span;
  }

  function part(title, content) {
    const section = node("section", "trace-part");
    section.append(node("h3", "subsection-title", title), content);
    return section;
  }

  /** One answer: who answered what, when and how long, under which guideline and model, and
   * why the item was served to them (My answers: the caller's, with the verdict on it).
   * ``now``, the guideline's version today, is said beside an older one the answer was made under. */
  function answerBlock(a, text, now) {
    const box = node("div", "trace-answer");
    const head = node("p", "trace-answer-head");
    head.append(node("strong", "", a.user || "You"), " answered ", node("strong", "", answerText(a.value, text, page.types)));
    if (a.corrected_value) {
      head.append(", corrected to ", node("strong", "", answerText(a.corrected_value, text, page.types)));
    }
    const status = (a.user ? a.status.replaceAll("_", " ") : STATES[a.state] || a.state) + (a.rework ? ", a rework" : "");
    // A changed answer's value and guideline are the change's: its time is said beside them.
    const times = [`${when(a.created_at)} UTC`, changedText(a)].filter(Boolean).join(" · ");
    const facts = [
      `${times} · ${(a.active_ms / 1000).toFixed(1)} s active · ${status}`,
      [
        a.guideline_version
          ? `guideline v${a.guideline_version}` + (now > a.guideline_version ? ` (v${now} now)` : "")
          : "no guideline version",
        // which model picked the item, in the server's words (as the labeling page said it):
        // "v3", "none (v1 was a cold start)", "no (v3 was current)" for a search pick
        a.selection && a.selection.picked_by ? `picked by model: ${a.selection.picked_by}` : "no model yet",
      ].join(" · "),
      a.suggestion ? a.suggestion.sentence : "no suggestion shown", // by whom, and taken or not
    ];
    const why = a.selection && (a.selection.reason || a.selection.strategy);
    if (a.selection && a.selection.strategy === "import") facts.push(`from an import: ${a.selection.reason}`);
    else if (why) facts.push(`why picked: ${[a.selection.strategy, a.selection.reason].filter(Boolean).join(": ")}`);
    box.append(head, ...facts.map((f) => node("p", "trace-answer-fact muted small", f)));
    return box;
  }

  /** The trace's title and the item as it starts: its image, if any, with the boxes of
   * ``value`` (the label, or the caller's newest answer) drawn on it, and its content. */
  function itemHead(item, value) {
    el.traceTitle.textContent = item.external_id ? `Item ${item.external_id}` : `Item #${item.id}`;
    const body = [];
    if (page.data_type === "image") {
      const picture = thumbnails.figure(`${base}/items/${item.id}/thumbnail?size=256`, {
        alt: "the item's image",
        value,
        width: item.data.width,
        height: item.data.height,
        labels: page.box_labels,
        legend: true,
      });
      picture.classList.add("trace-figure");
      picture.querySelector("img").classList.add("trace-image");
      body.push(picture);
    }
    const row = window.labelloop && window.labelloop.renderers && window.labelloop.renderers.table;
    if (page.data_type === "table" && row) {
      const fields = node("div", "trace-text"); // as the labeling page shows it (fields.js)
      row(item, fields);
      body.push(fields);
      return body;
    }
    const text = item.data.text ?? item.data.image ?? item.data.audio ?? JSON.stringify(item.data.row ?? item.data);
    const shown = node("p", "trace-text", String(text));
    shown.dir = "auto"; // a right-to-left item reads right to left, as on the labeling page
    body.push(shown);
    return body;
  }

  /** The verdicts on one answer, in a table that follows it: who, which (a fix with the value
   * it set), the note, when (UTC, as every time of the trace) and under which guideline (the
   * version in force then, which may be newer than the answer's). */
  function reviewTable(reviews, text, note = "Comment") {
    const rows = reviews.map((r) => [
      r.reviewer,
      r.verdict +
        (r.verdict === "fix" && r.corrected_value ? ` to ${answerText(r.corrected_value, text, page.types)}` : "") +
        (r.tier > 1 ? ` (tier ${r.tier})` : ""), // tier: reviewers only
      r.comment || "",
      when(r.created_at),
      r.guideline_version ? `v${r.guideline_version}` : "none",
    ]);
    return table(["Reviewer", "Verdict", note, "When (UTC)", "Guideline"], rows);
  }

  function renderTrace(d) {
    const item = d.item;
    const body = itemHead(item, d.label && d.label.value);
    const text = spannedText(item);

    const label = d.label;
    const said = node("p", "trace-label");
    if (label) {
      said.append(node("strong", "", answerText(label.value, text, page.types)));
      const how = [label.resolution.replaceAll("_", " ")];
      if (label.decided_by) how.push(`by ${label.decided_by}`);
      how.push(`at ${when(label.decided_at)} UTC`);
      if (typeof label.confidence === "number") how.push(`model ${label.confidence.toFixed(2)} sure`);
      said.append(" · " + how.join(" "));
      if (label.note) said.append(": ", node("q", "trace-note", label.note)); // the expert's why
    } else {
      said.append(node("span", "muted", "No label yet."));
    }
    body.push(part("Label", said));
    if (d.gold) body.push(part("Gold answer", node("p", "", answerText(d.gold.value, text, page.types))));

    // Each answer with the verdicts on it, so two answers' verdicts cannot be told apart wrongly.
    const answers = node("div", "trace-answers");
    for (const a of d.annotations) {
      answers.append(answerBlock(a, text, d.guideline_version));
      const on = d.reviews.filter((r) => r.annotation_id === a.id);
      if (on.length) answers.append(reviewTable(on, text));
    }
    body.push(part("Answers", d.annotations.length ? answers : node("p", "muted", "Nobody answered it here.")));
    if (d.flags.length) {
      const rows = d.flags.map((f) => [
        f.kind.replaceAll("_", " "),
        flagNote(f),
        f.user || "the checks",
        f.open ? "open" : f.resolved_note || "resolved",
        when(f.created_at),
      ]);
      body.push(part("Flags", table(["Kind", "Note", "By", "State", "When (UTC)"], rows)));
    }
    if (d.history.length) {
      const rows = d.history.map((h) => [when(h.at), historyText(h, text), h.actor || "the local operator"]);
      body.push(part("History", table(["When (UTC)", "What", "Who"], rows)));
    }
    if (page.expert) {
      const link = node("a", "btn btn-small", "Open in adjudication");
      link.href = `/p/${encodeURIComponent(page.slug)}/adjudicate?item=${item.id}`;
      body.push(link);
    }
    el.traceBody.replaceChildren(...body);
  }

  /** An event of the item's history in the review page's words, with the value it set:
   * "decided negative", "changed their label to neutral". */
  function historyText(h, text) {
    const p = h.payload || {};
    const value = p.new || p.value;
    const set = h.action !== "flag.raise" && value && typeof value === "object";
    return actionText(h) + (set ? " " + answerText(value, text, page.types) : "") + underText(p);
  }

  /** The item's text that its spans' offsets count in, or undefined (no text: no spans). */
  function spannedText(item) {
    const text = (item.data || {}).text;
    return typeof text === "string" ? text : undefined;
  }

  /** My answers: the caller's answers to the item, the verdicts and notes on each, their own
   * actions on it, and the way to change the newest answer (or why it cannot change). */
  function renderOwnTrace(d) {
    const newest = d.answers[d.answers.length - 1];
    const body = itemHead(d.item, newest.value);
    const text = spannedText(d.item);
    const answers = node("div", "trace-answers");
    for (const a of d.answers) {
      answers.append(answerBlock(a, text));
      if (a.reviews.length) answers.append(reviewTable(a.reviews, text, "Note"));
    }
    body.push(part(d.answers.length > 1 ? "Your answers" : "Your answer", answers));
    state.answer = newest;
    const change = node("button", "btn btn-primary btn-small", "Change my answer ");
    change.type = "button";
    change.id = "change-answer";
    change.append(node("kbd", "", "E"));
    change.disabled = Boolean(newest.refusal);
    change.addEventListener("click", () => changeAnswer(newest, d.item.id));
    body.push(change);
    if (newest.refusal) body.push(node("p", "trace-refusal muted small", newest.refusal));
    if (d.history.length) {
      const rows = d.history.map((h) => [when(h.at), didText(h, text)]);
      body.push(part("What you did", table(["When (UTC)", "What"], rows)));
    }
    el.traceBody.replaceChildren(...body);
  }

  /** One of the caller's own audited actions on the item, in words. */
  function didText(h, text) {
    const p = h.payload || {};
    switch (h.action) {
      case "annotation.submit":
        return `answered ${answerText(p.value, text, page.types)}` + underText(p);
      case "annotation.edit":
        return `changed the answer from ${answerText(p.old, text, page.types)} to ${answerText(p.new, text, page.types)}` + underText(p);
      case "assignment.skip":
        return "skipped it";
      case "flag.raise":
      case "flag.note":
        return "flagged it as ambiguous" + (p.note ? `: ${p.note}` : "");
      default:
        return actionText(h);
    }
  }

  /** Open the labeling page on one of the caller's answers (to item `itemId`); saving it comes
   * back to this view with that item open. */
  function changeAnswer(answer, itemId) {
    if (!answer) return;
    if (answer.refusal) {
      say(el.messages, "info", answer.refusal);
      return;
    }
    const back = new URLSearchParams(location.search);
    back.set("item", String(itemId));
    const params = new URLSearchParams({ annotation: String(answer.annotation_id), from: back.toString() });
    location.assign(`/p/${encodeURIComponent(page.slug)}/label?${params}`);
  }

  /** What E changes: the open item's newest answer, else the focused row's. */
  function changeInReach() {
    if (state.open !== null) {
      if (state.answer) changeAnswer(state.answer, state.open);
      return;
    }
    const row = document.activeElement && document.activeElement.closest && document.activeElement.closest("tr.items-row");
    const found = row && state.result && state.result.items.find((r) => String(r.id) === row.dataset.itemId);
    if (found) changeAnswer(found, found.id);
  }

  async function openTrace(id) {
    state.open = id;
    state.answer = null;
    for (const tr of el.rows.children) {
      if (tr.dataset.itemId === String(id)) tr.setAttribute("aria-current", "true");
      else tr.removeAttribute("aria-current");
    }
    el.trace.hidden = false;
    if (narrow.matches) el.trace.scrollIntoView({ block: "start" }); // stacked below the list
    el.traceTitle.textContent = "Loading…";
    el.traceBody.replaceChildren();
    remember();
    try {
      const d = await api("GET", `${base}/items/${id}/${page.mine ? "mine" : "review"}`, undefined, {
        loginOn401: true,
      });
      if (state.open !== id) return;
      if (page.mine) renderOwnTrace(d);
      else renderTrace(d);
      el.trace.dataset.itemId = String(id);
    } catch (err) {
      if (state.open !== id) return;
      el.traceTitle.textContent = "Could not open the item";
      el.traceBody.replaceChildren(node("p", "muted", err.message));
    }
  }

  function closeTrace() {
    const id = state.open;
    state.open = null;
    el.trace.hidden = true;
    delete el.trace.dataset.itemId;
    remember();
    const row = id === null ? null : el.rows.querySelector(`tr[data-item-id="${id}"]`);
    if (row) {
      row.removeAttribute("aria-current");
      row.focus();
    }
  }

  // ------------------------------------------------------------------ the keys

  function moveFocus(by) {
    const rows = [...el.rows.children];
    if (!rows.length) return;
    const at = rows.indexOf(document.activeElement);
    const next = at < 0 ? (by > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + by));
    rows[next].focus();
  }

  document.addEventListener("keydown", (e) => {
    if (commandKey(e) || altChord(e)) return;
    const typing = e.target.closest && e.target.closest("input, select, textarea");
    if (e.key === "Escape" && !el.trace.hidden) {
      e.preventDefault();
      closeTrace();
      return;
    }
    if (typing) return;
    if (e.key === "/") {
      e.preventDefault();
      el.q.focus();
      el.q.select();
    } else if (e.key === "ArrowDown" || e.key === "j") {
      e.preventDefault();
      moveFocus(1);
    } else if (e.key === "ArrowUp" || e.key === "k") {
      e.preventDefault();
      moveFocus(-1);
    } else if (e.key === "Enter" && e.target.matches && e.target.matches("tr.items-row")) {
      e.preventDefault();
      openTrace(Number(e.target.dataset.itemId));
    } else if (page.mine && (e.key === "e" || e.key === "E")) {
      e.preventDefault();
      changeInReach();
    } else if (e.key === "[") {
      turn(-1);
    } else if (e.key === "]") {
      turn(1);
    }
  });

  el.form.addEventListener("submit", (e) => {
    e.preventDefault();
    state.offset = 0;
    load();
  });
  for (const name of FILTERS) {
    if (name !== "q" && name !== "annotator") $("f-" + name).addEventListener("change", () => el.form.requestSubmit());
  }
  el.prev.addEventListener("click", () => turn(-1));
  el.next.addEventListener("click", () => turn(1));
  el.traceClose.addEventListener("click", closeTrace);

  load();
  const first = parseInt(page.open, 10);
  if (first > 0) openTrace(first);
})();
