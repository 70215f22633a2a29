// @ts-check
// Settings: your account, your password, your long-lived tokens, and (owner) users.

import { api } from "../../public/js/api.js";
import { formatTime, h, pageHead, table, uniqueId } from "../../public/js/dom.js";
import { handleSubmit } from "../../public/js/submit.js";
import { confirmDialog } from "../dialog.js";
import { schemaFields } from "../forms.js";

/** @typedef {import("../types.js").User} User */
/** @typedef {import("../types.js").Token} Token */
/** @typedef {import("../types.js").SchemaField} SchemaField */
/** @typedef {import("../types.js").FieldErrors} FieldErrors */
/** @typedef {Record<string, unknown>} FormValues */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 */
export async function render(root, { user }) {
  root.append(pageHead("Settings"),
    section("Your account", h("dl", { class: "account" },
      h("dt", {}, "Name"), h("dd", {}, user.name),
      h("dt", {}, "User name"), h("dd", {}, user.username),
      h("dt", {}, "Role"), h("dd", {}, roleOf(user)))),
    section("Change password", passwordForm(user)),
    await tokensSection());
  if (user.is_owner) root.append(await usersSection(user));
}

/** @param {User} user */
function roleOf(user) {
  if (user.is_owner) return "Owner";
  return user.is_admin ? "Administrator" : "User";
}

/**
 * @param {string} title
 * @param {...import("../../public/js/dom.js").Child} content
 */
function section(title, ...content) {
  const id = uniqueId("settings");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

/**
 * A form of `fields` whose submit runs `action(data)`; the text it returns is shown.
 * `check(data)` finds problems the fields cannot see alone (a repeated password).
 * @param {SchemaField[]} fields
 * @param {string} submitLabel
 * @param {(data: FormValues) => Promise<string>} action
 * @param {{inline?: boolean, check?: (data: FormValues) => FieldErrors}} [options]
 */
function actionForm(fields, submitLabel, action, { inline = false, check } = {}) {
  const generated = schemaFields(fields);
  const message = h("p", { class: "form-error", role: "alert" });
  const done = h("p", { class: "muted", role: "status" });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const form = h("form", { novalidate: true, class: inline ? "inline-form" : "" },
    inline ? [...generated.element.children] : generated.element,
    inline ? button : h("div", { class: "actions" }, button));
  // Added before handleSubmit's listener, so it runs first: every submit clears the
  // last success message, whether or not the new one gets sent.
  form.addEventListener("submit", () => { done.textContent = ""; });
  handleSubmit(form, {
    fields: generated, button, baseError: message, send: action, check,
    done(text) {
      done.textContent = text;
      form.reset();
    },
  });
  return h("div", {}, form, message, done);
}

/** @param {User} user */
function passwordForm(user) {
  const form = actionForm([
    { name: "current_password", label: "Current password", type: "string", secret: true, required: true },
    { name: "new_password", label: "New password", type: "string", secret: true, required: true,
      min_length: 8, description: "At least 8 characters. Your other sessions are logged out." },
    { name: "confirm", label: "Confirm new password", type: "string", secret: true, required: true },
  ], "Change password", async (data) => {
    await api.post("/api/auth/password",
      { current_password: data.current_password, new_password: data.new_password });
    return "Password changed.";
  }, {
    check(data) {
      /** @type {FieldErrors} */
      const problems = {};
      if (data.new_password !== data.confirm) {
        problems.confirm = "does not match the new password";
        problems.base = "The new passwords do not match.";
      }
      return problems;
    },
  });
  // For password managers: which account this password belongs to.
  form.querySelector("form")?.prepend(h("input", {
    type: "text", name: "username", autocomplete: "username", value: user.username,
    class: "visually-hidden", tabindex: "-1", "aria-hidden": "true", readonly: true,
  }));
  return form;
}

async function tokensSection() {
  const list = h("div");
  const reveal = h("div", { role: "status" });

  async function refresh() {
    const tokens = /** @type {Token[]} */ (await api.get("/api/auth/tokens"));
    list.replaceChildren(tokens.length
      ? table(["Name", "Created", "Last used", ""], tokens.map((token) => h("tr", {
        dataset: { tokenId: token.id } },
        h("td", {}, token.name), h("td", {}, formatTime(token.created_at)),
        h("td", {}, formatTime(token.last_used_at)),
        h("td", {}, h("button", {
          type: "button", class: "small danger", "aria-label": `Revoke ${token.name}`,
          async onclick() {
            const sure = await confirmDialog("Revoke token?",
              `Programs using “${token.name}” will no longer get in.`, { confirmLabel: "Revoke" });
            if (!sure) return;
            await api.del(`/api/auth/tokens/${token.id}`);
            reveal.replaceChildren();
            await refresh();
          },
        }, "Revoke")))))
      : h("p", { class: "empty" }, "No tokens yet."));
  }

  const create = actionForm(
    [{ name: "name", label: "Token name", type: "string", required: true, max_length: 100 }],
    "Create token",
    async (data) => {
      const made = /** @type {Token} */ (await api.post("/api/auth/tokens", { name: data.name }));
      showOnce(reveal, made);
      await refresh();
      return "";
    },
    { inline: true },
  );
  await refresh();
  return section("Long-lived access tokens",
    h("p", { class: "muted" }, "For scripts and Prometheus: send “Authorization: Bearer <token>”."),
    create, reveal, list);
}

/**
 * The new token's secret, shown this once, with a copy button.
 * @param {HTMLElement} area
 * @param {Token} made
 */
function showOnce(area, made) {
  const id = uniqueId("token-value");
  const secret = made.token || "";
  const value = h("input", { id, readonly: true, class: "mono", value: secret });
  const copy = h("button", {
    type: "button",
    async onclick() {
      value.select();
      try {
        await navigator.clipboard.writeText(secret);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Press Ctrl+C";
      }
    },
  }, "Copy");
  area.replaceChildren(h("div", { class: "notice ok" },
    h("label", { for: id }, `Token “${made.name}”: copy it now, it is not shown again.`),
    h("div", { class: "secret-once" }, value, copy)));
  value.select();
}

/** @param {User} me */
async function usersSection(me) {
  const list = h("div");
  async function refresh() {
    const users = /** @type {User[]} */ (await api.get("/api/auth/users"));
    list.replaceChildren(table(["Name", "User name", "Role", ""],
      users.map((u) => h("tr", { dataset: { userId: u.id } },
        h("td", {}, u.name), h("td", {}, u.username),
        h("td", {}, roleOf(u)),
        h("td", {}, u.is_owner || u.id === me.id ? "" : h("button", {
          type: "button", class: "small danger", "aria-label": `Remove ${u.username}`,
          async onclick() {
            const sure = await confirmDialog("Remove user?",
              `Remove “${u.username}”? Their sessions and tokens stop working.`,
              { confirmLabel: "Remove" });
            if (!sure) return;
            await api.del(`/api/auth/users/${u.id}`);
            await refresh();
          },
        }, "Remove"))))));
  }
  const create = actionForm([
    { name: "username", label: "User name", type: "string", required: true },
    { name: "name", label: "Display name", type: "string" },
    { name: "password", label: "Password", type: "string", secret: true, required: true, min_length: 8 },
    { name: "is_admin", label: "Administrator", type: "boolean" },
  ], "Add user", async (data) => {
    await api.post("/api/auth/users", data);
    await refresh();
    return `Added ${data.username}.`;
  });
  await refresh();
  return section("Users", list, h("h3", {}, "Add a user"), create);
}
