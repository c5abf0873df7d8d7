// The project page's Guideline section: every member sees the version history and the diff of a
// version against the one before; managers publish a new version, with a live preview. User text
// (authors, summaries, the diff) only reaches the DOM via textContent; the one HTML inserted is
// the guideline as the server renders it (render_markdown: raw HTML escaped, unsafe links
// dropped), as the page itself shows it.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const panel = $("guideline-panel");
  const pageData = $("page-data");
  if (!panel || !pageData) return;
  const page = JSON.parse(pageData.textContent);
  const { api, node, say } = window.labelloop;
  const base = "/api/projects/" + encodeURIComponent(page.slug || "") + "/guidelines";
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
      node("span", "guideline-labels", plural(v.annotations, "label") + " made under it"),
    );
    li.append(head, node("p", "guideline-summary", v.summary));
    if (v.version > 1) {
      const button = node("button", "btn btn-small btn-quiet", `Changes from v${v.version - 1}`);
      button.type = "button";
      button.dataset.diff = String(v.version);
      button.setAttribute("aria-controls", "guideline-diff-box");
      li.append(button);
    }
    return li;
  }

  async function loadHistory() {
    try {
      const versions = await api("GET", base);
      el.history.replaceChildren(...versions.map(entry));
      el.historyStatus.textContent = plural(versions.length, "version") + ", newest first";
    } catch (err) {
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

  async function openDiff(version, button) {
    opener = button;
    const from = version - 1;
    el.diffTitle.textContent = `Changes from v${from} to v${version}`;
    el.diff.replaceChildren(node("span", "muted", "Loading…"));
    el.diffBox.hidden = false;
    el.diffTitle.focus();
    try {
      const found = await api("GET", `${base}/diff?from=${from}&to=${version}`);
      el.diffTitle.textContent =
        `Changes from v${from} to v${version}: ` +
        `${plural(found.added, "line")} added, ${plural(found.removed, "line")} removed`;
      const lines = found.diff ? found.diff.replace(/\n$/, "").split("\n") : [];
      el.diff.replaceChildren(
        ...(lines.length ? lines.map(diffLine) : [node("span", "muted", "No change in the text.")]),
      );
    } catch (err) {
      el.diff.replaceChildren(node("span", "notice-error", `Could not load the diff: ${err.message}`));
    }
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

  // ---------------------------------------------------------------- publishing (managers)

  function showVersion(version) {
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
      const done = await api("POST", base, {
        body: el.body.value,
        summary,
        base_version: Number(el.form.dataset.version),
      });
      say(el.result, "info", `Published v${done.version}: ${plural(done.added, "line")} added, ` +
        `${plural(done.removed, "line")} removed.`);
      showVersion(done.version);
      el.summary.value = "";
      await Promise.all([showCurrent(done.version), loadHistory()]);
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

  loadHistory();
})();
