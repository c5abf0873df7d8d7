// "Choose a strategy" on the project page (managers): ask for a simulation of the project's own
// labels, follow its progress while the learner replays it, and show its figures. The newest
// simulation is shown on load, so a reload or another manager sees the same one. Server text
// only reaches the DOM via textContent.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const form = $("simulate-form");
  const pageData = $("page-data");
  if (!form || !pageData) return;
  const page = JSON.parse(pageData.textContent);
  const { api, say } = window.labelloop;
  const base = "/api/projects/" + encodeURIComponent(page.slug) + "/simulations";
  const POLL_MS = 1500;
  const el = {
    submit: $("simulate-submit"),
    cancel: $("simulate-cancel"),
    seeds: $("simulate-seeds"),
    budget: $("simulate-budget"),
    batch: $("simulate-batch"),
    box: $("simulate-progress-box"),
    bar: $("simulate-progress"),
    fill: $("simulate-progress-fill"),
    percent: $("simulate-progress-text"),
    status: $("simulate-status"),
    result: $("simulate-result"),
    best: $("simulate-best"),
    note: $("simulate-note"),
    table: $("simulate-table"),
    chart: $("simulate-chart"),
    error: $("simulate-error"),
    info: $("simulate-info"),
    of: $("simulate-of"),
  };
  let lastDone = null; // the newest finished simulation: its figures stay shown after a cancel
  let renderedId = null; // the simulation whose figures the table holds
  let current = null; // the simulation shown
  let timer = 0;
  let strategy = page.strategy; // the project's own strategy

  const active = (sim) => sim && (sim.state === "queued" || sim.state === "running");
  const plural = (n, word) => `${word}${n === 1 ? "" : "s"}`;

  function when(iso) {
    return iso ? iso.slice(0, 16).replace("T", " ") : "";
  }

  // A phase with a total shows "done / total" and its share; one whose total is not known yet
  // (queued, or a phase that has not counted its work) leaves the bar indeterminate rather than
  // claim 0%.
  function showProgress(sim) {
    el.box.hidden = !active(sim);
    if (sim.state !== "running" || !sim.total) {
      el.bar.removeAttribute("aria-valuenow");
      el.bar.removeAttribute("aria-valuetext");
      el.fill.style.width = "0%";
      el.percent.textContent = "";
      return;
    }
    const pct = sim.percent;
    const text = `${pct.toFixed(0)}% · ${sim.done.toLocaleString("en")} / ${sim.total.toLocaleString("en")}`;
    el.bar.setAttribute("aria-valuenow", String(pct));
    el.bar.setAttribute("aria-valuetext", text);
    el.fill.style.width = `${pct}%`;
    el.percent.textContent = text;
  }

  function cell(tag, text, scope) {
    const node = document.createElement(tag);
    node.textContent = text;
    if (scope) node.setAttribute("scope", scope);
    return node;
  }

  function showResult(sim) {
    if (sim.summary) lastDone = sim;
    const shown = lastDone; // this simulation's figures, or the newest finished one's
    el.result.hidden = !shown;
    if (!shown) return;
    const s = shown.summary;
    el.of.textContent =
      shown === current ? "" : `Figures of simulation #${shown.id}, finished ${when(shown.finished_at)} UTC:`;
    if (shown.id === renderedId) return; // polls of a newer run leave these figures (and their buttons) alone
    renderedId = shown.id;
    el.best.textContent = s.best ? s.best.charAt(0).toUpperCase() + s.best.slice(1) + "." : "";
    el.note.textContent = `${s.note}. Mean of ${s.seeds} ${plural(s.seeds, "seed")}.`;
    const head = document.createElement("tr");
    head.append(...s.head.map((h) => cell("th", h, "col")), cell("th", "project", "col"));
    el.table.tHead.replaceChildren(head);
    el.table.tBodies[0].replaceChildren(
      ...s.rows.map((row) => {
        const tr = document.createElement("tr");
        tr.dataset.strategy = row[0];
        tr.append(...row.map((value) => cell("td", value)), useCell(row[0]));
        return tr;
      }),
    );
    el.chart.href = shown.chart_url;
  }

  function useCell(name) {
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-small use-strategy";
    button.dataset.strategy = name;
    td.append(button);
    markUse(button);
    button.addEventListener("click", () => useStrategy(name));
    return td;
  }

  function markUse(button) {
    const mine = button.dataset.strategy === strategy;
    button.textContent = mine ? "In use" : "Use";
    button.disabled = mine;
    button.setAttribute("aria-label", mine ? `${strategy} is the project's strategy` : `Use ${button.dataset.strategy} for this project`);
  }

  async function useStrategy(name) {
    try {
      const after = await api("PATCH", "/api/projects/" + encodeURIComponent(page.slug) + "/settings", {
        strategy: name,
      });
      strategy = after.strategy;
      const shown = $("strategy-setting");
      if (shown) shown.textContent = strategy;
      document.querySelectorAll(".use-strategy").forEach(markUse);
      document.dispatchEvent(new CustomEvent("labelloop:settings", { detail: after })); // the Settings panel
      el.error.replaceChildren();
      say(
        el.info,
        "info",
        `The project now uses ${strategy}: the learner re-ranks its queue with it at once.` +
          (trainedModel()
            ? ""
            : " Until labels of two classes train a first model, a strategy that needs one picks for diversity."),
      );
    } catch (err) {
      say(el.error, "error", `Could not change the strategy: ${err.message}`);
    }
  }

  // The Settings panel saved: a new strategy is the one "In use".
  document.addEventListener("labelloop:settings", (event) => {
    if (!event.detail || event.detail.strategy === strategy) return;
    strategy = event.detail.strategy;
    document.querySelectorAll(".use-strategy").forEach(markUse);
  });

  // Whether a round has trained a model yet (the page's model versions; cold-start rounds
  // rank for diversity and have none).
  function trainedModel() {
    const data = $("models-data");
    const models = data ? JSON.parse(data.textContent) : [];
    return models.some((m) => !m.cold_start);
  }

  function statusLine(sim) {
    const who = sim.requested_by ? ` by ${sim.requested_by}` : "";
    const asked = `Simulation #${sim.id}${who}, ${when(sim.created_at)} UTC`;
    const seeds = sim.options.seeds;
    const what = `${sim.options.strategies.join(", ")}; ${seeds} ${plural(seeds, "seed")}, budget ${sim.options.budget}`;
    switch (sim.state) {
      case "queued":
        return `${asked}: waiting for the learner (${what}).`;
      case "running":
        return `${asked}: ${sim.phase} (${what}).`;
      case "done":
        return `${asked}: finished ${when(sim.finished_at)} UTC (${what}).`;
      case "cancelled":
        return `${asked}: cancelled.`;
      default:
        return `${asked}: failed.`;
    }
  }

  function show(sim) {
    current = sim;
    el.status.textContent = sim ? statusLine(sim) : "No simulation yet.";
    el.submit.disabled = active(sim);
    el.cancel.hidden = !active(sim);
    if (!sim) return;
    showProgress(sim);
    showResult(sim);
    if (sim.state === "failed") say(el.error, "error", `The simulation failed: ${sim.error}`);
    else if (sim.state !== "done") el.error.replaceChildren();
    clearTimeout(timer);
    if (active(sim)) timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    if (!current) return;
    try {
      show(await api("GET", `${base}/${current.id}`, undefined, { loginOn401: true }));
    } catch (err) {
      say(el.error, "error", `Could not read the simulation: ${err.message}`);
      timer = setTimeout(poll, POLL_MS * 4);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const strategies = [...form.querySelectorAll('input[name="strategy"]:checked')].map((c) => c.value);
    if (strategies.length === 0) {
      say(el.error, "error", "Tick at least one strategy.");
      return;
    }
    el.submit.disabled = true;
    try {
      const sim = await api("POST", base, {
        strategies,
        seeds: Number(el.seeds.value),
        budget: Number(el.budget.value),
        batch: Number(el.batch.value),
      });
      el.result.hidden = true;
      show(sim);
    } catch (err) {
      say(el.error, "error", `Could not start the simulation: ${err.message}`);
      el.submit.disabled = false;
    }
  });

  el.cancel.addEventListener("click", async () => {
    if (!active(current)) return;
    el.cancel.disabled = true;
    try {
      show(await api("POST", `${base}/${current.id}/cancel`));
    } catch (err) {
      say(el.error, "error", `Could not cancel: ${err.message}`);
    } finally {
      el.cancel.disabled = false;
    }
  });

  api("GET", base)
    .then((sims) => {
      lastDone = sims.find((s) => s.summary) || null;
      show(sims.length ? sims[0] : null);
    })
    .catch((err) => say(el.error, "error", `Could not load the simulations: ${err.message}`));
})();
