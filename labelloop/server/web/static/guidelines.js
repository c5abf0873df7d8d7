// The project page's Guideline section: every member sees the version history, the diff of a
// version against the one before and the examples the guideline pins; managers publish a new
// version, with a live preview, and unpin examples. User text (authors, summaries, the diff,
// item text and notes) only reaches the DOM via textContent; the one HTML inserted is the
// guideline as the server renders it (render_markdown: raw HTML escaped, unsafe links dropped),
// as the page itself shows it.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const panel = $("guideline-panel");
  const pageData = $("page-data");
  if (!panel || !pageData) return;
  const page = JSON.parse(pageData.textContent);
  const { api, newestOnly, node, say, ApiError } = window.labelloop;
  const E = window.labelloop.examples;
  const project = "/api/projects/" + encodeURIComponent(page.slug || "");
  const base = project + "/guidelines";
  const PREVIEW_MS = 400;

  const el = {
    versionHead: $("guideline-version-head"),
    version: $("guideline-version"),
    current: $("guideline-current"),
    history: $("guideline-history"),
    historyStatus: $("guideline-history-status"),
    diffBox: $("guideline-diff-box"),
    diffTitle: $("guideline-diff-title"),
    diff: $("guideline-diff"),
    diffClose: $("guideline-diff-close"),
    form: $("guideline-form"),
    body: $("guideline-body"),
    summary: $("guideline-summary"),
    save: $("guideline-save"),
    next: $("guideline-next"),
    result: $("guideline-result"),
    previewBox: $("guideline-preview-box"),
    preview: $("guideline-preview"),
    examples: $("guideline-examples"),
    examplesStatus: $("guideline-examples-status"),
    examplesResult: $("guideline-examples-result"),
  };
  let opener = null; // the button that opened the diff, to return the focus to

  const plural = (n, word) => `${Number(n).toLocaleString("en-US")} ${n === 1 ? word : word + "s"}`;

  // ---------------------------------------------------------------- history

  function entry(v) {
    const li = node("li", "guideline-version");
    li.dataset.version = String(v.version);
    const head = node("p", "guideline-version-head");
    head.append(node("strong", "", "v" + v.version));
    const when = node("time", "", v.created_at.slice(0, 16).replace("T", " "));
    when.dateTime = v.created_at;
    head.append(
      " · ",
      node("span", "guideline-author", v.author || "(local operator)"),
      " · ",
      when,
      " · ",
      node("span", "guideline-labels", plural(v.annotations, "answer") + " made under it"),
    );
    // The text's hash, short; the full one and the recorded one are in the API's history.
    const hash = node("code", "guideline-hash", "sha256:" + v.sha256.slice(0, 12));
    hash.title = "SHA-256 of this version's text: " + v.sha256;
    head.append(" · ", hash);
    li.append(head, node("p", "guideline-summary", v.summary));
    if (v.recorded_sha256 && v.recorded_sha256 !== v.sha256) {
      const said = "sha256:" + v.recorded_sha256.slice(0, 12);
      li.append(
        node("p", "notice notice-error", `Its text was changed after it was published (recorded ${said}).`),
      );
    }
    if (v.version > 1) {
      const button = node("button", "btn btn-small btn-quiet", `Changes from v${v.version - 1}`);
      button.type = "button";
      button.dataset.diff = String(v.version);
      button.setAttribute("aria-controls", "guideline-diff-box");
      li.append(button);
    }
    return li;
  }

  // An unpin, a publish and an unpin refused (the guideline moved on) each fetch the history and
  // the examples again: of two ending close together only the newest answer of each is drawn,
  // or the older one would list again what the newer one took out.
  const historyAsked = newestOnly();
  async function loadHistory() {
    const newest = historyAsked();
    try {
      const versions = await api("GET", base);
      if (!newest()) return;
      el.history.replaceChildren(...versions.map(entry));
      el.historyStatus.textContent = plural(versions.length, "version") + ", newest first";
    } catch (err) {
      if (!newest()) return;
      el.historyStatus.textContent = `Could not load the history: ${err.message}`;
    }
  }

  // ---------------------------------------------------------------- diff

  function diffLine(line) {
    let kind = "diff-same";
    if (line.startsWith("+++") || line.startsWith("---")) kind = "diff-file";
    else if (line.startsWith("@@")) kind = "diff-hunk";
    else if (line.startsWith("+")) kind = "diff-add";
    else if (line.startsWith("-")) kind = "diff-del";
    return node("span", "diff-line " + kind, line + "\n");
  }

  // A second version's changes opened while the first one's are on their way: only the newest
  // answer is drawn, or the older one would show under the newer one's heading.
  const diffAsked = newestOnly();
  async function openDiff(version, button) {
    const newest = diffAsked();
    opener = button;
    const from = version - 1;
    el.diffTitle.textContent = `Changes from v${from} to v${version}`;
    el.diff.replaceChildren(node("span", "muted", "Loading…"));
    el.diffBox.hidden = false;
    el.diffTitle.focus();
    try {
      const found = await api("GET", `${base}/diff?from=${from}&to=${version}`);
      if (!newest()) return;
      const added = found.examples_added || [];
      const removed = found.examples_removed || [];
      const counts = [
        added.length ? plural(added.length, "example") + " added" : "",
        removed.length ? plural(removed.length, "example") + " removed" : "",
      ].filter(Boolean);
      el.diffTitle.textContent =
        `Changes from v${from} to v${version}: ` +
        `${plural(found.added, "line")} added, ${plural(found.removed, "line")} removed` +
        counts.map((part) => ", " + part).join("");
      const lines = found.diff ? found.diff.replace(/\n$/, "").split("\n") : [];
      el.diff.replaceChildren(
        ...(lines.length ? lines.map(diffLine) : [node("span", "muted", "No change in the text.\n")]),
        ...removed.map((x) => exampleLine("-", x, "diff-del")),
        ...added.map((x) => exampleLine("+", x, "diff-add")),
      );
    } catch (err) {
      if (!newest()) return;
      el.diff.replaceChildren(node("span", "notice-error", `Could not load the diff: ${err.message}`));
    }
  }

  /** An example the version added or removed, as a diff line ("+ example r042: negative"). */
  function exampleLine(sign, example, kind) {
    const note = example.note ? ` (${example.note})` : "";
    const line = `${sign} example ${E.itemName(example)}: ${example.label}${note}`;
    return node("span", `diff-line diff-example ${kind}`, line + "\n");
  }

  function closeDiff() {
    el.diffBox.hidden = true;
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  }

  el.history.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-diff]");
    if (button) openDiff(Number(button.dataset.diff), button);
  });
  el.diffClose.addEventListener("click", closeDiff);
  el.diffBox.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDiff();
  });

  // ---------------------------------------------------------------- examples

  // The examples of one guideline version, by label. `examples.version` is
  // the version the list shows: an unpin is made from it, and refused (409) when the guideline
  // has moved on since.
  const examples = { version: Number(page.guideline_version) || 0 };

  function exampleEntry(x) {
    const li = node("li", "example");
    li.dataset.itemId = String(x.item_id);
    const name = E.itemName(x);
    const head = node("p", "example-head");
    head.append(
      node("span", "chip example-chip", String(x.label)),
      node("strong", "", "item " + name),
      node("span", "small", `pinned in v${x.added_in} by ${x.added_by || "(local operator)"}`),
    );
    if (page.can_edit_guideline) {
      const unpin = node("button", "btn btn-small btn-quiet", "Unpin");
      unpin.type = "button";
      unpin.dataset.unpin = String(x.item_id);
      unpin.dataset.name = name;
      unpin.setAttribute("aria-label", `Unpin item ${name}`);
      head.append(unpin);
    }
    li.append(head, E.excerpt(x, mediaUrl, page.box_labels));
    const note = E.note(x);
    if (note) li.append(note);
    return li;
  }

  function mediaUrl(x) {
    return `${project}/items/${encodeURIComponent(x.item_id)}/media`;
  }

  function showExamples(version, list) {
    examples.version = version;
    // Grouped by label (labels in the order their first example was pinned), pin order within.
    const first = new Map();
    list.forEach((x, i) => first.has(x.label) || first.set(x.label, i));
    const byLabel = [...list].sort((a, b) => first.get(a.label) - first.get(b.label));
    el.examples.replaceChildren(...byLabel.map(exampleEntry));
    el.examples.hidden = list.length === 0;
    const how = page.can_edit_guideline
      ? " Pin one from the review page (P) or with labelloop guidelines pin."
      : "";
    el.examplesStatus.textContent = list.length
      ? `${plural(list.length, "example")} in v${version}, by label`
      : `No examples in v${version}.${how}`;
  }

  const examplesAsked = newestOnly();
  /** The examples of `version` (the newest when not given), shown unless asked for again
   * meanwhile; the version answered. */
  async function loadExamples(version) {
    const newest = examplesAsked();
    const query = version ? "?version=" + encodeURIComponent(version) : "";
    const found = await api("GET", `${base}/examples${query}`);
    if (newest()) showExamples(found.version, found.examples);
    return found.version;
  }

  async function unpin(button) {
    const from = examples.version;
    const name = button.dataset.name;
    const asked =
      `Unpin item ${name}? A new guideline version no longer shows it as an example; ` +
      "the versions before keep it.";
    if (!window.confirm(asked)) return;
    button.disabled = true;
    try {
      const done = await api(
        "DELETE",
        `${base}/examples/${encodeURIComponent(button.dataset.unpin)}?base_version=${from}`,
      );
      say(
        el.examplesResult,
        "info",
        `Unpinned item ${name} (${done.label}): v${done.version} no longer shows it as an example.`,
      );
      await Promise.all([loadExamples(done.version), loadHistory(), follow(done.version)]);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        const newest = await loadExamples().catch(() => null);
        await Promise.all([loadHistory(), newest ? follow(newest) : null]);
        say(
          el.examplesResult,
          "error",
          `Not unpinned: the guideline changed meanwhile` +
            (newest ? ` (it is at v${newest} now); the list shows that version.` : ".") +
            " Unpin again if you still mean to.",
        );
      } else {
        say(el.examplesResult, "error", `Not unpinned: ${err.message}`);
      }
      if (button.isConnected) button.disabled = false;
    }
  }

  /**
   * Head the section with `version`, as after a publish, when its text is the one shown (only
   * examples changed in between). The editor's base moves with it; a text someone else
   * published meanwhile is left for Publish to refuse (409), so it is never overwritten.
   */
  async function follow(version) {
    if (version <= shownVersion) return;
    try {
      const changed = await api("GET", `${base}/diff?from=${shownVersion}&to=${version}`);
      // Two unpins ending close together each follow: the later version, shown first, stays.
      if (version <= shownVersion) return;
      if (changed.added === 0 && changed.removed === 0) showVersion(version);
    } catch (_err) {
      // the heading stays; the history below names the newest version
    }
  }

  el.examples.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-unpin]");
    if (button) unpin(button);
  });

  // ---------------------------------------------------------------- publishing (managers)

  let shownVersion = Number(page.guideline_version) || 0; // the version the section heads with

  function showVersion(version) {
    shownVersion = version;
    const text = "v" + version;
    el.version.textContent = text;
    if (el.versionHead) el.versionHead.textContent = text;
    if (el.form) el.form.dataset.version = String(version);
    if (el.next) el.next.textContent = String(version + 1);
  }

  async function showCurrent(version) {
    const shown = await api("GET", `${base}/${version}`);
    el.current.innerHTML = shown.html || '<p class="muted">This project has no guideline yet.</p>';
  }

  let previewTimer = null;
  let previewed = null;

  async function refreshPreview() {
    previewTimer = null;
    const text = el.body.value;
    if (text === previewed) return;
    previewed = text;
    try {
      const rendered = await api("POST", `${base}/preview`, { body: text });
      if (el.body.value === text) {
        el.preview.innerHTML = rendered.html;
        el.previewBox.hidden = false;
      }
    } catch (_err) {
      el.previewBox.hidden = true; // the preview is a help; Publish says what is wrong
    }
  }

  async function publish() {
    if (el.form.dataset.state === "saving") return;
    const summary = el.summary.value.trim();
    if (!summary) {
      say(el.result, "error", "Say in the change summary what changed and why.");
      el.summary.focus();
      return;
    }
    el.form.dataset.state = "saving";
    el.save.disabled = true;
    try {
      const answers = $("guideline-answers");
      const done = await api("POST", base, {
        body: el.body.value,
        summary,
        base_version: Number(el.form.dataset.version),
        answers_flags: Boolean(answers && answers.checked),
      });
      const answered = done.flags_resolved
        ? ` It answers ${plural(done.flags_resolved, "ambiguous flag")}.`
        : "";
      say(el.result, "info", `Published v${done.version}: ${plural(done.added, "line")} added, ` +
        `${plural(done.removed, "line")} removed.${answered}`);
      if (done.flags_resolved) $("guideline-answers-box").hidden = true;
      showVersion(done.version);
      el.summary.value = "";
      await Promise.all([showCurrent(done.version), loadHistory(), loadExamples(done.version)]);
    } catch (err) {
      say(el.result, "error", `Not published: ${err.message}`);
    } finally {
      el.form.dataset.state = "";
      el.save.disabled = false;
    }
  }

  if (el.form) {
    el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      publish();
    });
    el.form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        publish();
      }
    });
    el.body.addEventListener("input", () => {
      if (previewTimer) clearTimeout(previewTimer);
      previewTimer = setTimeout(refreshPreview, PREVIEW_MS);
    });
  }

  showExamples(examples.version, page.guideline_examples || []);
  loadHistory();
})();
