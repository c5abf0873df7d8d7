// The projects page's password box: a signed-in user changes their own password, given the
// current one. The server ends their other sessions and renews this one (same CSRF token).
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const form = $("password-form");
  if (!form) return;
  const { api, say } = window.labelloop;
  const current = $("password-current");
  const fresh = $("password-new");
  const again = $("password-again");
  const submit = $("password-submit");
  const result = $("password-result");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.replaceChildren();
    if (fresh.value !== again.value) {
      say(result, "error", "The new password and its repetition differ: nothing was changed.");
      again.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api(
        "PUT",
        "/api/me/password",
        { current_password: current.value, new_password: fresh.value },
        { loginOn401: true },
      );
      form.reset();
      say(result, "info", "Password changed. Every other browser signed in as you is signed out.");
    } catch (err) {
      say(result, "error", `Not changed: ${err.message}`);
      current.focus();
    } finally {
      submit.disabled = false;
    }
  });
})();
