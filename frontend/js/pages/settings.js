// @ts-check
// Settings: your account, your password and your long-lived tokens. Users are managed
// on the Users page (admins).

import { api } from "../../public/js/api.js";
import { formatTime, h, pageHead, table } from "../../public/js/dom.js";
import { actionForm, roleLabel, section, showOnce } from "../account.js";
import { confirmDialog } from "../dialog.js";

/** @typedef {import("../types.js").User} User */
/** @typedef {import("../types.js").Token} Token */
/** @typedef {import("../types.js").FieldErrors} FieldErrors */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 */
export async function render(root, { user }) {
  root.append(pageHead("Settings"),
    section("Your account", h("dl", { class: "account" },
      h("dt", {}, "Name"), h("dd", {}, user.name),
      h("dt", {}, "User name"), h("dd", {}, user.username),
      h("dt", {}, "Role"), h("dd", {}, roleLabel(user.role)))),
    section("Change password", passwordForm(user)),
    await tokensSection());
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
      ? table(["Name", "Access", "Created", "Last used", ""], tokens.map((token) => h("tr", {
        dataset: { tokenId: token.id } },
        h("td", {}, token.name),
        h("td", {}, token.scope === "metrics" ? "/metrics only" : "Full"),
        h("td", {}, formatTime(token.created_at)),
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
    h("p", { class: "muted" }, "For scripts: send “Authorization: Bearer <token>”. A token "
      + "acts with your rights. For Prometheus, an administrator makes a scrape token on the "
      + "Users page: it reads /metrics and nothing else."),
    create, reveal, list);
}
