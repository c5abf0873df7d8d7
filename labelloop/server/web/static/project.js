// The project overview: the learning curve (eval accuracy per model version) as inline SVG, what
// the model could label and its auto-label runs, and for managers the Import panel (with the
// imports and their undo) and the Members panel.
// Server text only reaches the DOM via textContent, or in the parts that show the current model
// (the Model and Eval cards, the Stop card's judgement, the model versions and Eval by cohort
// tables) the server drew (and escaped) for the page (showModel).
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const pageData = $("page-data");
  const page = pageData ? JSON.parse(pageData.textContent) : {};
  const { api, csrf, detailOf, newestOnly, node, say } = window.labelloop;
  const base = "/api/projects/" + encodeURIComponent(page.slug || "");
  const fmt = (n) => Number(n).toLocaleString("en-US");
  const plural = (n, word) => (n === 1 ? word : word + "s");

  // The pool's progress bar as the server drew it (the page's security policy allows no inline
  // style attribute, so the width is set here; refreshCounts keeps it current).
  const poolFill = $("pool-progress-fill");
  if (poolFill) poolFill.style.width = `${poolFill.dataset.pct}%`;

  // ---------------------------------------------------------------- embeddings computed

  // The learner computes a featurizer's embeddings in the background, for minutes on a large
  // pool: the card counts them as they come, and the Model card follows the round that the
  // finished embeddings bring (it said "on tfidf features" until a reload). Polling stops once
  // the model is on them (or there is none yet), or once no learner runs to train it.
  const FEATURES_POLL_MS = 5000;
  // The model versions the page was drawn with (reviewers and managers), for the learning curve.
  const modelsData = $("models-data");
  const drawnModels = modelsData ? JSON.parse(modelsData.textContent) || [] : [];
  // The Model and Eval cards say which version and how many labeled eval items they show.
  const modelCard = $("model-card");
  let shownVersion = modelCard && modelCard.dataset.version ? Number(modelCard.dataset.version) : null;

  // The parts that show the current model (the Model and Eval cards, the Stop card's
  // judgement, the model versions and Eval by cohort tables) are drawn by the server only,
  // here as on a reload (its figures rounded as the API's users and the CLI round them): when
  // a round trained, or eval items were labeled, since they were drawn, they are fetched again
  // and put in place of the page's, and the learning curve follows.
  async function showModel(counts) {
    const res = await fetch(`/p/${encodeURIComponent(page.slug || "")}/model-cards`, {
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!res.ok) throw new Error(detailOf(res.status, ""));
    // DOMParser builds an inert document: nothing in it runs or loads; the server escaped
    // every name in it, as it does for the page.
    const drawn = new DOMParser().parseFromString(await res.text(), "text/html");
    for (const id of ["model-card", "eval-card", "stop-judgement", "model-versions", "eval-cohorts"]) {
      const fresh = drawn.getElementById(id);
      const here = $(id);
      if (fresh && here) here.replaceWith(document.adoptNode(fresh));
    }
    const judged = $("stop-judgement");
    const stopCard = $("stop-recommendation");
    if (judged && stopCard) {
      stopCard.classList.toggle("stop-yes", judged.dataset.stop === "yes");
      stopCard.classList.toggle("stop-no", judged.dataset.stop !== "yes");
    }
    page.eval_labeled = counts.eval_labeled; // the curve's hint counts them
    const versions = drawn.getElementById("models-data");
    const host = $("learning-curve");
    if (versions && host) {
      host.replaceChildren();
      drawCurve(JSON.parse(versions.textContent) || []);
    }
  }
  // Whether the cards show another version, or another count of labeled eval items, than `s`.
  const cardsBehind = (s) => {
    const card = $("model-card");
    const evalCard = $("eval-card");
    if (!card || !evalCard) return false;
    const version = s.model ? String(s.model.version) : "";
    const evalLabeled = String(s.counts.eval_labeled);
    return card.dataset.version !== version || evalCard.dataset.evalLabeled !== evalLabeled;
  };
  const featuresLine = $("features-line");
  const featuresFill = $("features-progress-fill");
  const showFeatures = (computed, total) => {
    const done = computed >= total;
    featuresLine.textContent =
      `${fmt(computed)} of ${fmt(total)} items computed` +
      (done ? "." : " in the background; rounds use tfidf until they are all done.");
    const share = total ? (100 * computed) / total : 100;
    $("features-progress").setAttribute("aria-valuenow", share.toFixed(1));
    featuresFill.style.width = `${share.toFixed(2)}%`;
    return done;
  };
  if (featuresLine && featuresFill) {
    const { computed, total, featurizer } = featuresLine.dataset;
    // no model yet (the first comes on whatever is ready), or one on the finished features
    const onThem = () => {
      const modelSub = $("stat-model-sub");
      return !modelSub || [featurizer, ""].includes(modelSub.dataset.featurizer);
    };
    if (!showFeatures(Number(computed), Number(total)) || !onThem()) {
      const poll = async () => {
        let s = null;
        try {
          s = await refreshCounts(); // the Model card and the counts follow too
        } catch (err) {
          // a failed poll leaves the cards as they were; the next one tries again
        }
        const f = s && s.features;
        if (f && (f.error || f.computed === null)) return; // nothing more to count here
        const learner = s && s.training && s.training.learner;
        if (f && showFeatures(f.computed, f.total) && (onThem() || (learner && !learner.running)))
          return;
        setTimeout(poll, FEATURES_POLL_MS);
      };
      setTimeout(poll, FEATURES_POLL_MS);
    }
  }

  // ---------------------------------------------------------------- what the model could label

  const pct = (x) => (100 * x).toFixed(1) + "%";
  const sureAt = (confidence) => `${Math.round(100 * confidence)}%`;
  // A status line's text; a refusal or failure shows as an error notice.
  const tell = (line, text, failed = false) => {
    line.textContent = text;
    line.classList.toggle("notice", failed);
    line.classList.toggle("notice-error", failed);
  };
  const byLabel = (counts) =>
    Object.entries(counts)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(", ");

  const coverageButton = $("coverage-measure");
  if (coverageButton) {
    const cell = (text, className = "") => {
      const td = document.createElement("td");
      td.textContent = text;
      td.className = className;
      return td;
    };
    coverageButton.addEventListener("click", async () => {
      const status = $("coverage-status");
      coverageButton.disabled = true;
      status.textContent = "Training and scoring…";
      try {
        const c = await api("GET", base + "/coverage", undefined, { loginOn401: true });
        const rows = c.rows.map((r) => {
          const tr = document.createElement("tr");
          tr.dataset.threshold = String(r.threshold);
          const right =
            r.precision === null
              ? "—"
              : `${pct(r.precision)} of ${fmt(r.eval_n)} (95%: ${pct(r.interval[0])}–${pct(r.interval[1])})`;
          tr.append(
            cell(sureAt(r.threshold)),
            cell(`${fmt(r.covered)} (${pct(r.share)})`),
            cell(right),
            cell(byLabel(r.by_label) || "—", "wrap"), // ten classes' counts wrap
          );
          if (page.can_autolabel) tr.append(autolabelCell(r));
          return tr;
        });
        $("coverage-table").tBodies[0].replaceChildren(...rows);
        $("coverage-wrap").hidden = false;
        const vouched = $("autolabel-vouched");
        if (vouched) {
          // Whether the eval items vouch for a run is said before the click, in the words the
          // run would be refused with; a run they refuse is not offered.
          const ahead = c.autolabel;
          vouched.hidden = c.n_unlabeled === 0;
          vouched.disabled = !ahead.ready;
          const outlook = $("autolabel-outlook");
          outlook.textContent = outlookText(ahead);
          outlook.hidden = vouched.hidden;
        }
        status.textContent =
          `${c.model} on ${c.featurizer}, trained on ${fmt(c.n_train)} ${plural(c.n_train, "label")}: ` +
          `${fmt(c.n_unlabeled)} unlabeled ${plural(c.n_unlabeled, "item")}, ` +
          (c.n_eval
            ? `checked on ${fmt(c.n_eval)} labeled eval ${plural(c.n_eval, "item")}.`
            : "no labeled eval items, so how often it is right is not measured.");
      } catch (err) {
        status.textContent = `Not measured: ${err.message}`;
      } finally {
        coverageButton.disabled = false;
      }
    });
  }

  // ---------------------------------------------------------------- auto-labeling

  // A coverage row's last cell (managers): its button, or why there is none. The server judges
  // whether the eval items vouch for the model; the page only leaves out what it must refuse.
  function autolabelCell(r) {
    const td = document.createElement("td");
    const minEval = page.autolabel_min_eval;
    if (r.covered === 0) {
      td.append(node("span", "muted", "—"));
    } else if (r.precision === null || r.eval_n < minEval) {
      td.append(node("span", "muted small", `needs ${minEval} eval items`));
    } else {
      const n = `${fmt(r.covered)} ${plural(r.covered, "item")}`;
      const button = node("button", "btn btn-small autolabel-apply", `Auto-label ${n}`);
      button.type = "button";
      button.setAttribute("aria-label", `Auto-label ${n} at ${sureAt(r.threshold)}`);
      button.addEventListener("click", () => autolabel(r));
      td.append(button);
    }
    return td;
  }

  // What a run on the project's settings would meet now (the coverage's `autolabel`).
  function outlookText(ahead) {
    if (!ahead.ready) return `Not yet: ${ahead.refusal}.`;
    const at = ahead.chosen
      ? `At least ${sureAt(ahead.confidence)} sure, the lowest the eval items vouch for`
      : `At the project's ${sureAt(ahead.confidence)}, which the eval items vouch for`;
    return `${at}: a run labels ${fmt(ahead.covered)} ${plural(ahead.covered, "item")}.`;
  }

  // The server chooses the confidence: the lowest at which the eval items show the model right
  // at least auto_label_min_accuracy of the time.
  const vouchedButton = $("autolabel-vouched");
  if (vouchedButton) vouchedButton.addEventListener("click", () => autolabel(null));

  // The Settings panel saved: a run asks with the project's new confidence and floor.
  document.addEventListener("labelloop:settings", (event) => {
    const after = event.detail || {};
    if (!("auto_label_confidence" in after)) return;
    const changed =
      page.autolabel_confidence !== after.auto_label_confidence ||
      page.autolabel_floor !== after.auto_label_min_accuracy;
    page.autolabel_confidence = after.auto_label_confidence;
    page.autolabel_floor = after.auto_label_min_accuracy;
    if (vouchedButton) {
      vouchedButton.textContent = page.autolabel_confidence
        ? `Auto-label at the project's ${Math.round(100 * page.autolabel_confidence)}%`
        : "Auto-label all the eval items vouch for";
      // What the eval items vouch for was judged on the old settings: the server judges anew.
      const outlook = $("autolabel-outlook");
      if (changed && outlook && !outlook.hidden) {
        outlook.textContent = "The auto-label settings changed: measure again to see what a run would label.";
        vouchedButton.disabled = false;
      }
    }
  });

  // r: a coverage row (its confidence), or null to let the server choose.
  async function autolabel(r) {
    const status = $("autolabel-status");
    const floor = pct(page.autolabel_floor);
    const asked = r
      ? `Give the model's label to the ${fmt(r.covered)} unlabeled ${plural(r.covered, "item")} ` +
        `it is at least ${sureAt(r.threshold)} sure of? The run can be undone.`
      : page.autolabel_confidence
        ? "Give the model's label to every unlabeled item it is at least " +
          `${sureAt(page.autolabel_confidence)} sure of (the project's auto_label_confidence), if ` +
          `the eval items show it right at least ${floor} of the time that sure? The run can be undone.`
        : "Give the model's label to every unlabeled item it is sure enough of, at the lowest " +
          `confidence where the eval items show it right at least ${floor} of the time? ` +
          "The run can be undone.";
    if (!window.confirm(asked)) return;
    const buttons = [...document.querySelectorAll("#coverage-table .autolabel-apply, #autolabel-vouched")];
    buttons.forEach((b) => (b.disabled = true));
    tell(
      status,
      (r ? `Auto-labeling at ${sureAt(r.threshold)}` : "Auto-labeling") +
        ": training, then checking on the eval items…",
    );
    try {
      const body = r ? { confidence: r.threshold } : {};
      const run = await api("POST", base + "/autolabel", body, { loginOn401: true });
      const mix = byLabel(run.by_label);
      let text = `Run ${run.run_id}: labeled ${fmt(run.n_labeled)} ${plural(run.n_labeled, "item")}`;
      if (run.chosen) text += ` the model is at least ${sureAt(run.confidence)} sure of (the lowest the eval items vouch for)`;
      if (mix) text += ` (${mix})`;
      if (run.n_busy) text += `; ${fmt(run.n_busy)} left to the people at work on them`;
      // The table counted the items just labeled: its buttons wait for a new measure.
      tell(status, `${text}. Measure again for what is left.`);
    } catch (err) {
      // A 422 is the eval items' verdict, in the server's words.
      tell(status, err.status === 422 ? err.message : `Not auto-labeled: ${err.message}`, true);
      buttons.forEach((b) => (b.disabled = false));
      return;
    }
    await Promise.all([refreshCounts(), loadRuns()]).catch(() => {}); // the run is made either way
  }

  // Every member sees the runs; managers may undo one. A spot check and an undo (or two undos)
  // ending close together each fetch them: only the newest answer is drawn.
  const runsAsked = newestOnly();
  async function loadRuns() {
    const box = $("autolabel-runs");
    if (!box) return;
    const newest = runsAsked();
    try {
      const found = await api("GET", base + "/autolabel");
      if (!newest()) return;
      $("autolabel-run-list").replaceChildren(...found.runs.map(runEntry));
      box.hidden = found.runs.length === 0;
    } catch (err) {
      if (!newest()) return;
      tell($("autolabel-runs-status"), `Could not list the auto-label runs: ${err.message}`, true);
      box.hidden = false;
    }
  }

  function runEntry(run) {
    const li = node("li", "run-row");
    li.dataset.runId = String(run.id);
    const when = (iso) => iso.slice(0, 16).replace("T", " ");
    const m = run.model || {};
    const accuracy =
      typeof m.precision === "number"
        ? `right on ${pct(m.precision)} of ${fmt(m.eval_n)} eval items`
        : "not measured on eval items";
    const mix = byLabel(run.by_label || {});
    const what = node("div", "run-what");
    what.append(
      node("strong", "", `Run ${run.id}`),
      node("span", "muted small", ` · ${when(run.applied_at)} by ${run.applied_by || "the local operator"}`),
      node(
        "span",
        "run-detail small",
        `At least ${sureAt(run.confidence)} sure, ${accuracy}: labeled ${fmt(run.n_labeled)} ` +
          `${plural(run.n_labeled, "item")}${mix ? ` (${mix})` : ""}, ${fmt(run.n_current)} still standing.`,
      ),
    );
    const checks = run.checks || { sent: 0 };
    if (checks.sent) {
      let said = `Spot checks: ${fmt(checks.answered)} of ${fmt(checks.sent)} answered`;
      if (checks.answered) {
        said +=
          `, ${fmt(checks.agreed)} agreed with the model (${pct(checks.agreement)}, ` +
          `95%: ${pct(checks.interval[0])}–${pct(checks.interval[1])})`;
      }
      what.append(node("span", "run-detail run-checks small", `${said}.`));
    }
    li.append(what);
    if (run.undone_at) {
      li.classList.add("run-undone");
      const removed = typeof run.n_undone === "number" ? `, ${fmt(run.n_undone)} removed` : "";
      const by = run.undone_by || "the local operator";
      li.append(node("span", "badge badge-muted", `undone by ${by} ${when(run.undone_at)}${removed}`));
      return li;
    }
    const room = Math.min(run.n_current, Math.floor(run.n_labeled / 2) - (checks.sent || 0));
    if (page.can_review && room > 0) li.append(checkButton(run, room));
    if (page.can_autolabel) li.append(undoButton(run));
    return li;
  }

  const CHECK_SAMPLE = 50;

  // Take some of the run's labels back for people to answer blind (reviewers and managers);
  // `room`: how many more a check may take (at most half a run's labels are checked).
  function checkButton(run, room) {
    const n = Math.min(CHECK_SAMPLE, room);
    const check = node("button", "btn btn-small btn-quiet", `Spot-check ${fmt(n)}`);
    check.type = "button";
    check.setAttribute("aria-label", `Spot-check ${fmt(n)} labels of auto-label run ${run.id}`);
    check.addEventListener("click", async () => {
      const status = $("autolabel-runs-status");
      const asked =
        `Take ${fmt(n)} of run ${run.id}'s labels back, drawn at random, for annotators to answer ` +
        "without seeing the model's label? They go to the front of the queue.";
      if (!window.confirm(asked)) return;
      check.disabled = true;
      tell(status, "");
      try {
        const done = await api("POST", `${base}/autolabel/${run.id}/check`, { n }, { loginOn401: true });
        tell(
          status,
          `Run ${run.id}: ${fmt(done.sent)} ${plural(done.sent, "label")} sent to the front of the ` +
            "queue; the run shows how many answers agree.",
        );
      } catch (err) {
        tell(status, `Not sent: ${err.message}`, true);
        check.disabled = false;
      }
      await Promise.all([refreshCounts(), loadRuns()]).catch(() => {});
    });
    return check;
  }

  function undoButton(run) {
    const undo = node("button", "btn btn-small btn-quiet", "Undo");
    undo.type = "button";
    undo.setAttribute("aria-label", `Undo auto-label run ${run.id}`);
    undo.addEventListener("click", async () => {
      const status = $("autolabel-runs-status");
      const n = `${fmt(run.n_current)} ${plural(run.n_current, "label")}`;
      const asked = `Undo run ${run.id}? Its ${n} still standing are removed and those items are to label again.`;
      if (!window.confirm(asked)) return;
      undo.disabled = true;
      tell(status, "");
      try {
        const done = await api("DELETE", `${base}/autolabel/${run.id}`, undefined, { loginOn401: true });
        const removed = `${fmt(done.n_undone)} ${plural(done.n_undone, "label")}`;
        tell(status, `Run ${run.id} undone: ${removed} removed.`);
      } catch (err) {
        tell(status, `Not undone: ${err.message}`, true);
        undo.disabled = false;
      }
      await Promise.all([refreshCounts(), loadRuns()]).catch(() => {});
    });
    return undo;
  }

  // ---------------------------------------------------------------- export

  // The downloads leave the model's labels out while that box is ticked; with "Each
  // annotator's answer" ticked, JSONL and CSV give a row per answer, Label Studio a task with
  // every answer, and the formats that hold one label per item are hidden. "With the images"
  // makes YOLO and COCO a zip holding each item's image.
  const noAuto = $("export-no-auto");
  const answers = $("export-answers");
  const withImages = $("export-images");
  const ROWS = new Set(["export-jsonl", "export-csv", "export-label-studio"]);
  const BUNDLES = new Set(["export-yolo", "export-coco"]);
  function exportLinks() {
    document.querySelectorAll(".export-card a[id^='export-']:not(#export-model)").forEach((a) => {
      const url = new URL(a.href, window.location.href);
      if (noAuto && noAuto.checked) url.searchParams.set("auto", "false");
      else url.searchParams.delete("auto");
      const perAnswer = answers && answers.checked;
      if (perAnswer && ROWS.has(a.id)) url.searchParams.set("annotations", "true");
      else url.searchParams.delete("annotations");
      const bundled = Boolean(withImages && withImages.checked && BUNDLES.has(a.id));
      if (bundled) url.searchParams.set("images", "true");
      else url.searchParams.delete("images");
      // The button says what it downloads: "Download COCO JSON" is a zip with its images then.
      if (BUNDLES.has(a.id)) {
        if (!a.dataset.label) a.dataset.label = a.textContent;
        const format = a.dataset.label.replace(/ (JSON|zip)$/, "");
        a.textContent = bundled ? `${format} zip with the images` : a.dataset.label;
      }
      a.hidden = Boolean(perAnswer) && !ROWS.has(a.id);
      a.href = url.pathname + url.search;
    });
  }
  if (noAuto) noAuto.addEventListener("change", exportLinks);
  if (answers) answers.addEventListener("change", exportLinks);
  if (withImages) withImages.addEventListener("change", exportLinks);

  // ---------------------------------------------------------------- progress counts

  /** Show the project's status (counts, Model and Eval cards, a new round's curve); returns it. */
  async function refreshCounts() {
    const s = await api("GET", base + "/status");
    const c = s.counts;
    // a failed fetch leaves the cards as they were; the next check tries again
    if (cardsBehind(s)) await showModel(c).catch(() => {});
    if (s.model && s.model.version !== shownVersion) {
      shownVersion = s.model.version;
      // the alerts and the pool's forecast: once a round, not on the timer (a limited report)
      showAttention();
    }
    const set = (id, value) => {
      const shown = $(id);
      if (shown) shown.textContent = fmt(value);
    };
    set("stat-labeled", c.labeled);
    set("stat-auto-labeled", c.auto_labeled);
    const auto = $("stat-auto");
    if (auto) auto.hidden = !c.auto_labeled;
    set("stat-pool", c.pool);
    set("stat-remaining", c.remaining);
    set("stat-leased", c.leased);
    set("stat-annotations", c.annotations);
    set("stat-eval", c.eval);
    // Auto labels are labels too: the bar is full once people and the model labeled the pool.
    const share = c.pool ? (100 * (c.labeled + c.auto_labeled)) / c.pool : 0;
    const bar = $("pool-progress");
    if (bar) bar.setAttribute("aria-valuenow", share.toFixed(1));
    const fill = $("pool-progress-fill");
    if (fill) fill.style.width = `${share.toFixed(2)}%`;
    return s;
  }

  // ---------------------------------------------------------------- import

  /** " (rows 3, 4, …)": the first numbers of `numbers`, of `total`, as the import counts them. */
  function numbered(r, numbers, total) {
    const shown = (numbers || []).slice(0, 10);
    if (!shown.length) return "";
    const more = total > shown.length ? ", …" : "";
    return ` (${plural(shown.length, r.unit || "line")} ${shown.join(", ")}${more})`;
  }

  function importSummary(r) {
    const what = r.split === "eval" ? "eval item" : "item";
    let text = `Imported ${fmt(r.items)} ${plural(r.items, what)}`;
    if (r.labeled) text += `, ${fmt(r.labeled)} with labels`;
    if (r.nothing_new) {
      // nothing came in and no import is listed: said so, not as "Imported 0 items"
      text = r.nothing_new.charAt(0).toUpperCase() + r.nothing_new.slice(1);
      text += numbered(r, r.duplicate_lines, r.duplicates);
    } else if (r.duplicates) {
      text += `, ${fmt(r.duplicates)} ${plural(r.duplicates, "duplicate")} skipped`;
      text += numbered(r, r.duplicate_lines, r.duplicates);
    }
    if (r.updated) text += `; ${fmt(r.updated)} ${plural(r.updated, "item")} already here took the file's label`;
    if (r.kept) {
      text +=
        `; ${fmt(r.kept)} ${plural(r.kept, "item")} kept their own: people labeled them here, ` +
        `are at work on them, or they are gold checks${numbered(r, r.kept_lines, r.kept)}`;
    }
    for (const note of r.notes || []) text += `; ${note}`;
    return text;
  }

  function setupImport() {
    const form = $("import-form");
    if (!form) return;
    const el = {
      file: $("import-file"),
      textField: $("import-text-field"),
      idField: $("import-id-field"),
      labelField: $("import-label-field"),
      predictionField: $("import-prediction-field"),
      split: $("import-split"),
      format: $("import-format"),
      submit: $("import-submit"),
      upload: $("import-upload"),
      bar: $("import-progress"),
      fill: $("import-progress-fill"),
      percent: $("import-progress-text"),
      result: $("import-result"),
    };
    // Each annotator's answer is read from a Label Studio export only: offered with its format.
    const answersBox = $("import-annotations-box");
    if (answersBox && el.format) {
      const offer = () => {
        answersBox.hidden = el.format.value !== "label_studio";
      };
      el.format.addEventListener("change", offer);
      offer();
    }

    const progress = (fraction, note) => {
      const pct = Math.round(100 * Math.min(1, Math.max(0, fraction)));
      el.bar.setAttribute("aria-valuenow", String(pct));
      el.bar.setAttribute("aria-valuetext", note ? `${pct}%, ${note}` : `${pct}%`);
      el.fill.style.width = `${pct}%`;
      el.percent.textContent = note ? `${pct}% · ${note}` : `${pct}%`;
    };

    // While the server checks and saves an upload's records it answers how far it has come
    // under the random key the upload carried; an answer of "unknown" (another server process
    // took the upload) or a failed poll leaves the text as it is.
    const POLL_MS = 1000;
    let watching = null; // the key of the upload whose answer is awaited
    let pollTimer = 0;
    const newKey = () =>
      [...crypto.getRandomValues(new Uint8Array(16))]
        .map((b) => b.toString(16).padStart(2, "0"))
        .join("");
    const checked = (answer) => {
      const stage = answer.stage || "checking records";
      if (answer.stage === "storing images" || !answer.records) return `${stage}…`;
      return `${stage}… ${fmt(answer.records)} ${plural(answer.records, "record")}`;
    };
    const watch = (key) => {
      const poll = async () => {
        let answer = null;
        try {
          answer = await api("GET", `${base}/imports/progress?key=${encodeURIComponent(key)}`);
        } catch (_) {
          answer = null; // the upload's own answer says what went wrong, if anything did
        }
        if (watching !== key) return; // the upload was answered meanwhile
        if (answer && answer.state !== "unknown") progress(1, checked(answer));
        pollTimer = setTimeout(poll, POLL_MS);
      };
      watching = key;
      clearTimeout(pollTimer);
      pollTimer = setTimeout(poll, POLL_MS);
    };
    const unwatch = () => {
      watching = null;
      clearTimeout(pollTimer);
    };

    const finish = (state) => {
      unwatch();
      form.dataset.state = state;
      form.removeAttribute("aria-busy");
      el.submit.disabled = false;
      if (state === "error") el.upload.hidden = true; // not "checking records…" beside why not
    };

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (form.dataset.state === "uploading") return;
      const file = el.file.files && el.file.files[0];
      if (!file) {
        say(el.result, "error", "Choose a .jsonl or .csv file first.");
        el.file.focus();
        return;
      }
      const key = newKey();
      const data = new FormData();
      data.append("progress_key", key);
      data.append("file", file, file.name);
      data.append("text_field", el.textField.value.trim() || "text");
      if (el.idField.value.trim()) data.append("id_field", el.idField.value.trim());
      if (el.labelField.value.trim()) data.append("label_field", el.labelField.value.trim());
      const predictions = el.predictionField ? el.predictionField.value.trim() : "";
      if (predictions) data.append("prediction_field", predictions);
      data.append("split", el.split.value);
      if (el.format.value) data.append("format", el.format.value);
      const update = $("import-update-labels");
      if (update && update.checked) data.append("update_labels", "true");
      const answers = $("import-annotations");
      if (answers && answers.checked && el.format.value === "label_studio") {
        data.append("annotations", "true");
      }

      const xhr = new XMLHttpRequest();
      xhr.open("POST", base + "/imports");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable && e.total > 0) progress(e.loaded / e.total, "uploading");
      });
      // The upload is done; the server now checks every record before it answers, saying how
      // many it has checked when asked.
      xhr.upload.addEventListener("load", () => {
        progress(1, "checking records…");
        if (form.dataset.state === "uploading") watch(key);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 201) {
          let report;
          try {
            report = JSON.parse(xhr.responseText);
          } catch (_) {
            report = null;
          }
          progress(1);
          finish("done");
          if (report) say(el.result, "info", importSummary(report));
          else say(el.result, "info", "Imported.");
          el.file.value = ""; // the same file again would only add duplicates
          Promise.all([refreshCounts(), loadImports()]).catch((err) =>
            say(el.result, "error", `Imported, but ${err.message}`),
          );
        } else {
          finish("error");
          say(el.result, "error", `Nothing was imported: ${detailOf(xhr.status, xhr.responseText)}`);
        }
      });
      const failed = () => {
        finish("error");
        say(el.result, "error", `Nothing was imported: ${detailOf(0, "")}`);
      };
      xhr.addEventListener("error", failed);
      xhr.addEventListener("abort", failed);

      form.dataset.state = "uploading";
      form.setAttribute("aria-busy", "true");
      el.submit.disabled = true;
      el.result.replaceChildren();
      el.upload.hidden = false;
      progress(0, "uploading");
      xhr.send(data);
    });
  }

  // ---------------------------------------------------------------- imports and their undo

  const importsAsked = newestOnly();

  /** An import's file name in a sentence, as an element of its own (isolated by the stylesheet). */
  const named = (batch) => node("span", "", batch.filename);

  // The project's imports, newest first; Undo asks first, saying how many items go. The server
  // refuses (409, saying what holds them) an import people worked on.
  async function loadImports() {
    const table = $("imports-table");
    if (!table) return;
    const status = $("imports-status");
    const result = $("imports-result");
    // Two undos ending close together each fetch the list: an older answer arriving last must
    // not put back the import the newer one no longer lists.
    const newest = importsAsked();
    const found = await api("GET", base + "/imports");
    if (!newest()) return;
    const cell = (text) => node("td", "", text);
    const heads = table.tHead.rows[0].cells;
    const rows = found.map((b) => {
      const tr = document.createElement("tr");
      tr.dataset.batch = String(b.id);
      const items = b.items_now === b.items ? fmt(b.items) : `${fmt(b.items_now)} of ${fmt(b.items)}`;
      const undo = document.createElement("td");
      // An undo that began and did not finish left the rest of its items withdrawn: the same
      // button finishes it.
      const button = node("button", "btn btn-small btn-quiet", b.undoing ? "Finish undo" : "Undo");
      button.type = "button";
      button.setAttribute(
        "aria-label",
        `${b.undoing ? "Finish undoing" : "Undo"} import ${b.id} (${b.filename})`,
      );
      if (b.undoing) button.title = `Being undone: ${fmt(b.items_now)} ${plural(b.items_now, "item")} left`;
      if (!b.undoable) {
        button.disabled = true;
        button.title = `${fmt(b.held)} of its items are held by people's work or an auto-label run`;
      }
      button.addEventListener("click", async () => {
        const leases = b.leased ? ` ${fmt(b.leased)} open ${plural(b.leased, "lease")} will be released.` : "";
        const asked =
          `Undo import ${b.id} (${b.filename})? Its ${fmt(b.items_now)} ${plural(b.items_now, "item")} ` +
          `will be removed from the project, with their imported labels${b.upload_folder ? " and the image files the upload stored" : ""}.${leases}`;
        if (!window.confirm(asked)) return;
        button.disabled = true;
        // Undos of different imports run side by side: each says its progress and outcome on
        // a line of its own, and a new one clears the lines of those that ended.
        for (const ended of result.querySelectorAll(":scope > [data-undo-ended]")) ended.remove();
        const line = document.createElement("div");
        line.dataset.undo = String(b.id);
        result.append(line);
        // The server removes the items a slice at a time and says how many are gone under a
        // random key; the page asks every second until the undo answers.
        const key = [...crypto.getRandomValues(new Uint8Array(16))]
          .map((x) => x.toString(16).padStart(2, "0"))
          .join("");
        let undoing = true;
        let timer = 0;
        const poll = async () => {
          let answer = null;
          try {
            answer = await api("GET", `${base}/imports/progress?key=${key}`);
          } catch (_) {
            answer = null; // the undo's own answer says what went wrong, if anything did
          }
          if (!undoing) return;
          if (answer && answer.state === "running") {
            say(
              line,
              "info",
              [`Undoing import ${b.id} (`, named(b), `): ${fmt(answer.records)} of ${fmt(b.items_now)} ${plural(b.items_now, "item")} removed…`],
            );
          }
          timer = setTimeout(poll, 1000);
        };
        say(line, "info", [`Undoing import ${b.id} (`, named(b), ")…"]);
        timer = setTimeout(poll, 1000);
        try {
          const done = await api(
            "DELETE",
            `${base}/imports/${encodeURIComponent(b.id)}?progress_key=${key}`,
          ).finally(() => {
            undoing = false;
            clearTimeout(timer);
            line.dataset.undoEnded = "";
          });
          const files = done.files
            ? ` ${fmt(done.files)} stored image ${plural(done.files, "file")} deleted.`
            : "";
          say(
            line,
            "info",
            [`Import ${done.batch_id} (`, named(done), `) undone: ${fmt(done.items)} ${plural(done.items, "item")} removed.${files}`],
          );
          await Promise.all([loadImports(), refreshCounts()]);
        } catch (err) {
          say(line, "error", `Not undone: ${err.message}`);
          button.disabled = false;
          loadImports().catch(() => {}); // an undo that stopped half way lists as being undone
        }
      });
      undo.append(button);
      const file = cell(b.filename);
      file.className = "cell-file";
      tr.append(
        cell(String(b.id)),
        file,
        // a pool import of a dataset brings its val and test images as eval items
        cell(b.split === "pool" && b.eval_now ? `pool, ${fmt(b.eval_now)} eval` : b.split),
        cell(b.by || "local operator"),
        cell(b.at.slice(0, 16).replace("T", " ")),
        cell(items),
        cell(fmt(b.labeled)),
        cell(fmt(b.touched)),
        undo,
      );
      // each cell named by its column's heading, which a phone shows beside it (app.css)
      [...tr.cells].forEach((td, i) => {
        const heading = heads[i].textContent.trim();
        if (heading) td.dataset.label = heading;
      });
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = rows.length === 0;
    status.textContent = rows.length === 0 ? "No imports yet." : `${fmt(rows.length)} ${plural(rows.length, "import")}`;
  }

  // ---------------------------------------------------------------- members

  // Managers change the team; reviewers read it (no form, no Remove buttons).
  function setupMembers() {
    const table = $("members-table");
    if (!table) return;
    const form = $("member-form");
    const body = table.tBodies[0];
    const status = $("members-status");
    const username = $("member-username");
    const role = $("member-role");
    const submit = $("member-submit");
    const result = $("member-result");

    // Removing a member keeps their labels attributed and puts their leased items back in the
    // queue; the server refuses to take away the last manager (unless a site admin asks).
    function removeCell(m) {
      const cell = document.createElement("td");
      const button = node("button", "btn btn-small btn-quiet", "Remove");
      button.type = "button";
      button.setAttribute("aria-label", `Remove ${m.username} from the project`);
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const done = await api("DELETE", base + "/members/" + encodeURIComponent(m.username));
          const back = done.leases_released + done.review_leases_released;
          say(
            result,
            "info",
            `${done.username} is no longer a member; their labels stay theirs` +
              (back ? `; ${fmt(back)} ${plural(back, "item")} they held went back to the queue.` : "."),
          );
          await load();
        } catch (err) {
          say(result, "error", `Could not remove ${m.username}: ${err.message}`);
          button.disabled = false;
        }
      });
      cell.append(button);
      return cell;
    }

    // Two removals (or a role set beside one) ending close together each fetch the team: only
    // the newest answer is drawn, or the older one would list again who was just removed.
    const membersAsked = newestOnly();
    async function load() {
      const newest = membersAsked();
      const members = await api("GET", base + "/members");
      if (!newest()) return;
      const rows = members.map((m) => {
        const tr = document.createElement("tr");
        tr.dataset.username = m.username;
        const name = node("td", "cell-name", m.username);
        if (m.is_active === false) name.append(" ", node("span", "badge badge-muted", "deactivated"));
        const r = document.createElement("td");
        const badge = document.createElement("span");
        badge.className = `badge role-badge role-${m.role}`;
        badge.textContent = m.role;
        r.append(badge);
        tr.append(name, r);
        if (form) tr.append(removeCell(m));
        return tr;
      });
      body.replaceChildren(...rows);
      table.hidden = rows.length === 0;
      status.textContent =
        rows.length === 0 ? "No members yet." : `${fmt(rows.length)} ${plural(rows.length, "member")}`;
    }

    form?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const who = username.value.trim();
      if (!who) {
        say(result, "error", "Enter a username.");
        username.focus();
        return;
      }
      submit.disabled = true;
      try {
        const done = await api("PUT", base + "/members", { username: who, role: role.value });
        say(result, "info", `${done.username} is now ${done.role}.`);
        username.value = "";
        await load();
      } catch (err) {
        say(result, "error", `Could not set the role: ${err.message}`);
      } finally {
        submit.disabled = false;
      }
    });

    load().catch((err) => {
      status.textContent = `Could not load the members: ${err.message}`;
    });

    const known = $("known-users");
    if (known && page.is_admin) {
      api("GET", "/api/users")
        .then((users) => {
          known.replaceChildren(
            ...users.map((u) => {
              const option = document.createElement("option");
              option.value = u.username;
              return option;
            }),
          );
        })
        .catch(() => {}); // suggestions only; typing a name still works
    }
  }

  // ---------------------------------------------------------------- learning curve

  function drawCurve(models) {
    const host = $("learning-curve");
    if (!host || !modelsData) return;
    // Classifiers are measured by accuracy; a spans project by span F1 (exact match).
    const byAccuracy = models.some((m) => m.metrics && typeof m.metrics.accuracy === "number");
    const key = byAccuracy ? "accuracy" : "span_f1";
    const metricName = byAccuracy ? "accuracy" : "span F1";
    const points = models
      .filter((m) => m.metrics && typeof m.metrics[key] === "number")
      // the figure as the versions table writes it (the server's rounding, not toFixed's)
      .map((m) => ({ version: m.version, n: m.n_train, acc: m.metrics[key], figure: m.figures[key] }));
    if (points.length === 0) {
      const p = document.createElement("p");
      p.className = "muted";
      const n = page.eval_labeled || 0;
      const items = `${fmt(n)} labeled eval ${plural(n, "item")}`;
      if (n === 0) {
        p.textContent =
          "The curve appears once a model is measured on labeled eval items (import them into the eval split).";
      } else if (models.some((m) => !m.cold_start)) {
        p.textContent = `No model has been measured on the ${items}.`;
      } else {
        p.textContent = `The curve appears once a model trained on labels is measured on the ${items}.`;
      }
      host.append(p);
      host.removeAttribute("aria-hidden");
      return;
    }

    const NS = "http://www.w3.org/2000/svg";
    const W = Math.max(320, Math.round(host.clientWidth || 720)); // 1 unit = 1 px: text stays small
    const H = 220;
    const pad = { left: 44, right: 16, top: 14, bottom: 36 };
    const make = (name, attrs, text) => {
      const node = document.createElementNS(NS, name);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      return node;
    };

    const xs = points.map((p) => p.n);
    const minX = Math.min(...xs);
    const maxX = Math.max(...xs);
    const accs = points.map((p) => p.acc);
    const lo = Math.max(0, Math.floor((Math.min(...accs) - 0.05) * 10) / 10);
    const hi = Math.min(1, Math.ceil((Math.max(...accs) + 0.02) * 10) / 10);
    const x = (n) =>
      maxX === minX
        ? (pad.left + W - pad.right) / 2
        : pad.left + ((n - minX) / (maxX - minX)) * (W - pad.left - pad.right);
    const y = (a) => pad.top + (1 - (a - lo) / (hi - lo || 1)) * (H - pad.top - pad.bottom);

    const svg = make("svg", {
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-label": `Eval ${metricName} by number of training labels, ${points.length} model versions`,
    });
    // Lines at steps two digits read exactly (0.02, 0.05, 0.1 or 0.2), so each label names the
    // value its line stands at: quarters of 0.1 would read 0.20, 0.23, 0.25, 0.28.
    const tenths = Math.round((hi - lo) * 10);
    const step = tenths <= 1 ? 0.02 : tenths <= 3 ? 0.05 : tenths <= 6 || tenths % 2 ? 0.1 : 0.2;
    const ticks = Math.max(1, Math.round((hi - lo) / step));
    for (let i = 0; i <= ticks; i += 1) {
      const a = lo + ((hi - lo) * i) / ticks;
      svg.append(make("line", { class: "grid", x1: pad.left, x2: W - pad.right, y1: y(a), y2: y(a) }));
      svg.append(make("text", { x: pad.left - 8, y: y(a) + 4, "text-anchor": "end" }, a.toFixed(2)));
    }
    svg.append(
      make("line", { class: "axis", x1: pad.left, x2: W - pad.right, y1: H - pad.bottom, y2: H - pad.bottom }),
    );
    const labelEvery = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((p, i) => {
      if (i % labelEvery === 0 || i === points.length - 1) {
        svg.append(make("text", { x: x(p.n), y: H - pad.bottom + 16, "text-anchor": "middle" }, fmt(p.n)));
      }
    });
    svg.append(
      make("text", { x: (pad.left + W - pad.right) / 2, y: H - 4, "text-anchor": "middle" }, "labels used for training"),
    );
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.n).toFixed(1)},${y(p.acc).toFixed(1)}`).join(" ");
    svg.append(make("path", { class: "line", d }));
    for (const p of points) {
      const dot = make("circle", { class: "point", cx: x(p.n), cy: y(p.acc), r: 4 });
      const labels = `${fmt(p.n)} ${plural(p.n, "label")}`; // as the table and the Model card count
      dot.append(make("title", {}, `v${p.version}: ${metricName} ${p.figure} on ${labels}`));
      svg.append(dot);
    }
    host.append(svg);
  }

  // ---------------------------------------------------------------- active-learning gain

  // Fetched after the page shows: measuring fits a few models on the project's labels.
  async function showGain() {
    const line = $("gain-sentence");
    if (!line) return;
    try {
      const g = await api("GET", base + "/gain");
      line.textContent = g.state === "measured" ? g.sentence : `Not measured yet: ${g.reason}.`;
      line.classList.toggle("muted", g.state !== "measured");
    } catch (err) {
      line.textContent = `Could not measure it: ${err.message}`;
      line.classList.add("muted");
    }
  }

  // Reviewers and managers: the dashboard's alerts and forecast, fetched after the page shows.
  // An acknowledged alert stays listed, muted, with who acknowledged it (alerts.js). Two
  // acknowledgements ending close together each fetch them: only the newest answer is drawn,
  // or the older one would offer again to acknowledge what the newer one shows acknowledged.
  const attentionAsked = newestOnly();
  async function showAttention() {
    const status = $("attention-status");
    if (!status) return;
    const newest = attentionAsked();
    try {
      const d = await api("GET", base + "/dashboard?days=7");
      if (!newest()) return;
      window.labelloop.alerts.fill($("attention-list"), d.alerts, {
        base,
        me: page.me,
        canUndoAny: page.can_undo_any_ack,
        onChange: showAttention,
      });
      const open = d.alerts.filter((a) => !a.acknowledged_at).length;
      const seen = d.alerts.length - open;
      status.textContent = open
        ? ""
        : seen
          ? `Nothing else needs attention: ${fmt(seen)} acknowledged.`
          : "Nothing needs attention.";
      status.hidden = open > 0;
      const said = (what, f) =>
        f.state === "done" ? `${what} is done.` : f.state === "empty" ? f.sentence : `${what}: ${f.sentence}`;
      const lines = [said("The pool", d.forecast.pool)];
      if (d.forecast.budget) lines.unshift(said("The label budget", d.forecast.budget));
      $("attention-forecast").textContent = lines.join(" ");
    } catch (err) {
      if (!newest()) return;
      status.textContent = `Could not check: ${err.message}`;
      status.hidden = false;
    }
  }

  // The progress, Model and Eval cards (and the curve, after a new round) follow the team's
  // work while the page is open: checked every 15 s, and at once when the tab is shown again.
  const STATUS_POLL_MS = 15000;
  const refreshSoon = () => refreshCounts().catch(() => {}); // a failed check changes nothing
  setInterval(() => {
    if (document.visibilityState === "visible") refreshSoon();
  }, STATUS_POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshSoon();
  });

  drawCurve(drawnModels);
  loadRuns();
  setupImport();
  loadImports().catch((err) => {
    const status = $("imports-status");
    if (status) status.textContent = `Could not load the imports: ${err.message}`;
  });
  setupMembers();
  showGain();
  showAttention();
})();
