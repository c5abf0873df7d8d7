// The projects page's API token box: a signed-in user makes a bearer token for scripts and the
// Python client. The token is shown once, in a read-only field, selected for copying; the server
// keeps only its hash.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const form = $("token-form");
  if (!form) return;
  const { api, say } = window.labelloop;
  const name = $("token-name");
  const submit = $("token-submit");
  const shown = $("token-shown");
  const value = $("token-value");
  const result = $("token-result");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    result.replaceChildren();
    try {
      const made = await api("POST", "/api/tokens", { name: name.value.trim() || "api" }, { loginOn401: true });
      value.value = made.token;
      shown.hidden = false;
      value.focus();
      value.select();
      say(result, "info", `Token "${name.value.trim() || "api"}" created. It will not be shown again.`);
    } catch (err) {
      say(result, "error", `Not created: ${err.message}`);
    } finally {
      submit.disabled = false;
    }
  });
})();
