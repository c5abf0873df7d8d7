// The projects page, for site admins: create a project from a schema, list and add users,
// deactivate or reactivate one and reset a password.
// Server text only reaches the DOM via textContent.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const { api, newestOnly, node, say } = window.labelloop;
  const fmt = (n) => Number(n).toLocaleString("en-US");

  // ---------------------------------------------------------------- new project

  function setupNewProject() {
    const form = $("new-project-form");
    if (!form) return;
    const slug = $("new-project-slug");
    const schema = $("new-project-schema");
    const submit = $("new-project-submit");
    const result = $("new-project-result");

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      result.replaceChildren();
      try {
        // The schema goes as the text typed: the server parses YAML or JSON and names the path
        // of the first problem (e.g. "controls[0].labels: ...").
        const created = await api("POST", "/api/projects", {
          slug: slug.value.trim(),
          schema: schema.value,
        });
        window.location.assign("/p/" + encodeURIComponent(created.slug));
      } catch (err) {
        say(result, "error", `The project was not created: ${err.message}`);
        submit.disabled = false;
      }
    });
  }

  // ---------------------------------------------------------------- users

  function setupUsers() {
    const form = $("user-form");
    if (!form) return;
    const table = $("users-table");
    const body = table.tBodies[0];
    const status = $("users-status");
    const username = $("user-username");
    const password = $("user-password");
    const admin = $("user-admin");
    const submit = $("user-submit");
    const result = $("user-result");

    // Offboarding: each row's buttons name their user for screen readers; the answer says
    // what happened (a reset password is shown here once).
    // `asked`: the question put first, for what cannot be taken back whole.
    function action(label, u, run, asked) {
      const button = node("button", "btn btn-small btn-quiet", label);
      button.type = "button";
      button.dataset.action = label.toLowerCase().replace(/ /g, "-");
      button.setAttribute("aria-label", `${label}: ${u.username}`);
      button.addEventListener("click", async () => {
        if (asked && !window.confirm(asked)) return;
        button.disabled = true;
        try {
          say(result, "info", await run());
          await load();
        } catch (err) {
          say(result, "error", `${label} failed for ${u.username}: ${err.message}`);
          button.disabled = false;
        }
      });
      return button;
    }

    function actions(u) {
      const cell = document.createElement("td");
      const buttons = node("div", "row-actions");
      const path = "/api/users/" + encodeURIComponent(u.username);
      const toggle = u.is_active
        ? action(
            "Deactivate",
            u,
            async () => {
              const done = await api("POST", path + "/deactivate");
              return `${u.username} is deactivated: signed out everywhere, ${done.tokens_revoked} API token(s) revoked, ${done.leases_released} leased item(s) back in the queue${done.review_leases_released ? `, ${done.review_leases_released} item(s) under review back in the review queue` : ""}.`;
            },
            `Deactivate ${u.username}? They are signed out everywhere at once, their API tokens ` +
              "are revoked for good (reactivating does not bring them back) and their leased " +
              "items go back to the queue.",
          )
        : action("Reactivate", u, async () => {
            await api("POST", path + "/activate");
            return `${u.username} can sign in again.`;
          });
      const reset = action(
        "Reset password",
        u,
        async () => {
          const done = await api("PUT", path + "/password", {});
          return `New password for ${u.username} (shown once): ${done.password}`;
        },
        `Give ${u.username} a new password? Their current one stops working and they are ` +
          "signed out everywhere; the new one is shown here once.",
      );
      const rights = action(
        u.is_admin ? "Remove admin" : "Make admin",
        u,
        async () => {
          await api("PUT", path + "/admin", { is_admin: !u.is_admin });
          return u.is_admin ? `${u.username} is no longer a site admin.` : `${u.username} is a site admin.`;
        },
        u.is_admin
          ? `Take back ${u.username}'s site admin rights? They keep their roles in projects.`
          : `Make ${u.username} a site admin? They may then create projects and users and manage every project.`,
      );
      buttons.append(toggle, reset, rights);
      cell.append(buttons);
      return cell;
    }

    // Two users' buttons pressed close together each fetch the list: only the newest answer
    // is drawn, or the older one would show the first change undone (and offer it again).
    const usersAsked = newestOnly();
    async function load() {
      const newest = usersAsked();
      const users = await api("GET", "/api/users");
      if (!newest()) return;
      const rows = users.map((u) => {
        const tr = document.createElement("tr");
        tr.dataset.username = u.username;
        // Who they are, what they may do and since when in one cell, so that the row's
        // buttons stay in view beside it in the half-width panel and on a phone.
        const name = node("td", "cell-name", u.username);
        if (u.is_admin) name.append(" ", node("span", "badge", "site admin"));
        if (!u.is_active) name.append(" ", node("span", "badge badge-muted", "deactivated"));
        const when = String(u.created_at || "");
        const time = node("time", "", when.slice(0, 16).replace("T", " "));
        time.dateTime = when;
        const added = node("span", "muted small cell-note", "added ");
        added.append(time);
        name.append(added);
        tr.classList.toggle("user-deactivated", !u.is_active);
        tr.append(name, actions(u));
        return tr;
      });
      body.replaceChildren(...rows);
      status.textContent = `${fmt(rows.length)} ${rows.length === 1 ? "user" : "users"}`;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const user = await api("POST", "/api/users", {
          username: username.value.trim(),
          password: password.value || null,
          is_admin: admin.checked,
        });
        const added = `Added ${user.is_admin ? "site admin" : "user"} ${user.username}`;
        say(result, "info", user.password ? `${added}; their password (shown once): ${user.password}` : `${added}.`);
        form.reset();
        await load();
      } catch (err) {
        say(result, "error", `The user was not added: ${err.message}`);
      } finally {
        submit.disabled = false;
      }
    });

    load().catch((err) => {
      status.textContent = `Could not load the users: ${err.message}`;
    });
  }

  setupNewProject();
  setupUsers();
})();
