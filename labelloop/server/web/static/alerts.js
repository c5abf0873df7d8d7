// A Needs attention list (the project page's box, the dashboard): each alert with its kind and
// sentence, and for reviewers and managers an Acknowledge button ("seen, we're on it", with an
// optional note). An acknowledged alert shows muted with who, when and the note, and the one who
// acknowledged it, or a manager, can take it back. Server text only reaches the DOM via
// textContent.
window.labelloop.alerts = (() => {
  "use strict";

  const { api, node, say } = window.labelloop;
  const MAX_NOTE = 200;

  /** "just now", "5 min ago", "2 h ago", "3 days ago"; the UTC minute where a browser cannot
   * read the time (the server writes microseconds; the standard asks only for milliseconds). */
  function ago(iso, now = Date.now()) {
    const at = Date.parse(iso.replace(/(\.\d{3})\d+/, "$1"));
    if (Number.isNaN(at)) return `at ${iso.slice(0, 16).replace("T", " ")} UTC`;
    const s = Math.max(0, (now - at) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    const days = Math.floor(s / 86400);
    return `${days} ${days === 1 ? "day" : "days"} ago`;
  }

  /** "acknowledged by bob 2 h ago: retraining on Monday" */
  function acknowledgement(a) {
    const line = node("p", "alert-ack small");
    const when = node("time", "", ago(a.acknowledged_at));
    when.dateTime = a.acknowledged_at;
    when.title = a.acknowledged_at.slice(0, 16).replace("T", " ") + " UTC";
    line.append(`acknowledged by ${a.acknowledged_by || "the local operator"} `, when);
    if (a.acknowledged_note) line.append(`: ${a.acknowledged_note}`);
    return line;
  }

  function button(text, className, action) {
    const b = node("button", `btn btn-small ${className}`, text);
    b.type = "button";
    b.dataset.action = action;
    return b;
  }

  /** The Acknowledge button, and the note form it opens. */
  function acknowledgeControls(a, opts, messages) {
    const open = button("Acknowledge…", "", "acknowledge");
    const form = node("form", "alert-ack-form stack");
    form.hidden = true;
    const field = node("label", "field");
    const hint = node("span", "field-hint", "optional, shown beside the alert");
    const caption = node("span", "", "Note ");
    caption.append(hint);
    const note = node("input");
    note.type = "text";
    note.name = "note";
    note.maxLength = MAX_NOTE;
    note.autocomplete = "off";
    note.placeholder = "e.g. retraining on Monday";
    field.append(caption, note);
    const send = node("button", "btn btn-small btn-primary", "Acknowledge");
    send.type = "submit";
    const cancel = button("Cancel", "btn-quiet", "cancel");
    const row = node("div", "btn-row");
    row.append(send, cancel);
    form.append(field, row);
    open.addEventListener("click", () => {
      open.hidden = true;
      form.hidden = false;
      note.focus();
    });
    cancel.addEventListener("click", () => {
      form.hidden = true;
      open.hidden = false;
      messages.replaceChildren();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      send.disabled = true;
      try {
        await api("POST", `${opts.base}/alerts/${encodeURIComponent(a.kind)}/acknowledge`, {
          note: note.value.trim(),
        });
        await opts.onChange();
      } catch (err) {
        say(messages, "error", `Not acknowledged: ${err.message}`);
        send.disabled = false;
      }
    });
    return [open, form];
  }

  /** Undo, for the one who acknowledged it and for managers. */
  function undoControl(a, opts, messages) {
    const undo = button("Undo", "btn-quiet", "unacknowledge");
    undo.title = "Take the acknowledgement back: it needs attention again";
    undo.addEventListener("click", async () => {
      undo.disabled = true;
      try {
        await api("DELETE", `${opts.base}/alerts/${encodeURIComponent(a.kind)}/acknowledge`);
        await opts.onChange();
      } catch (err) {
        say(messages, "error", `Not taken back: ${err.message}`);
        undo.disabled = false;
      }
    });
    return undo;
  }

  /**
   * One list item per alert in ``list``. ``opts``: ``base`` (the project's API path), ``me``
   * (the user's name), ``canUndoAny`` (a manager), ``onChange`` (called after an acknowledgement
   * or its undo, to show the list anew).
   */
  function fill(list, alerts, opts) {
    const items = alerts.map((a) => {
      const acknowledged = Boolean(a.acknowledged_at);
      const li = node("li", `alert-item alert-${a.kind}`);
      li.classList.toggle("alert-acknowledged", acknowledged);
      li.dataset.kind = a.kind;
      if (acknowledged) li.dataset.acknowledged = "true";
      const badge = node("span", `badge ${acknowledged ? "badge-muted" : "badge-alert"}`);
      badge.textContent = a.kind.replaceAll("_", " ");
      const text = node("p", "alert-text");
      text.append(badge, " ", a.message);
      li.append(text);
      const messages = node("div", "messages");
      messages.setAttribute("role", "alert");
      const actions = node("div", "alert-actions");
      if (acknowledged) {
        li.append(acknowledgement(a));
        const theirs = a.acknowledged_by !== null && a.acknowledged_by === opts.me;
        if (theirs || opts.canUndoAny) actions.append(undoControl(a, opts, messages));
      } else {
        actions.append(...acknowledgeControls(a, opts, messages));
      }
      li.append(actions, messages);
      return li;
    });
    list.replaceChildren(...items);
  }

  return { fill, ago };
})();
