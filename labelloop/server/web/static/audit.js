// An audit log panel (the site's, or a project's): the newest 50 events, who did what to whom
// and when, filtered by action; its JSON link answers the same list for a script to keep.
(() => {
  "use strict";

  const { api, newestOnly, node } = window.labelloop;

  function setup(panel) {
    const id = panel.id;
    const src = panel.dataset.src;
    const body = panel.querySelector("tbody");
    const status = document.getElementById(`${id}-status`);
    const action = document.getElementById(`${id}-action`);
    const known = document.getElementById(`${id}-actions`);
    const json = document.getElementById(`${id}-json`);
    const seen = new Set();

    // When and who in one cell, what and to whom in the next, so that a phone shows them all;
    // the details as compact JSON, cut at 300 characters like the terminal's list.
    function row(e) {
      const tr = document.createElement("tr");
      tr.dataset.action = e.action;
      const when = node("time", "", e.at.slice(0, 19).replace("T", " "));
      when.dateTime = e.at;
      const at = node("td", "audit-when");
      at.append(when, node("span", "cell-note", e.actor || "(local operator)"));
      at.lastChild.dataset.actor = "";
      // An action breaks only after its dots (member.remove), never inside a word.
      const what = node("td", "audit-what", e.action.replaceAll(".", ".\u200b"));
      const whom = node("span", "muted small cell-note", e.whom ? `${e.subject} (${e.whom})` : e.subject);
      what.append(whom);
      // A direction override in a value is written as its escape (as the CLI's list shows it
      // as a stand-in): left open, it would turn the keys after it backwards.
      const said = JSON.stringify(e.payload || {}).replace(
        /[\u202a-\u202e\u2066-\u2069]/g,
        (c) => "\\u" + c.charCodeAt(0).toString(16),
      );
      const details = node(
        "td",
        "cell-name audit-details small",
        said === "{}" ? "—" : said.length > 300 ? said.slice(0, 299) + "…" : said,
      );
      if (said.length > 300) details.title = said;
      tr.append(at, what, details);
      return tr;
    }

    // A filter asked for while the last one's events are on their way: only the newest answer
    // is drawn, or the older one would list other events under the action asked for.
    const eventsAsked = newestOnly();
    async function load() {
      const newest = eventsAsked();
      const query = new URLSearchParams({ limit: "50" });
      const wanted = action.value.trim();
      if (wanted) query.set("action", wanted);
      const path = `${src}?${query}`;
      json.href = path;
      status.textContent = "Loading…";
      try {
        const events = await api("GET", path);
        if (!newest()) return;
        body.replaceChildren(...events.map(row));
        for (const e of events) seen.add(e.action);
        known.replaceChildren(...[...seen].sort().map((a) => Object.assign(node("option"), { value: a })));
        const n = events.length;
        status.textContent = n
          ? `The newest ${n} ${n === 1 ? "event" : "events"}${wanted ? ` of ${wanted}` : ""}.`
          : `No ${wanted || ""} events.`.replace("  ", " ");
      } catch (err) {
        if (!newest()) return;
        status.textContent = `Could not read the audit log: ${err.message}`;
      }
    }

    document.getElementById(`${id}-form`).addEventListener("submit", (event) => {
      event.preventDefault();
      load();
    });
    load();
  }

  document.querySelectorAll(".audit-panel[data-src]").forEach(setup);
})();
