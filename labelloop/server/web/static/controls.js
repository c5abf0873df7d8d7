// The annotation controls the labeling, review and adjudication pages share: which control is
// learned, and the fieldsets of choice buttons and of registered widgets (spans, boxes, ...).
// Label names and control names are untrusted: they only reach the DOM through textContent.
(() => {
  "use strict";

  const L = window.labelloop;
  const isChoice = (c) => c.type === "choice" || c.type === "multi_choice";

  const HINTS = {
    choice: "choose one",
    multi_choice: "choose any",
    spans: "mark spans",
    boxes: "draw boxes",
    rating: "rate",
    text: "write",
  };

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  /** The learned control, as the schema picks it: marked, else choice, spans, boxes. */
  function targetOf(list) {
    const learnable = list.filter((c) => isChoice(c) || c.type === "spans" || c.type === "boxes");
    const marked = learnable.find((c) => c.target);
    if (marked) return marked;
    for (const types of [["choice", "multi_choice"], ["spans"], ["boxes"]]) {
      const hit = learnable.find((c) => types.includes(c.type));
      if (hit) return hit;
    }
    return list[0];
  }

  function legendFor(c) {
    const legend = node("legend");
    legend.append(node("span", "control-name", c.name), node("span", "control-hint", HINTS[c.type] || c.type));
    return legend;
  }

  /**
   * A choice control's fieldset: one button per label with its hotkey. The first control to
   * declare a key gets it in `hotkeys` (key -> {control, label}) and only its button shows the
   * key (a project stored before shared keys were refused may list one twice);
   * `onChoose(control, label, true)` runs on a click. `suggestTag` adds the hidden "suggested"
   * tag the labeling page shows.
   */
  function choiceFieldset(c, { hotkeys, onChoose, suggestTag = false }) {
    const fieldset = node("fieldset", "control");
    fieldset.dataset.control = c.name;
    fieldset.append(legendFor(c));
    const grid = node("div", "label-buttons");
    c.labels.forEach((label, i) => {
      const key = (c.hotkeys || [])[i];
      const button = node("button", "label-btn");
      button.type = "button";
      button.dataset.control = c.name;
      button.dataset.label = label;
      button.setAttribute("aria-pressed", "false");
      const description = (c.descriptions || {})[label];
      if (description) button.title = description;
      if (key && !hotkeys.has(key)) {
        hotkeys.set(key, { control: c, label });
        button.append(node("kbd", "hotkey", key));
        button.setAttribute("aria-keyshortcuts", key);
      }
      button.append(node("span", "label-name", label));
      if (suggestTag) {
        const tag = node("span", "label-tag", "suggested");
        tag.hidden = true;
        button.append(tag);
      }
      button.addEventListener("click", () => onChoose(c, label, true));
      // A click leaves the keyboard focus where it was, as the pages' other buttons do: a
      // clicked label kept it, on the next items too, so Space (an audio item's play key)
      // pressed that label again instead of playing.
      button.addEventListener("mousedown", (e) => e.preventDefault());
      grid.append(button);
    });
    fieldset.append(grid);
    return fieldset;
  }

  /**
   * Any other control's fieldset with its registered widget, created with `ctx`; returns
   * {fieldset, widget}. Without a widget (none registered, or it failed to start) the
   * fieldset says `missing` instead and widget is null.
   */
  function widgetFieldset(c, ctx, missing) {
    const fieldset = node("fieldset", "control control-" + c.type);
    fieldset.dataset.control = c.name;
    fieldset.dataset.type = c.type;
    fieldset.append(legendFor(c));
    const factory = L.widgets[c.type];
    let widget = null;
    if (factory && typeof factory.create === "function") {
      try {
        widget = factory.create(c, ctx) || null;
      } catch (err) {
        console.error(err);
        widget = null;
      }
    }
    if (widget) {
      if (widget.element) fieldset.append(widget.element);
    } else {
      fieldset.append(node("p", "control-missing", missing));
    }
    return { fieldset, widget };
  }

  /** The key of choice control `c`'s label `i` if pressing it picks that label (an earlier
   * control may hold it in `hotkeys`), else undefined. */
  function ownKey(c, i, hotkeys) {
    const key = (c.hotkeys || [])[i];
    const hit = key && hotkeys.get(key);
    return hit && hit.control === c ? key : undefined;
  }

  /**
   * Choice control `c`'s answer after its label `label` is pressed (key or click), given the
   * answer `now`: a choice label is chosen, a multi_choice label toggles in or out. A label
   * that is in the answer already is taken out (cleared) only when `mine`, the person pressed
   * it on this page; one found preselected or saved is kept by its first press, as agreeing
   * with a suggestion costs one key, and cleared by the next.
   */
  function pressed(c, now, label, mine) {
    if (c.type === "multi_choice") {
      const chosen = Array.isArray(now) ? now : [];
      if (!chosen.includes(label)) return chosen.concat([label]);
      return mine ? chosen.filter((l) => l !== label) : chosen;
    }
    return now === label && mine ? null : label;
  }

  /**
   * Press label `label` of choice control `c` in `values` (control name -> answer), where
   * `pressedHere` (a Set, emptied for each new answer shown) holds the labels the person pressed
   * on this page: the labeling page and the review page's fix mode keep one rule. A click
   * (`clicked`) on a multi_choice label always toggles it: nobody clicks a pressed toggle to
   * agree with it.
   */
  function press(values, pressedHere, c, label, clicked = false) {
    const key = JSON.stringify([c.name, label]);
    const toggles = clicked && c.type === "multi_choice";
    values[c.name] = pressed(c, values[c.name], label, toggles || pressedHere.has(key));
    pressedHere.add(key);
  }

  /** The key sheet's heading of choice control `c`, saying how its keys behave. */
  function choiceHeading(c) {
    const kept = "a pre-selected label's key keeps it, pressed again clears it";
    return c.name + (c.type === "multi_choice" ? ` (toggle any; ${kept})` : " (choose one; its key again clears it)");
  }

  /** The labels the project detail `found` has that the controls of `list` lack, in order,
   * as [{control, label}]. */
  function addedLabels(list, found) {
    const added = [];
    for (const now of (found.schema && found.schema.controls) || []) {
      const c = list.find((mine) => mine.name === now.name);
      if (!c || !Array.isArray(c.labels) || !Array.isArray(now.labels)) continue;
      for (const label of now.labels) {
        if (!c.labels.includes(label)) added.push({ control: c, label });
      }
    }
    return added;
  }

  /**
   * A manager added labels while the page was open: the controls of `list` take the labels,
   * keys and descriptions of the project detail `found` in place, so whatever holds a control
   * (the target, a widget) sees them; returns the labels added (addedLabels). Labels are only
   * ever added, so every answer in progress stays valid.
   */
  function takeLabels(list, found) {
    const added = addedLabels(list, found);
    for (const now of found.schema.controls) {
      const c = list.find((mine) => mine.name === now.name);
      if (!added.some(({ control }) => control === c)) continue;
      c.labels = now.labels;
      c.hotkeys = now.hotkeys || [];
      c.descriptions = now.descriptions || {};
    }
    return added;
  }

  /**
   * Follow the project's schema while a page is open (a manager adds labels to a live project).
   * `notice(version)`, with the version a served task or answer or a poll names, reads the
   * project detail with `read()` when the newest version named so far is newer than the page's
   * (once, however many ask meanwhile) and settles once it is drawn, waits, or could not be read
   * (read again at the next notice, whatever version that names: a page about to show an item
   * awaits `notice` with the item's version, so it shows the newest labels it has heard of, not
   * only the item's). A read that was already under way when a newer version was named may
   * predate it: it is followed by one more. `use(found)` draws it: at once when only choice
   * labels are new or `busy()` says no work is in a widget (spans, boxes); else with
   * `useWaiting()`, called as the next item is shown, as drawing a widget again takes its
   * marks and their undo history.
   */
  function schemaWatch({ version, list, read, busy, use }) {
    const seen = { version: Number(version) || 0, named: 0, fetching: null, waiting: null };
    const known = () => (seen.waiting ? seen.waiting.schema_version : seen.version);
    const apply = (found) => {
      seen.waiting = null;
      seen.version = found.schema_version;
      use(found);
    };
    const take = (found) => {
      if (!found || !(found.schema_version > seen.version)) return;
      const widgetGains = addedLabels(list, found).some(({ control }) => !isChoice(control));
      if (widgetGains && busy()) seen.waiting = found;
      else apply(found);
    };
    const fetchOnce = () => {
      if (!seen.fetching) {
        seen.fetching = read()
          .then(take, () => undefined)
          .finally(() => {
            seen.fetching = null;
          });
      }
      return seen.fetching;
    };
    return {
      notice(now) {
        if (Number(now) > seen.named) seen.named = Number(now);
        if (!(seen.named > known())) return Promise.resolve();
        const late = seen.fetching !== null; // it may have been sent before this version existed
        return fetchOnce().then(() => {
          if (late && seen.named > known()) return fetchOnce();
        });
      },
      useWaiting() {
        if (seen.waiting) apply(seen.waiting);
      },
    };
  }

  const NEWS_MS = 12000; // the notice of new labels goes after this; the buttons stay
  const newsTimers = new WeakMap();

  /** Say in `node` (a polite status region) "New label: refund (key 4)", each label with the
   * key that picks it on the page (`hotkeys`: the choice keys; none past the last free number
   * key), its control named when several have labels. Label names reach the DOM as text. */
  function announceLabels(node, list, added, hotkeys) {
    if (!node || !added.length) return;
    const labeled = list.filter((c) => (c.labels || []).length).length;
    const said = added.map(({ control: c, label }) => {
      const i = c.labels.indexOf(label);
      const key = isChoice(c) ? ownKey(c, i, hotkeys) : (c.hotkeys || [])[i];
      const where = labeled > 1 ? `, ${c.name}` : "";
      return `${label} (${key ? "key " + key : "no key: click it"}${where})`;
    });
    node.textContent = `New ${added.length === 1 ? "label" : "labels"}: ${said.join("; ")}`;
    clearTimeout(newsTimers.get(node));
    newsTimers.set(
      node,
      setTimeout(() => {
        node.textContent = "";
      }, NEWS_MS),
    );
  }

  L.controls = {
    isChoice,
    targetOf,
    legendFor,
    choiceFieldset,
    widgetFieldset,
    ownKey,
    press,
    choiceHeading,
    addedLabels,
    takeLabels,
    announceLabels,
    schemaWatch,
  };
})();
