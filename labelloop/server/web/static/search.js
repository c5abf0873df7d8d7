// The pool search page: words or "more like this", pick hits by keyboard, send them to the queue.
// Item text is untrusted: it only ever reaches the DOM through text nodes and textContent.
(() => {
  "use strict";

  const { api, newestOnly, say, sentence } = window.labelloop;
  const $ = (id) => document.getElementById(id);
  const page = JSON.parse($("search-data").textContent);
  const base = "/api/projects/" + encodeURIComponent(page.slug);
  const LIMIT = 20;
  const SLOW_MS = 2000;
  const PREPARING_POLL_MS = 1000;
  // The first "More like this" after the server starts (or after an import) computes the
  // features of every pool item: tens of seconds on a large pool, with no sign of life else.
  const SLOW_LIKE =
    "Searching… the first “More like this” after a start or an import measures every pool item, which takes a while on a large pool; the next ones answer at once.";

  const el = {
    form: $("search-form"),
    q: $("search-q"),
    messages: $("search-messages"),
    summary: $("results-summary"),
    results: $("results"),
    send: $("send-btn"),
    selectAll: $("select-all-btn"),
    prev: $("prev-btn"),
    next: $("next-btn"),
    likeBanner: $("like-banner"),
    likeName: $("like-name"),
    likeBy: $("like-by"),
    likeClear: $("like-clear"),
  };

  const state = {
    result: null, // the last search's JSON
    words: page.q, // the words of the last word search, whole (a long one is searched cut)
    selected: new Set(), // item ids ticked
    busy: false,
    asked: newestOnly(), // searches started: only the latest one's answer is shown
  };

  const plural = (n, word) => `${n.toLocaleString()} ${n === 1 ? word : word + "s"}`;
  // Words find an image or audio item by its file's path, the only words it has.
  const inFiles = page.data_type === "image" || page.data_type === "audio";

  // ---------------------------------------------------------------- rendering

  function badge(text, kind) {
    const span = document.createElement("span");
    span.className = "badge " + kind;
    span.textContent = text;
    return span;
  }

  // The text as nodes, the ranges the server matched in <mark> (its [start, end) count
  // characters, code points, as Array.from splits a string); never parsed as HTML.
  function marked(text, marks) {
    const chars = Array.from(text);
    const nodes = [];
    let done = 0;
    for (const [start, end] of marks) {
      if (start < done || end <= start) continue;
      if (start > done) nodes.push(document.createTextNode(chars.slice(done, start).join("")));
      const mark = document.createElement("mark");
      mark.textContent = chars.slice(start, end).join("");
      nodes.push(mark);
      done = end;
    }
    if (done < chars.length) nodes.push(document.createTextNode(chars.slice(done).join("")));
    return nodes;
  }

  // Rounded down: 0.9999 (the same words, another text) must not read 1.000.
  const shownScore = (score) => (Math.floor(score * 1000) / 1000).toFixed(3);

  function renderHit(hit) {
    const li = document.createElement("li");
    li.className = "hit";
    li.dataset.itemId = String(hit.id);
    li.tabIndex = -1; // the arrow keys move focus between rows
    li.classList.toggle("is-labeled", Boolean(hit.labeled));
    li.classList.toggle("is-queued", Boolean(hit.queued) && !hit.labeled);
    const label = document.createElement("label");
    label.className = "hit-label";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "hit-check";
    box.value = String(hit.id);
    box.tabIndex = -1;
    box.disabled = hit.labeled || hit.queued;
    box.checked = state.selected.has(hit.id);
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(hit.id);
      else state.selected.delete(hit.id);
      li.classList.toggle("is-selected", box.checked);
      renderSendButton();
    });
    const body = document.createElement("span");
    body.className = "hit-body";
    const head = document.createElement("span");
    head.className = "hit-head";
    const name = document.createElement("span");
    name.className = "hit-id";
    name.textContent = hit.external_id ? String(hit.external_id) : "#" + hit.id;
    head.append(name);
    if (hit.same_text) head.append(badge("same text", "badge-muted"));
    else if (typeof hit.score === "number") head.append(badge("similarity " + shownScore(hit.score), "badge-muted"));
    if (hit.labeled) head.append(badge("labeled", "badge-muted"));
    else if (hit.queued) head.append(badge("in the queue", "badge-warn"));
    const text = document.createElement("span");
    text.className = "hit-text";
    text.dir = "auto"; // a right-to-left item reads right to left
    text.append(...marked(hit.text, hit.marks || []));
    if (hit.truncated) text.append("…");
    body.append(head, text);
    if (page.data_type === "image") {
      // a small picture of the image item (served from the media roots, like the item itself)
      const thumb = document.createElement("img");
      thumb.className = "hit-thumb";
      thumb.loading = "lazy";
      thumb.alt = "";
      thumb.src = `${base}/items/${encodeURIComponent(hit.id)}/thumbnail?size=96`;
      label.append(box, thumb, body);
    } else {
      label.append(box, body);
    }
    const more = document.createElement("button");
    more.type = "button";
    more.className = "btn btn-quiet btn-small hit-more";
    more.textContent = "More like this";
    more.addEventListener("click", () => runLike(hit.id, 0));
    li.classList.toggle("is-selected", box.checked);
    li.append(label, more);
    return li;
  }

  function render(result) {
    const focused = hitRows().indexOf(document.activeElement && document.activeElement.closest("li.hit"));
    state.result = result;
    el.results.replaceChildren(...result.items.map(renderHit));
    if (focused >= 0) focusHit(focused);
    const first = result.offset + 1;
    const last = result.offset + result.items.length;
    if (result.mode === "like") {
      el.likeBanner.hidden = false;
      el.likeName.textContent = result.like.external_id
        ? String(result.like.external_id)
        : "#" + result.like.id;
      el.likeBy.textContent = result.by;
      el.summary.textContent = result.items.length
        ? `Most similar ${first}–${last} of ${plural(result.total, "pool item")}.`
        : result.note
          ? sentence(result.note)
          : "No other pool item has anything in common with it.";
    } else {
      el.likeBanner.hidden = true;
      el.summary.textContent =
        (result.total
          ? `${plural(result.total, "item")} ${result.total === 1 ? "matches" : "match"} “${result.q}”; showing ${first}–${last}.`
          : inFiles
            ? `No pool item's file path holds “${result.q}” (${result.syntax}).`
            : `No pool item matches “${result.q}” (${result.syntax}).`) +
        (result.cut ? " " + sentence(result.note) : "");
    }
    el.prev.disabled = result.offset === 0;
    el.next.disabled = result.offset + result.items.length >= result.total;
    renderSendButton();
  }

  function renderSendButton() {
    const n = state.selected.size;
    el.send.disabled = n === 0 || state.busy;
    // nothing left to select (no hits, or all labeled, queued or selected): a click did nothing
    el.selectAll.disabled = !el.results.querySelector("input.hit-check:not(:disabled):not(:checked)");
    el.send.firstChild.textContent = n ? `Send ${n} to queue ` : "Send to queue ";
  }

  // ---------------------------------------------------------------- searching

  function remember(params) {
    const url = new URL(location.href);
    url.search = new URLSearchParams(params).toString();
    history.replaceState(null, "", url);
  }

  // A search asked meanwhile supersedes this one: a slow "More like this" (the first one
  // computes the pool's features) must not replace the words searched after it.
  async function load(params) {
    const newest = state.asked();
    state.busy = true;
    renderSendButton();
    el.summary.textContent = "Searching…";
    const slow = params.like
      ? setTimeout(() => {
          if (newest()) el.summary.textContent = SLOW_LIKE;
        }, SLOW_MS)
      : null;
    try {
      const query = new URLSearchParams({ ...params, limit: String(LIMIT) });
      let result = await api("GET", `${base}/search?${query}`, undefined, { loginOn401: true });
      // The pool's features are being prepared (after a start or an import): say so and ask
      // again until they are, unless another search was asked meanwhile.
      while (result.preparing && newest()) {
        clearTimeout(slow);
        el.summary.textContent = sentence(result.note);
        await new Promise((resolve) => setTimeout(resolve, PREPARING_POLL_MS));
        if (!newest()) return null;
        result = await api("GET", `${base}/search?${query}`, undefined, { loginOn401: true });
      }
      if (!newest()) return null;
      el.messages.replaceChildren();
      render(result);
      return result;
    } catch (err) {
      if (!newest()) return null;
      say(el.messages, "error", err.detail || String(err));
      el.summary.textContent = "The search failed.";
      return null;
    } finally {
      clearTimeout(slow);
      if (newest()) {
        state.busy = false;
        renderSendButton();
      }
    }
  }

  // A new search (not another page of this one) takes the old hits away while it is asked:
  // ticked meanwhile (a "More like this" may be prepared for a while), they were sent to the
  // queue credited to the new search.
  function forget() {
    state.selected.clear();
    state.result = null;
    el.results.replaceChildren();
    el.likeBanner.hidden = true;
    el.prev.disabled = true;
    el.next.disabled = true;
    renderSendButton();
  }

  function runText(q, offset) {
    const words = q.trim();
    if (!words) {
      say(el.messages, "info", "Type a word to search for.");
      el.q.focus();
      return;
    }
    if (!state.result || state.result.mode !== "text" || state.words !== words) forget();
    state.words = words;
    remember({ q: words });
    load({ q: words, offset: String(offset) });
  }

  async function runLike(id, offset) {
    if (!state.result || state.result.mode !== "like" || state.result.like.id !== id) forget();
    remember({ like: String(id) });
    const result = await load({ like: String(id), offset: String(offset) });
    // to the first hit, unless the person went on typing in a box while it was prepared
    if (result && offset === 0 && !typing(document.activeElement)) focusHit(0);
  }

  // ---------------------------------------------------------------- sending

  async function send() {
    const result = state.result;
    if (!result || state.busy) return;
    if (state.selected.size === 0) {
      say(el.messages, "info", "Nothing is selected: Space selects the item in focus, A selects them all.");
      return;
    }
    const body = { item_ids: Array.from(state.selected) };
    if (result.mode === "like") body.like = result.like.id;
    else body.query = result.q;
    state.busy = true;
    renderSendButton();
    try {
      const done = await api("POST", `${base}/seeds`, body, { loginOn401: true });
      const sentIds = new Set(done.added);
      for (const hit of result.items) {
        if (sentIds.has(hit.id)) hit.queued = true;
      }
      state.selected.clear();
      render(result);
      const skipped = done.already_labeled.length + done.already_queued.length;
      say(
        el.messages,
        "info",
        `Sent ${plural(done.added.length, "item")} to the front of the queue (“${done.reason}”).` +
          (skipped ? ` ${plural(skipped, "item")} were already labeled or queued.` : "") +
          " They come next on the labeling page.",
      );
    } catch (err) {
      say(el.messages, "error", err.detail || String(err));
    } finally {
      state.busy = false;
      renderSendButton();
    }
  }

  // ---------------------------------------------------------------- keyboard

  function hitRows() {
    return Array.from(el.results.querySelectorAll("li.hit"));
  }

  function focusHit(index) {
    const rows = hitRows();
    if (!rows.length) return;
    rows[Math.max(0, Math.min(index, rows.length - 1))].focus();
  }

  function toggle(row) {
    const box = row.querySelector("input.hit-check");
    if (!box) return;
    if (!box.disabled) box.click();
    // A greyed-out box says nothing by itself: say why this one cannot be ticked.
    else if (row.classList.contains("is-labeled"))
      say(el.messages, "info", "This item is labeled already: there is nothing to send to the queue.");
    else if (row.classList.contains("is-queued"))
      say(el.messages, "info", "This item is in the queue already: it comes on the labeling page in its turn.");
  }

  function typing(node) {
    if (!node || !node.tagName) return false;
    if (node.tagName === "INPUT") return node.type !== "checkbox";
    return /^(TEXTAREA|SELECT)$/.test(node.tagName) || node.isContentEditable;
  }

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.isComposing) return;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target === el.q && e.key === "ArrowDown") {
      e.preventDefault();
      focusHit(0);
      return;
    }
    if (typing(e.target)) return;
    const rows = hitRows();
    const row = e.target instanceof Element ? e.target.closest("li.hit") : null;
    const at = row ? rows.indexOf(row) : -1;
    const onRow = at >= 0 && e.target === row; // not on its checkbox or its button
    if (e.key === "/") {
      e.preventDefault();
      el.q.focus();
      el.q.select();
    } else if ((e.key === "ArrowDown" || e.key === "j") && at >= 0) {
      e.preventDefault();
      focusHit(at + 1);
    } else if ((e.key === "ArrowUp" || e.key === "k") && at >= 0) {
      e.preventDefault();
      if (at === 0) el.q.focus();
      else focusHit(at - 1);
    } else if ((e.key === " " || e.key === "Enter" || e.key === "x") && onRow) {
      e.preventDefault();
      toggle(row);
    } else if ((e.key === "m" || e.key === "M") && at >= 0) {
      e.preventDefault();
      runLike(Number(row.dataset.itemId), 0);
    } else if (e.key === "a" || e.key === "A") {
      e.preventDefault();
      selectAll();
    } else if (e.key === "Escape") {
      el.q.focus();
    }
  });

  function selectAll() {
    for (const box of el.results.querySelectorAll("input.hit-check")) {
      if (!box.disabled && !box.checked) box.click();
    }
  }

  el.form.addEventListener("submit", (e) => {
    e.preventDefault();
    runText(el.q.value, 0);
  });
  el.send.addEventListener("click", () => send());
  el.selectAll.addEventListener("click", () => selectAll());
  el.likeClear.addEventListener("click", () => {
    el.q.focus();
    if (el.q.value.trim()) runText(el.q.value, 0);
  });
  el.prev.addEventListener("click", () => turnPage(-1));
  el.next.addEventListener("click", () => turnPage(1));

  function turnPage(direction) {
    const result = state.result;
    if (!result) return;
    const offset = Math.max(0, result.offset + direction * LIMIT);
    if (result.mode === "like") runLike(result.like.id, offset);
    else runText(state.words, offset);
  }

  // ---------------------------------------------------------------- start

  if (page.error) say(el.messages, "error", page.error);
  if (page.initial && page.initial.preparing) runLike(page.initial.like.id, 0);
  else if (page.initial) render(page.initial);
  renderSendButton();
})();
