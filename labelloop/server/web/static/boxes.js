// The boxes widget of the labeling page: draw, move, resize, relabel and delete bounding boxes on
// an image, by pointer (mouse or touch) or by keyboard alone. Boxes are kept in the image's own
// pixels; the page only ever shows them scaled. Label names reach the DOM through textContent.
(() => {
  "use strict";

  const ns = (window.labelloop = window.labelloop || {});
  ns.widgets = ns.widgets || {};

  const ZOOMS = [1, 1.5, 2, 3, 4, 6, 8]; // zoom steps over the fitted size; beyond 8 they double
  const PIXEL_ZOOM = 4; // the top zoom shows an image pixel as at least this many screen pixels
  const DRAG_PX = 4; // a press that moves less than this (screen px) is a click, not a drag
  const PAN_PX = 60;
  const WHEEL_NOTCH = 50; // a Ctrl+wheel delta this large is a mouse wheel's notch: one zoom step
  const PINCH_RATE = 100; // a pinch's delta d scales the zoom by e^(-d / this), as browsers send it
  const UNDO_STEPS = 100; // changes Ctrl+Z can take back (and Ctrl+Shift+Z put back), per item
  const CORNERS = ["nw", "ne", "sw", "se"];

  const round2 = (v) => Math.round(v * 100) / 100;
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function kbd(key) {
    return node("kbd", "hotkey", key);
  }

  // Buttons that act on the image keep the keyboard focus where it was, so Enter still submits.
  function keepFocus(button) {
    button.addEventListener("mousedown", (e) => e.preventDefault());
    return button;
  }

  /** A box in image pixels with its label; `suggested` until the annotator touches it. */
  function boxOf(raw, labels) {
    if (!raw || typeof raw !== "object") return null;
    const nums = ["x", "y", "w", "h"].map((k) => Number(raw[k]));
    if (nums.some((v) => !Number.isFinite(v))) return null;
    if (!labels.includes(String(raw.label))) return null;
    const [x, y, w, h] = nums;
    if (w <= 0 || h <= 0) return null;
    return { x, y, w, h, label: String(raw.label) };
  }

  // ------------------------------------------------------------ shared by every boxes control

  /** Every boxes control of the page, in control order, as {undo, redo, live, mark}. */
  const made = [];
  /** The boxes control last used (drawn on, clicked, focused, given one of its label keys). */
  let lastUsed = null;

  /** The boxes control that takes the keys, Ctrl+Z as much as [, ], arrows or +: the one last
   *  used while it is on screen, else the first on screen (with two boxes controls on a page a
   *  key acts in that one, never in each, nor in the first while the user works in the other). */
  function current() {
    if (lastUsed && lastUsed.live()) return lastUsed;
    return made.find((m) => m.live()) || null;
  }

  /** Show which control the keys go to (drawn only when there are several). */
  function markCurrent() {
    const keyed = current();
    for (const m of made) m.mark(m === keyed);
  }
  /** Space held down: a drag on any image pans it instead of drawing (CVAT, Label Studio). */
  let spaceHeld = false;

  function typingIn(target) {
    const field = "input, textarea, select, [contenteditable]";
    return !!(target && target.closest && target.closest(field));
  }

  function holdSpace(held) {
    spaceHeld = held;
    document.documentElement.classList.toggle("boxes-space-held", held);
  }

  document.addEventListener("keydown", (e) => {
    if (e.isComposing || typingIn(e.target)) return;
    if (e.key === " " && !(e.ctrlKey || e.metaKey || e.altKey)) {
      holdSpace(true);
      // Over an image Space is for panning: the page must not scroll a screen down meanwhile.
      // A focused button (Submit, a choice) still takes its Space.
      const focus = document.activeElement;
      const onPage = !focus || focus === document.body || !!focus.closest(".boxes-stage");
      if (onPage && document.querySelector(".boxes-stage:hover, .boxes-stage.is-grabbing")) {
        e.preventDefault();
      }
      return;
    }
    // Ctrl+Z (Cmd+Z) takes back the last change to the boxes; Ctrl+Shift+Z (Cmd+Shift+Z) and
    // Ctrl+Y put it back, as in Label Studio and CVAT. The pages leave keys with Ctrl to the
    // browser, so the widget listens itself; in a text field the browser's own undo stays.
    const keyed = current();
    const step = ns.undoKeyOf(e);
    if (!keyed || !step) return;
    if (step === "undo" ? keyed.undo() : keyed.redo()) e.preventDefault();
  });
  document.addEventListener("keyup", (e) => {
    if (e.key === " ") holdSpace(false);
  });
  window.addEventListener("blur", () => holdSpace(false)); // its keyup goes to another window

  function create(control, ctx) {
    const labels = (control.labels || []).map(String);
    const hotkeys = control.hotkeys || [];
    const colour = (label) => ns.boxColour(labels, label);
    // "=" zooms in too (it is + without Shift) unless some control uses it as a label key.
    const schemaControls = (ctx.schema && ctx.schema.controls) || [];
    const equalsFree = !schemaControls.some((c) => (c.hotkeys || []).includes("="));
    // N (or Insert) adds a box of the active label: the way in when every label key is shared.
    const nFree = !schemaControls.some((c) =>
      (c.hotkeys || []).some((k) => k === "n" || k === "N"),
    );
    const several = schemaControls.filter((c) => c.type === "boxes").length > 1;

    const st = {
      boxes: [],
      selected: -1,
      active: labels[0],
      zoom: 1,
      fit: 1,
      natW: 0,
      natH: 0,
      disabled: false,
      shown: false,
      drag: null,
      panning: false,
      anchor: null, // the image point the last zoom kept on screen, and where: see zoomTo
      // the boxes before each change of this item, for Ctrl+Z, and those it took back
      history: ns.editHistory((boxes) => boxes.map((b) => ({ ...b })), { limit: UNDO_STEPS }),
    };

    // ------------------------------------------------------------ the control's own panel

    const element = node("div", "boxes-widget");
    element.dataset.control = control.name;
    const bar = node("div", "boxes-labels");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", control.name + ": label for new boxes");
    const labelButtons = labels.map((label, i) => {
      const b = keepFocus(node("button", "boxes-label"));
      b.type = "button";
      b.dataset.label = label;
      b.style.setProperty("--c", colour(label));
      b.setAttribute("aria-pressed", "false");
      const description = (control.descriptions || {})[label];
      if (description) b.title = description;
      b.append(node("span", "boxes-swatch"));
      if (hotkeys[i]) {
        b.append(kbd(hotkeys[i]));
        b.setAttribute("aria-keyshortcuts", hotkeys[i]);
      }
      b.append(node("span", "boxes-label-name", label));
      b.addEventListener("click", () => applyLabel(label));
      bar.append(b);
      return b;
    });

    const tools = node("div", "boxes-tools");
    const zoomOut = keepFocus(node("button", "btn btn-small boxes-zoom-out", "−"));
    zoomOut.type = "button";
    zoomOut.title = "Zoom out (-)";
    zoomOut.setAttribute("aria-label", "Zoom out");
    const zoomText = node("span", "boxes-zoom-text", "100%");
    zoomText.setAttribute("aria-live", "polite");
    const zoomIn = keepFocus(node("button", "btn btn-small boxes-zoom-in", "+"));
    zoomIn.type = "button";
    zoomIn.title = "Zoom in (+)";
    zoomIn.setAttribute("aria-label", "Zoom in");
    const removeBtn = keepFocus(node("button", "btn btn-small boxes-remove", "Delete box"));
    removeBtn.type = "button";
    removeBtn.title = "Delete the selected box (Delete)";
    const hint = node("span", "boxes-hint muted small");
    // A touch screen has no Shift, Ctrl+wheel or Space: its hint names the buttons instead.
    hint.textContent = window.matchMedia("(pointer: coarse)").matches
      ? "Drag on the image to draw a box; drag a box to move it, its corners to resize. " +
        "− and + zoom; with Pan on, a drag scrolls the zoomed image."
      : "Drag on the image to draw a box (Shift+drag: over another box); drag a box to move " +
        "it, its corners to resize. Ctrl+wheel zooms at the pointer; Space+drag pans.";
    // Pan: while zoomed, a drag (one finger on a phone) scrolls the image instead of drawing.
    const panBtn = keepFocus(node("button", "btn btn-small boxes-pan", "Pan"));
    panBtn.type = "button";
    panBtn.title =
      "Drag to move around the zoomed image instead of drawing (or hold Space while dragging, " +
      "or drag with the middle button)";
    panBtn.setAttribute("aria-pressed", "false");
    panBtn.addEventListener("click", () => {
      st.panning = !st.panning;
      render();
    });
    tools.append(zoomOut, zoomText, zoomIn, panBtn, removeBtn, hint);
    zoomOut.addEventListener("click", () => setZoom(-1));
    zoomIn.addEventListener("click", () => setZoom(1));
    removeBtn.addEventListener("click", () => removeSelected());

    const list = node("ol", "boxes-list");
    list.setAttribute("aria-label", control.name + ": boxes on this image");
    const empty = node("p", "boxes-empty muted small", "No boxes yet.");
    element.append(bar, tools, list, empty);
    element.addEventListener("pointerdown", use);
    element.addEventListener("focusin", use);

    // ------------------------------------------------------------ the stage over the image

    const stage = node("div", "boxes-stage");
    stage.dataset.control = control.name;
    const canvas = node("div", "boxes-canvas");
    const img = node("img", "boxes-image");
    img.draggable = false;
    img.decoding = "async";
    const layer = node("div", "boxes-layer");
    const ghost = node("div", "bx bx-ghost");
    ghost.hidden = true;
    canvas.append(img, layer);
    stage.append(canvas);

    stage.setAttribute("aria-label", control.name + ": the image; drag on it to draw a box");
    // With several boxes controls each gets its own copy of the image, named.
    const stageName = several ? node("p", "boxes-stage-name", control.name) : null;
    if (stageName) stage.prepend(stageName);
    const broken = node("p", "boxes-broken", "The image could not be loaded.");
    broken.hidden = true;
    stage.append(broken);

    img.addEventListener("load", () => {
      st.natW = img.naturalWidth;
      st.natH = img.naturalHeight;
      stage.dataset.ready = "true";
      broken.hidden = true;
      layout();
      render();
    });
    img.addEventListener("error", () => {
      stage.dataset.ready = "error";
      broken.hidden = false;
    });

    const resized = new ResizeObserver(() => {
      if (st.natW) layout();
    });
    resized.observe(stage);

    /** Size the canvas: the whole image fits the stage at zoom 1. */
    function layout() {
      // Off the page (no item to show) the stage has no size or styles to fit the image to.
      if (!st.natW || !st.natH || !stage.isConnected) return;
      const styles = getComputedStyle(stage);
      const pad = parseFloat(styles.paddingLeft) + parseFloat(styles.paddingRight);
      const width = Math.max(50, stage.getBoundingClientRect().width - pad);
      const maxH = Math.max(180, Math.round(window.innerHeight * 0.55));
      st.fit = Math.min(width / st.natW, maxH / st.natH);
      st.zoom = Math.min(st.zoom, zoomSteps().at(-1)); // a wider stage lowers the top zoom
      canvas.style.width = st.natW * st.fit * st.zoom + "px";
      canvas.style.height = st.natH * st.fit * st.zoom + "px";
      stage.style.maxHeight = maxH + 2 * parseFloat(styles.paddingTop) + "px";
      canvas.classList.toggle("is-pixelated", st.fit * st.zoom >= 3);
    }

    function scale() {
      return st.fit * st.zoom;
    }

    /** The zoom readout: the share of the fitted size while the image shows smaller than its
     *  own pixels, then screen pixels per image pixel ("1:1", "4:1"), what a tight box needs. */
    function zoomWords() {
      const s = scale();
      if (s < 0.995) return Math.round(st.zoom * 100) + "%";
      return Math.round(s * 10) / 10 + ":1";
    }

    /** The zoom steps for this image: up to where a large image fitted small shows its full
     *  resolution, PIXEL_ZOOM screen pixels per image pixel (8x the fitted size at least). */
    function zoomSteps() {
      const top = Math.max(ZOOMS.at(-1), PIXEL_ZOOM / st.fit);
      const steps = ZOOMS.filter((z) => z < top * 0.8); // no sliver of a step below the top
      while (2 * steps.at(-2) < top * 0.8) steps.push(2 * steps.at(-2));
      steps.push(top);
      return steps;
    }

    /** The image pixel under a pointer event, clamped to the image. */
    function pointAt(e) {
      const rect = canvas.getBoundingClientRect();
      return {
        x: clamp(((e.clientX - rect.left) / rect.width) * st.natW, 0, st.natW),
        y: clamp(((e.clientY - rect.top) / rect.height) * st.natH, 0, st.natH),
      };
    }

    /** The part of the image in view, in image pixels (the stage's part when off screen). */
    function visible() {
      const s = scale();
      const rect = stage.getBoundingClientRect();
      const c = canvas.getBoundingClientRect();
      const part = (screenTop, screenBottom) => {
        const left = clamp((Math.max(rect.left, c.left) - c.left) / s, 0, st.natW);
        const top = clamp((Math.max(rect.top, c.top, screenTop) - c.top) / s, 0, st.natH);
        const right = clamp((Math.min(rect.right, c.right) - c.left) / s, left, st.natW);
        const bottom = clamp(
          (Math.min(rect.bottom, c.bottom, screenBottom) - c.top) / s,
          top,
          st.natH,
        );
        return { left, top, w: right - left, h: bottom - top };
      };
      const shown = part(0, window.innerHeight);
      return shown.w >= 1 && shown.h >= 1 ? shown : part(-Infinity, Infinity);
    }

    function clampBox(b) {
      b.w = clamp(b.w, Math.min(1, st.natW), st.natW);
      b.h = clamp(b.h, Math.min(1, st.natH), st.natH);
      b.x = clamp(b.x, 0, st.natW - b.w);
      b.y = clamp(b.y, 0, st.natH - b.h);
      return b;
    }

    // ------------------------------------------------------------ drawing the boxes

    function place(div, b) {
      div.style.left = (100 * b.x) / st.natW + "%";
      div.style.top = (100 * b.y) / st.natH + "%";
      div.style.width = (100 * b.w) / st.natW + "%";
      div.style.height = (100 * b.h) / st.natH + "%";
    }

    function coords(b) {
      const f = (v) => String(Math.round(v * 10) / 10);
      return `x ${f(b.x)} · y ${f(b.y)} · ${f(b.w)} × ${f(b.h)}`;
    }

    function render() {
      layer.replaceChildren();
      const listScroll = list.scrollTop; // emptying the list below would scroll it to its top
      list.replaceChildren();
      if (st.natW) {
        st.boxes.forEach((b, i) => {
          const div = node("div", "bx");
          div.dataset.index = String(i);
          div.dataset.label = b.label;
          div.dataset.x = String(round2(b.x));
          div.dataset.y = String(round2(b.y));
          div.dataset.w = String(round2(b.w));
          div.dataset.h = String(round2(b.h));
          div.style.setProperty("--c", colour(b.label));
          div.classList.toggle("is-suggested", !!b.suggested);
          div.classList.toggle("is-selected", i === st.selected);
          place(div, b);
          const tag = node("span", "bx-tag");
          tag.append(node("span", "bx-tag-name", b.label));
          if (b.suggested && typeof b.score === "number") {
            tag.append(node("span", "bx-score", b.score.toFixed(2)));
          }
          div.append(tag);
          if (i === st.selected) {
            // The selected box's tag (with its ×) sits clear of the corner handles: above the
            // box, else below it, else inside when the box fills the image's height.
            const s = scale();
            const need = 56; // handle overhang + tag height, in screen px, with touch sizes
            if (b.y * s >= need) div.classList.add("tag-above");
            else if ((st.natH - b.y - b.h) * s >= need) div.classList.add("tag-below");
            const del = keepFocus(node("button", "bx-del", "×"));
            del.type = "button";
            del.title = "Delete this box (Delete)";
            del.setAttribute("aria-label", "Delete box " + (i + 1));
            del.addEventListener("pointerdown", (e) => e.stopPropagation());
            del.addEventListener("click", (e) => {
              e.stopPropagation();
              remove(i);
            });
            tag.append(del);
            for (const corner of CORNERS) {
              const h = node("span", "bx-handle bx-" + corner);
              h.dataset.corner = corner;
              div.append(h);
            }
          }
          layer.append(div);
        });
      }
      layer.append(ghost);
      st.boxes.forEach((b, i) => {
        const li = node("li", "boxes-item");
        li.dataset.index = String(i);
        li.style.setProperty("--c", colour(b.label));
        li.classList.toggle("is-selected", i === st.selected);
        li.classList.toggle("is-suggested", !!b.suggested);
        const pick = keepFocus(node("button", "boxes-item-pick"));
        pick.type = "button";
        pick.setAttribute("aria-pressed", i === st.selected ? "true" : "false");
        pick.append(node("span", "boxes-swatch"), node("span", "boxes-item-label", b.label));
        if (b.suggested) {
          const score = typeof b.score === "number" ? " " + b.score.toFixed(2) : "";
          pick.append(node("span", "boxes-item-sugg", "suggested" + score));
        }
        pick.append(node("span", "boxes-item-coords", coords(b)));
        pick.addEventListener("click", () => select(i === st.selected ? -1 : i));
        const del = keepFocus(node("button", "boxes-item-del", "×"));
        del.type = "button";
        pick.disabled = st.disabled;
        del.disabled = st.disabled;
        del.title = "Delete this box";
        del.setAttribute("aria-label", "Delete box " + (i + 1) + " (" + b.label + ")");
        del.addEventListener("click", () => remove(i));
        li.append(pick, del);
        list.append(li);
      });
      list.scrollTop = listScroll;
      showInList(list.children[st.selected]);
      empty.hidden = st.boxes.length > 0;
      const sel = st.boxes[st.selected];
      for (const b of labelButtons) {
        const on = sel ? sel.label === b.dataset.label : st.active === b.dataset.label;
        b.setAttribute("aria-pressed", on ? "true" : "false");
        b.disabled = st.disabled;
      }
      removeBtn.disabled = st.disabled || !sel;
      zoomOut.disabled = st.disabled || st.zoom <= ZOOMS[0];
      zoomIn.disabled = st.disabled || st.zoom >= zoomSteps().at(-1);
      zoomText.textContent = zoomWords();
      zoomText.title =
        `${Math.round(st.zoom * 100)}% of the fitted size; ` +
        `an image pixel covers ${Math.round(scale() * 100) / 100} screen pixels`;
      if (st.zoom <= 1) st.panning = false;
      panBtn.hidden = st.zoom <= 1;
      panBtn.disabled = st.disabled;
      panBtn.setAttribute("aria-pressed", st.panning ? "true" : "false");
      stage.classList.toggle("is-panning", st.panning);
      stage.classList.toggle("is-zoomed", st.zoom > 1);
      stage.classList.toggle("is-grabbing", !!st.drag && st.drag.mode === "pan");
      stage.dataset.zoom = String(st.zoom);
      stage.dataset.selected = String(st.selected);
    }

    /** Scroll the list of boxes (which scrolls by itself beside the image, boxes.css) so the
     *  selected box's row is in it; the page itself does not move. */
    function showInList(row) {
      if (!row || list.scrollHeight <= list.clientHeight) return;
      const shown = list.getBoundingClientRect();
      const at = row.getBoundingClientRect();
      if (at.top < shown.top) list.scrollTop -= shown.top - at.top;
      else if (at.bottom > shown.bottom) list.scrollTop += at.bottom - shown.bottom;
    }

    // ------------------------------------------------------------ edits

    function select(i) {
      st.selected = i >= 0 && i < st.boxes.length ? i : -1;
      if (st.selected >= 0) use();
      render();
      if (st.selected >= 0) reveal(st.boxes[st.selected]);
    }

    /** Scroll a zoomed stage so the box is in view. */
    function reveal(b) {
      if (st.zoom <= 1) return;
      const s = scale();
      const pad = parseFloat(getComputedStyle(stage).paddingLeft) || 0;
      const left = b.x * s + pad;
      const top = b.y * s + pad;
      if (left < stage.scrollLeft || left + b.w * s > stage.scrollLeft + stage.clientWidth) {
        stage.scrollLeft = left - (stage.clientWidth - b.w * s) / 2;
      }
      if (top < stage.scrollTop || top + b.h * s > stage.scrollTop + stage.clientHeight) {
        stage.scrollTop = top - (stage.clientHeight - b.h * s) / 2;
      }
    }

    function touch(b) {
      delete b.suggested;
      delete b.score;
    }

    const me = {
      undo: () => travel("undo"),
      redo: () => travel("redo"),
      live: () => st.shown && stage.isConnected,
      mark(on) {
        stage.classList.toggle("is-keyed", several && on);
        if (stageName) stageName.textContent = control.name + (on ? " · keys act here" : "");
      },
    };
    made.push(me);

    /** Make this control the one the keys act on. */
    function use() {
      if (lastUsed === me) return;
      lastUsed = me;
      markCurrent();
    }

    /** Keep the boxes as they are now, before a change, so Ctrl+Z can bring them back; the
     *  change starts a new line of edits, so what Ctrl+Z took back can no longer be redone. */
    function remember() {
      use();
      st.history.keep(st.boxes);
    }

    /** Put the boxes back as they were before the last change ("undo") or as the last undo
     *  found them ("redo"); false when there is none. */
    function travel(way) {
      if (st.disabled || !st.shown || st.drag || !stage.isConnected) return false;
      const boxes = st.history[way](st.boxes);
      if (!boxes) return false;
      st.boxes = boxes;
      if (st.selected >= st.boxes.length) st.selected = -1; // the selected box is gone
      render();
      return true;
    }

    function applyLabel(label) {
      if (st.disabled || !st.shown) return;
      const sel = st.boxes[st.selected];
      if (sel) {
        if (sel.label !== label) remember();
        sel.label = label;
        touch(sel);
      }
      st.active = label;
      render();
    }

    /** A new box of `label` in the middle of what is on screen, selected. */
    function addCentred(label) {
      if (!st.natW) return;
      const v = visible();
      const side = Math.max(1, Math.round(Math.min(v.w, v.h) / 4));
      const b = clampBox({
        x: Math.round(v.left + v.w / 2 - side / 2),
        y: Math.round(v.top + v.h / 2 - side / 2),
        w: side,
        h: side,
        label,
      });
      st.active = label;
      remember();
      st.boxes.push(b);
      select(st.boxes.length - 1);
    }

    function remove(i) {
      if (st.disabled || i < 0 || i >= st.boxes.length) return;
      remember();
      st.boxes.splice(i, 1);
      st.selected = -1;
      render();
    }

    function removeSelected() {
      remove(st.selected);
    }

    function nudge(dx, dy) {
      remember();
      const b = st.boxes[st.selected];
      b.x = clamp(b.x + dx, 0, st.natW - b.w);
      b.y = clamp(b.y + dy, 0, st.natH - b.h);
      touch(b);
      render();
      reveal(b);
    }

    function grow(dw, dh) {
      remember();
      const b = st.boxes[st.selected];
      b.w = clamp(b.w + dw, Math.min(1, st.natW), st.natW - b.x);
      b.h = clamp(b.h + dh, Math.min(1, st.natH), st.natH - b.y);
      touch(b);
      render();
      reveal(b);
    }

    /** The next zoom step up (+1) or down (-1) from the zoom now, or undefined at the end. */
    function stepFrom(step) {
      const steps = zoomSteps();
      return step > 0 ? steps.find((z) => z > st.zoom) : steps.findLast((z) => z < st.zoom);
    }

    /** Zoom to `z` times the fitted size (kept within the steps' range), keeping the image
     *  point under the screen point `at` ({x, y}, in client px) at that screen point. */
    function zoomTo(z, at) {
      const steps = zoomSteps();
      const next = clamp(z, steps[0], steps.at(-1));
      if (next === st.zoom) return;
      const before = canvas.getBoundingClientRect();
      // The image point there, maybe off the image. Zooming on at the same point, with nothing
      // moved since, keeps the point it held: read back from a scroll offset the browser
      // rounded to whole pixels, it would creep a little further off with every step.
      const a = st.anchor;
      const held =
        a && a.cx === at.x && a.cy === at.y && a.left === before.left && a.top === before.top;
      const x = held ? a.x : (at.x - before.left) / scale();
      const y = held ? a.y : (at.y - before.top) / scale();
      st.zoom = next;
      layout();
      render();
      const after = canvas.getBoundingClientRect(); // the browser keeps scrolling in range
      stage.scrollLeft += after.left + x * scale() - at.x;
      stage.scrollTop += after.top + y * scale() - at.y;
      const placed = canvas.getBoundingClientRect();
      st.anchor = { cx: at.x, cy: at.y, x, y, left: placed.left, top: placed.top };
    }

    /** Step the zoom up (+1) or down (-1), keeping the middle of the view where it was. */
    function setZoom(step) {
      if (st.disabled || !st.natW) return;
      const next = stepFrom(step);
      if (next === undefined) return;
      const v = visible();
      const c = canvas.getBoundingClientRect();
      const s = scale();
      zoomTo(next, { x: c.left + (v.left + v.w / 2) * s, y: c.top + (v.top + v.h / 2) * s });
    }

    // Ctrl+wheel zooms around the pointer, a wheel notch a step (as + and -), a trackpad pinch
    // (a Ctrl+wheel of small deltas to the page) smoothly; the browser's page zoom stays off
    // the image. A plain wheel scrolls the zoomed stage, or the page, as before.
    stage.addEventListener(
      "wheel",
      (e) => {
        if (!e.ctrlKey || st.disabled || !st.natW || !e.deltaY) return;
        e.preventDefault();
        use();
        const notch =
          e.deltaMode !== WheelEvent.DOM_DELTA_PIXEL || Math.abs(e.deltaY) >= WHEEL_NOTCH;
        const next = notch
          ? stepFrom(-Math.sign(e.deltaY))
          : st.zoom * Math.exp(-e.deltaY / PINCH_RATE);
        if (next !== undefined) zoomTo(next, { x: e.clientX, y: e.clientY });
      },
      { passive: false },
    );

    // ------------------------------------------------------------ pointer (mouse, pen, touch)

    // The stage listens, not the image's layer, so a pan may start on the margin around it.
    stage.addEventListener("pointerdown", (e) => {
      use();
      // Drawing prevents the press's default, which would have moved the focus here: a button
      // or field focused before (a label chosen by mouse) would keep it and take the next
      // Enter, pressing that label again instead of submitting.
      const focus = document.activeElement;
      if (focus && focus !== document.body && !stage.contains(focus)) focus.blur();
      if (st.disabled || !st.natW) return;
      // The middle button, or any drag with Space held, pans (CVAT and Label Studio do so).
      const middle = e.pointerType === "mouse" && e.button === 1;
      if (e.pointerType === "mouse" && e.button !== 0 && !middle) return;
      if (st.panning || middle || spaceHeld) {
        e.preventDefault();
        const { scrollLeft, scrollTop } = stage;
        st.drag = { mode: "pan", sx: e.clientX, sy: e.clientY, scrollLeft, scrollTop };
        stage.classList.add("is-grabbing");
        stage.setPointerCapture(e.pointerId);
        return;
      }
      if (!layer.contains(e.target)) return;
      e.preventDefault();
      const p = pointAt(e);
      const handle = e.target.closest(".bx-handle");
      const boxDiv = e.target.closest(".bx");
      // Shift+drag draws even where a box already is (a box inside a box).
      const index = boxDiv && !boxDiv.hidden && !e.shiftKey ? Number(boxDiv.dataset.index) : -1;
      if (handle && index >= 0) {
        const b = st.boxes[index];
        const corner = handle.dataset.corner;
        // The corner opposite the grabbed one stays put.
        const fx = corner.includes("w") ? b.x + b.w : b.x;
        const fy = corner.includes("n") ? b.y + b.h : b.y;
        st.drag = { mode: "resize", index, fx, fy, sx: e.clientX, sy: e.clientY, moved: false };
      } else if (index >= 0) {
        const b = st.boxes[index];
        st.drag = {
          mode: "move",
          index,
          p,
          ox: b.x,
          oy: b.y,
          sx: e.clientX,
          sy: e.clientY,
          moved: false,
        };
        if (st.selected !== index) select(index);
      } else {
        st.drag = { mode: "draw", p, sx: e.clientX, sy: e.clientY, moved: false };
      }
      stage.setPointerCapture(e.pointerId);
    });
    // A middle press must not start the browser's autoscroll instead of panning.
    stage.addEventListener("mousedown", (e) => {
      if (e.button === 1) e.preventDefault();
    });

    stage.addEventListener("pointermove", (e) => {
      const d = st.drag;
      if (!d) return;
      if (d.mode === "pan") {
        stage.scrollLeft = d.scrollLeft - (e.clientX - d.sx);
        stage.scrollTop = d.scrollTop - (e.clientY - d.sy);
        return;
      }
      if (!d.moved && Math.hypot(e.clientX - d.sx, e.clientY - d.sy) < DRAG_PX) return;
      if (!d.moved && d.mode !== "draw") remember(); // the box as it was before the drag
      d.moved = true;
      const p = pointAt(e);
      if (d.mode === "draw") {
        d.box = {
          x: Math.min(p.x, d.p.x),
          y: Math.min(p.y, d.p.y),
          w: Math.abs(p.x - d.p.x),
          h: Math.abs(p.y - d.p.y),
          label: st.active,
        };
        ghost.hidden = false;
        ghost.style.setProperty("--c", colour(st.active));
        place(ghost, d.box);
        return;
      }
      const b = st.boxes[d.index];
      if (d.mode === "move") {
        b.x = clamp(d.ox + p.x - d.p.x, 0, st.natW - b.w);
        b.y = clamp(d.oy + p.y - d.p.y, 0, st.natH - b.h);
      } else {
        const min = 1;
        b.x = Math.min(p.x, d.fx);
        b.y = Math.min(p.y, d.fy);
        b.w = Math.max(Math.abs(p.x - d.fx), min);
        b.h = Math.max(Math.abs(p.y - d.fy), min);
        clampBox(b);
      }
      touch(b);
      render();
    });

    function endDrag(e, cancelled) {
      const d = st.drag;
      if (!d) return;
      st.drag = null;
      ghost.hidden = true;
      stage.classList.remove("is-grabbing");
      if (stage.hasPointerCapture(e.pointerId)) stage.releasePointerCapture(e.pointerId);
      if (d.mode === "draw") {
        if (!cancelled && d.moved && d.box && d.box.w >= 1 && d.box.h >= 1) {
          remember();
          st.boxes.push(clampBox(d.box));
          select(st.boxes.length - 1);
        } else if (!d.moved) {
          select(-1); // a click on the bare image deselects
        } else {
          render();
        }
      }
    }
    stage.addEventListener("pointerup", (e) => endDrag(e, false));
    stage.addEventListener("pointercancel", (e) => endDrag(e, true));

    // ------------------------------------------------------------ keyboard

    /** The index of the label whose hotkey is `key` (either case), or -1. */
    function hotkeyIndex(key) {
      let i = hotkeys.indexOf(key);
      if (i < 0 && key.length === 1) {
        const flipped = key === key.toLowerCase() ? key.toUpperCase() : key.toLowerCase();
        i = hotkeys.indexOf(flipped);
      }
      return i >= 0 && i < labels.length ? i : -1;
    }

    // A label key another control also uses only relabels a selected box; otherwise it is theirs.
    function shared(i) {
      return !!(ctx.keyTakenElsewhere && ctx.keyTakenElsewhere(hotkeys[i], control));
    }

    function key(e) {
      if (st.disabled || !st.shown || ns.commandKey(e)) return false;
      const k = ns.hotkeyOf(e, (x) => hotkeyIndex(x) >= 0 || ((x === "n" || x === "N") && nFree));
      if (current() !== me) {
        // Another boxes control takes the keys; a label key of this one's own makes it the one.
        const i = ns.altChord(e) ? -1 : hotkeyIndex(k);
        if (i < 0 || shared(i)) return false;
        use();
        if (!e.repeat) addCentred(labels[i]);
        return true;
      }
      const sel = st.selected >= 0 ? st.boxes[st.selected] : null;
      const arrows = {
        ArrowLeft: [-1, 0],
        ArrowRight: [1, 0],
        ArrowUp: [0, -1],
        ArrowDown: [0, 1],
      };
      if (arrows[k]) {
        const [dx, dy] = arrows[k];
        const step = e.shiftKey ? 10 : 1;
        if (sel) {
          if (e.altKey) grow(dx * step, dy * step);
          else nudge(dx * step, dy * step);
          return true;
        }
        if (st.zoom > 1 && !e.altKey) {
          stage.scrollLeft += dx * PAN_PX * (e.shiftKey ? 4 : 1);
          stage.scrollTop += dy * PAN_PX * (e.shiftKey ? 4 : 1);
          return true;
        }
        return false;
      }
      if (ns.altChord(e)) return false;
      if (k === "Escape") {
        const sheet = document.getElementById("shortcuts");
        if (!sel || (sheet && !sheet.hidden)) return false; // Esc closes the sheet first
        select(-1);
        return true;
      }
      if (k === "Delete") {
        if (!sel) return false;
        removeSelected();
        return true;
      }
      if (k === "[" || k === "]") {
        const n = st.boxes.length;
        if (!n) return true;
        if (st.selected < 0) select(k === "]" ? 0 : n - 1);
        else select((st.selected + (k === "]" ? 1 : n - 1)) % n);
        return true;
      }
      if (k === "+" || (k === "=" && equalsFree)) {
        setZoom(1);
        return true;
      }
      if (k === "-") {
        setZoom(-1);
        return true;
      }
      if (k === "Insert" || ((k === "n" || k === "N") && nFree)) {
        if (!e.repeat) addCentred(st.active);
        return true;
      }
      const i = hotkeyIndex(k);
      if (i < 0 || (!sel && shared(i))) return false;
      if (!e.repeat) {
        if (sel) applyLabel(labels[i]);
        else addCentred(labels[i]);
      }
      return true;
    }

    // ------------------------------------------------------------ the widget

    return {
      element,

      show(item, itemArea, value, suggested) {
        st.drag = null;
        st.selected = -1;
        st.zoom = 1;
        st.anchor = null;
        st.shown = true;
        const fromValue = Array.isArray(value);
        const source = fromValue ? value : Array.isArray(suggested) ? suggested : [];
        st.boxes = [];
        st.history.clear();
        for (const raw of source) {
          const b = boxOf(raw, labels);
          if (!b) continue;
          if (!fromValue) {
            b.suggested = true;
            const score = Number(raw.score);
            if (raw.score !== undefined && raw.score !== null && Number.isFinite(score)) {
              b.score = score;
            }
          }
          st.boxes.push(b);
        }
        const src = ctx.mediaUrl(item);
        const same = img.getAttribute("src") === src && img.complete && img.naturalWidth > 0;
        if (!same) {
          st.natW = 0;
          st.natH = 0;
          delete stage.dataset.ready;
          broken.hidden = true;
          img.alt = item && item.external_id ? String(item.external_id) : "item " + item.id;
          img.src = src;
        }
        // The stage replaces what the image renderer drew; other boxes controls keep theirs.
        itemArea.classList.add("has-boxes");
        for (const child of Array.from(itemArea.children)) {
          if (!child.classList.contains("boxes-stage")) child.remove();
        }
        itemArea.append(stage);
        markCurrent();
        stage.scrollLeft = 0;
        stage.scrollTop = 0;
        layout();
        render();
      },

      value() {
        if (!st.shown) return undefined;
        return st.boxes.map((b) => ({
          x: round2(b.x),
          y: round2(b.y),
          w: round2(b.w),
          h: round2(b.h),
          label: b.label,
        }));
      },

      key,

      shortcuts() {
        const rows = [];
        labels.forEach((label, i) => {
          if (hotkeys[i]) {
            rows.push({
              keys: [hotkeys[i]],
              what: shared(i)
                ? `${label}: relabel the selected box`
                : `${label}: new box in the middle of the view, or relabel the selected box`,
            });
          }
        });
        rows.push(
          {
            keys: nFree ? ["N", "Insert"] : ["Insert"],
            what: "New box of the highlighted label in the middle of the view",
          },
          {
            keys: ["Drag"],
            what:
              "Draw a box on the image (Shift+drag: over another box too); " +
              "drag a box to move it, a corner to resize",
          },
          ...(several
            ? [
                {
                  keys: ["Click", "Tab"],
                  what:
                    "Choose the boxes control the keys act on (the one used last, named " +
                    "“keys act here” above its image); its own label keys choose it too",
                },
              ]
            : []),
          { keys: ["[", "]"], what: "Select the previous / next box" },
          {
            keys: ["←", "↑", "→", "↓"],
            what: "Move the selected box 1 px (with Shift: 10 px)",
          },
          {
            keys: ["Alt", "←↑→↓"],
            what:
              "Resize the selected box: → ↓ wider / taller, ← ↑ narrower / shorter " +
              "(Shift: 10 px)",
          },
          { keys: ["Delete"], what: "Delete the selected box" },
          {
            keys: ["Ctrl", "Z"],
            what: "Undo the last change to the boxes (drawn, moved, resized, relabeled, deleted)",
            note: several ? "in the boxes control used last" : undefined,
          },
          {
            keys: ["Ctrl", "Shift", "Z"],
            what: "Redo what Ctrl+Z took back, until the boxes change again",
            note: "or Ctrl+Y; Cmd+Shift+Z on a Mac",
          },
          { keys: ["Esc"], what: "Deselect the box" },
          {
            keys: ["+", "-"],
            what:
              "Zoom in / out around the middle of the view, up to the image's own pixels 4× " +
              "enlarged; arrows pan while zoomed and nothing is selected",
          },
          {
            keys: ["Ctrl", "Wheel"],
            what: "Zoom in / out around the mouse pointer",
            note: "or pinch on a trackpad",
          },
          {
            keys: ["Space", "Drag"],
            what: "Pan the zoomed image without drawing",
            note: "or drag with the middle mouse button",
          },
          { keys: ["Enter"], what: "Submit: dashed suggested boxes are accepted as they are" },
        );
        return rows;
      },

      disable(off) {
        st.disabled = !!off;
        if (st.disabled && st.drag) st.drag = null;
        stage.classList.toggle("is-disabled", st.disabled);
        render();
      },
    };
  }

  ns.widgets.boxes = { create };
})();
