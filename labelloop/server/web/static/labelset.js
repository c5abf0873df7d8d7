// The Labels form in the project page's Settings section (managers): add a label to a control
// of the live project. The server checks the name and answers with the control's labels, the
// key given and the new schema version; the list shows them (open labeling and review pages
// draw the new label themselves). Server text reaches the DOM only via textContent.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const form = $("labels-form");
  const dataBlock = $("settings-data");
  if (!form || !dataBlock) return;
  const { slug } = JSON.parse(dataBlock.textContent);
  const { api, say, node } = window.labelloop;
  const el = {
    control: $("label-control"),
    label: $("label-new"),
    description: $("label-description"),
    add: $("label-add"),
    result: $("labels-result"),
    version: $("labels-version"),
  };
  let busy = false;

  function show(done) {
    const list = [...form.querySelectorAll(".labels-control")].find((d) => d.dataset.control === done.control);
    if (list) {
      const chips = list.querySelector(".labels-list");
      chips.replaceChildren(...done.labels.flatMap((l) => [node("span", "chip", l), " "]));
    }
    el.version.textContent = "schema v" + done.schema_version;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    form.setAttribute("aria-busy", "true");
    el.add.setAttribute("aria-disabled", "true");
    const body = { label: el.label.value, description: el.description.value.trim() };
    if (el.control) body.control = el.control.value;
    try {
      const done = await api("POST", `/api/projects/${encodeURIComponent(slug)}/labels`, body, {
        loginOn401: true,
      });
      show(done);
      el.label.value = "";
      el.description.value = "";
      const key = done.hotkey ? `key ${done.hotkey}` : "no free number key";
      say(
        el.result,
        "info",
        `Added "${done.label}" to ${done.control}, ${key}: schema v${done.schema_version}. ` +
          "Open labeling and review pages show it without a reload.",
      );
    } catch (err) {
      say(el.result, "error", `Not added: ${err.message}`);
      el.label.focus();
    } finally {
      busy = false;
      form.removeAttribute("aria-busy");
      el.add.removeAttribute("aria-disabled");
    }
  });
})();
