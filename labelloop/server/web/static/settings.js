// The Settings panel on the project page (managers): the live settings as a form. Saving sends
// only the changed ones in one PATCH and says what changed, or the server's refusal (then nothing
// changed). The page's other parts hear of new settings through a "labelloop:settings" event on
// document (detail: every setting), which the simulation's Use button sends too. Server text only
// reaches the DOM via textContent.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const form = $("settings-form");
  const dataBlock = $("settings-data");
  if (!form || !dataBlock) return;
  const { slug, fields } = JSON.parse(dataBlock.textContent);
  const { api, say } = window.labelloop;
  const EVENT = "labelloop:settings";
  const el = {
    save: $("settings-save"),
    discard: $("settings-discard"),
    dirty: $("settings-dirty"),
    result: $("settings-result"),
  };
  const saved = Object.fromEntries(fields.map((f) => [f.name, f.value])); // what the server holds
  let busy = false;

  const input = (name) => $("setting-" + name);
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  /** A value as the confirmation says it. */
  function shown(value) {
    if (value === null || value === undefined) return "none";
    if (value === true) return "on";
    if (value === false) return "off";
    if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
    return String(value);
  }

  /** A field's value as the input holds it, typed as the server takes it; or its problem. */
  function read(f) {
    const box = input(f.name);
    if (f.kind === "bool") return { value: box.checked };
    if (f.kind === "choice") return { value: box.value };
    if (f.kind === "names") {
      return { value: box.value.split(",").map((s) => s.trim()).filter(Boolean) };
    }
    const text = box.value.trim();
    if (f.kind === "text") return { value: text === "" && f.optional ? null : text };
    if (box.validity.badInput) return { problem: `settings.${f.name}: not a number` };
    if (text === "") {
      return f.optional ? { value: null } : { problem: `settings.${f.name}: needs a number` };
    }
    return { value: Number(text) };
  }

  /** Put ``value`` in a field's input. */
  function write(f, value) {
    const box = input(f.name);
    if (f.kind === "bool") box.checked = Boolean(value);
    else if (f.kind === "names") box.value = (value || []).join(", ");
    else if (f.kind === "choice") {
      if (![...box.options].some((o) => o.value === value)) {
        box.append(new Option(String(value), String(value)));
      }
      box.value = value;
    } else box.value = value === null || value === undefined ? "" : String(value);
  }

  /** The changed settings (name -> new value) and the problems of fields that cannot be read. */
  function pending() {
    const changes = {};
    const problems = [];
    for (const f of fields) {
      const got = read(f);
      if (got.problem) problems.push({ name: f.name, text: got.problem });
      else if (!same(got.value, saved[f.name])) changes[f.name] = got.value;
    }
    return { changes, problems };
  }

  function markInvalid(name) {
    const box = name && input(name);
    if (!box) return;
    box.setAttribute("aria-invalid", "true");
    box.closest(".setting").classList.add("setting-invalid");
    box.focus();
  }

  function clearInvalid(box) {
    box.removeAttribute("aria-invalid");
    box.closest(".setting").classList.remove("setting-invalid");
  }

  // Which fields differ from what the server holds: marked, counted, and the discard offered.
  function showDirty() {
    const { changes, problems } = pending();
    const names = [...Object.keys(changes), ...problems.map((p) => p.name)];
    for (const f of fields) {
      input(f.name).closest(".setting").classList.toggle("setting-changed", names.includes(f.name));
    }
    el.discard.disabled = names.length === 0;
    el.dirty.textContent = names.length
      ? `Not saved yet: ${names.join(", ")}.`
      : "No unsaved changes.";
  }

  // New settings from the server: they become what the form compares with; a field the manager
  // left alone shows its new value, one being edited keeps the edit.
  function adopt(after) {
    for (const f of fields) {
      if (!(f.name in after)) continue;
      const got = read(f);
      if (!got.problem && same(got.value, saved[f.name])) write(f, after[f.name]);
      saved[f.name] = after[f.name];
    }
    showDirty();
  }

  // The page's header line names the strategy and the random control's share. The strategy is
  // the setting's only where the rounds record it (a choice target): a spans or boxes project's
  // header names what its rounds record, which no setting changes.
  function showInHeader(after) {
    const strategy = $("strategy-setting");
    if (strategy && strategy.dataset.setting === "strategy" && typeof after.strategy === "string") {
      strategy.textContent = after.strategy;
    }
    const control = $("random-control");
    const share = $("random-share-setting");
    if (control && share && typeof after.random_share === "number") {
      share.textContent = (100 * after.random_share).toFixed(0);
      control.hidden = !after.random_share;
    }
  }

  async function save(event) {
    event.preventDefault();
    if (busy) return;
    const { changes, problems } = pending();
    if (problems.length) {
      say(el.result, "error", `Not saved: ${problems.map((p) => p.text).join("; ")}`);
      markInvalid(problems[0].name);
      return;
    }
    const names = Object.keys(changes);
    if (!names.length) {
      say(el.result, "info", "Nothing to save: no setting was changed.");
      return;
    }
    busy = true;
    form.setAttribute("aria-busy", "true");
    el.save.setAttribute("aria-disabled", "true");
    const before = { ...saved };
    try {
      const after = await api("PATCH", `/api/projects/${encodeURIComponent(slug)}/settings`, changes, {
        loginOn401: true,
      });
      const said = names
        .filter((name) => !same(before[name], after[name]))
        .map((name) => `${name} ${shown(before[name])} → ${shown(after[name])}`);
      for (const f of fields) write(f, after[f.name]); // as the server holds them (names trimmed)
      adopt(after);
      fields.forEach((f) => clearInvalid(input(f.name)));
      showInHeader(after);
      document.dispatchEvent(new CustomEvent(EVENT, { detail: after }));
      say(el.result, "info", said.length ? `Saved: ${said.join(", ")}` : "Saved: nothing changed.");
    } catch (err) {
      // A 422 names the setting ("settings.random_share: ..."); nothing was changed.
      say(el.result, "error", `Not saved, nothing changed: ${err.message}`);
      const named = /settings\.([a-z_]+):/.exec(err.message || "");
      markInvalid(named && fields.some((f) => f.name === named[1]) ? named[1] : null);
    } finally {
      busy = false;
      form.removeAttribute("aria-busy");
      el.save.removeAttribute("aria-disabled");
    }
  }

  function discard() {
    for (const f of fields) {
      write(f, saved[f.name]);
      clearInvalid(input(f.name));
    }
    el.result.replaceChildren();
    showDirty();
    el.save.focus();
  }

  form.addEventListener("submit", save);
  form.addEventListener("input", (event) => {
    if (event.target.id && event.target.id.startsWith("setting-")) clearInvalid(event.target);
    showDirty();
  });
  form.addEventListener("change", showDirty);
  el.discard.addEventListener("click", discard);
  // Another part of the page changed a setting (the simulation's Use button).
  document.addEventListener(EVENT, (event) => {
    if (event.detail) adopt(event.detail);
  });
  showDirty();
})();
