// The projects page's API token box: a signed-in user makes a bearer token for scripts and the
// Python client, and sees and revokes their tokens. A new token is shown once, in a read-only
// field, selected for copying; the server keeps only its hash. Names reach the DOM as text only.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const form = $("token-form");
  if (!form) return;
  const { api, newestOnly, node, say } = window.labelloop;
  const name = $("token-name");
  const submit = $("token-submit");
  const shown = $("token-shown");
  const value = $("token-value");
  const result = $("token-result");
  const list = $("token-list");
  const status = $("token-list-status");

  function entry(t) {
    const li = node("li", "token-row");
    li.dataset.tokenId = String(t.id);
    const made = t.created_at.slice(0, 16).replace("T", " ");
    const what = node("span", "token-what");
    what.append(node("strong", "", t.name), node("span", "muted small", ` · made ${made}`));
    li.append(what);
    if (t.revoked_at) {
      li.classList.add("token-revoked");
      li.append(node("span", "badge badge-muted", "revoked " + t.revoked_at.slice(0, 10)));
      return li;
    }
    const revoke = node("button", "btn btn-small btn-quiet", "Revoke");
    revoke.type = "button";
    revoke.setAttribute("aria-label", `Revoke the token ${t.name}`);
    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      try {
        await api("DELETE", "/api/tokens/" + t.id, undefined, { loginOn401: true });
        say(result, "info", `Token "${t.name}" revoked: scripts using it are refused from now on.`);
        await load();
      } catch (err) {
        say(result, "error", `Not revoked: ${err.message}`);
        revoke.disabled = false;
      }
    });
    li.append(revoke);
    return li;
  }

  // Two tokens revoked close together each fetch the list: only the newest answer is drawn, or
  // the older one would offer again to revoke a token the newer one shows revoked.
  const tokensAsked = newestOnly();
  async function load() {
    const newest = tokensAsked();
    try {
      const tokens = await api("GET", "/api/tokens", undefined, { loginOn401: true });
      if (!newest()) return;
      list.replaceChildren(...tokens.map(entry));
      const valid = tokens.filter((t) => !t.revoked_at).length;
      status.textContent = tokens.length
        ? `${valid} valid, ${tokens.length - valid} revoked.`
        : "You have no tokens yet.";
    } catch (err) {
      if (!newest()) return;
      status.textContent = `Could not list your tokens: ${err.message}`;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    result.replaceChildren();
    const label = name.value.trim() || "api";
    try {
      const made = await api("POST", "/api/tokens", { name: label }, { loginOn401: true });
      value.value = made.token;
      shown.hidden = false;
      value.focus();
      value.select();
      say(result, "info", `Token "${label}" created. It will not be shown again.`);
      await load();
    } catch (err) {
      say(result, "error", `Not created: ${err.message}`);
    } finally {
      submit.disabled = false;
    }
  });

  load();
})();
