// The operations dashboard follows the team's work while it is open: every 30 s while the tab is
// shown, and at once when it is shown again, its sections are fetched as the server draws them
// for the page (/p/SLUG/dashboard-figures) and each one that changed is put in place of the
// page's; the others stay as they are (a table opened, a note being typed). Server text reaches
// the DOM only in that markup, which the server escaped as it does for the page, and through
// alerts.js (textContent), which gives the Needs attention list its buttons.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const updated = $("dashboard-updated");
  if (!updated) return;
  const REFRESH_MS = 1000 * (Number(updated.dataset.everyS) || 30); // as the page says it
  const { detailOf } = window.labelloop;
  const slug = updated.dataset.slug;
  const figuresUrl =
    `/p/${encodeURIComponent(slug)}/dashboard-figures?days=` + encodeURIComponent(updated.dataset.days);
  const every = `again every ${REFRESH_MS / 1000} s while shown`;

  // Each section's markup as the server last drew it: what a fresh one is compared with (the
  // page's own copy changes as it is used: the alerts' buttons, a table opened).
  const drawn = new Map();
  const note = (section) => drawn.set(section.id, section.outerHTML);
  document.querySelectorAll("#dashboard-figures section[id]").forEach(note);
  note($("dashboard-at"));

  function showAlerts() {
    const data = $("alerts-section").dataset.alerts;
    const list = $("alerts-list");
    if (!data || !list) return;
    const d = JSON.parse(data);
    window.labelloop.alerts.fill(list, d.alerts, {
      base: "/api/projects/" + encodeURIComponent(d.slug),
      me: d.me,
      canUndoAny: d.can_undo_any,
      onChange: refresh, // the list, the history and the rest as they now are
    });
  }

  // A note being typed to acknowledge an alert is not swept away: that section waits. One being
  // sent (its button disabled until the server answers) is what the fresh section shows.
  const typing = (f) => !f.hidden && !f.querySelector("button[type=submit]").disabled;
  const busy = (here) => [...here.querySelectorAll(".alert-ack-form")].some(typing);

  function put(fresh) {
    const here = $(fresh.id);
    if (!here || drawn.get(fresh.id) === fresh.outerHTML || busy(here)) return;
    note(fresh);
    // A table opened stays open: its <details> keeps its state.
    const opened = [...here.querySelectorAll("details")].map((d) => d.open);
    fresh.querySelectorAll("details").forEach((d, i) => {
      if (i < opened.length) d.open = opened[i];
    });
    here.replaceWith(document.adoptNode(fresh));
    if (fresh.id === "alerts-section") showAlerts();
  }

  const clock = (iso) => iso.slice(11, 19);
  let shownAt = $("dashboard-at").dataset.at;
  let pending = null;
  let again = false; // asked while a fetch was under way (an acknowledgement): one more after

  function refresh() {
    if (pending) {
      again = true;
      return pending;
    }
    pending = load().finally(() => {
      pending = null;
      if (again) {
        again = false;
        refresh();
      }
    });
    return pending;
  }

  async function load() {
    try {
      const res = await fetch(figuresUrl, { credentials: "same-origin", cache: "no-store" });
      if (!res.ok) throw new Error(detailOf(res.status, ""));
      // DOMParser builds an inert document: nothing in it runs or loads.
      const page = new DOMParser().parseFromString(await res.text(), "text/html");
      const at = page.getElementById("dashboard-at");
      // Signed out meanwhile: the answer is the login form, which holds no figures.
      if (res.redirected || !at) throw new Error("you are signed out; reload the page to sign in");
      for (const fresh of [at, ...page.querySelectorAll("section[id]")]) put(fresh);
      shownAt = at.dataset.at;
      updated.textContent = `Updated ${clock(shownAt)} UTC; ${every}.`;
      updated.classList.remove("message-error");
    } catch (err) {
      updated.textContent = `Not updated since ${clock(shownAt)} UTC: ${err.message}. Trying ${every}.`;
      updated.classList.add("message-error");
    }
  }

  showAlerts();
  // An update still on its way when the next falls due (a slow server) is not followed by
  // another at once: that one is skipped, not queued.
  setInterval(() => {
    if (document.visibilityState === "visible" && !pending) refresh();
  }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
})();
