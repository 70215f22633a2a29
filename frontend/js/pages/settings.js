// @ts-check
// Settings: your account, your password and your long-lived tokens. Users are managed
// on the Users page (admins).

import { api, ApiError, errorMessage, toLogin } from "../../public/js/api.js";
import { formatTime, h, pageHead, table, uniqueId } from "../../public/js/dom.js";
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
  if (user.is_admin) root.append(backupSection());
}

// -- backups (admins) --------------------------------------------------------------

/**
 * The ApiError of a failed fetch answer (its JSON message and field errors).
 * @param {Response} response
 */
async function failure(response) {
  if (response.status === 401) toLogin();
  const type = response.headers.get("Content-Type") || "";
  const problem = /** @type {{message?: string, errors?: FieldErrors} | null} */ (
    type.includes("json") ? await response.json() : null);
  return new ApiError(response.status,
    problem?.message || response.statusText || `Request failed (${response.status})`,
    problem?.errors);
}

/** The file name the server gave in Content-Disposition. @param {Response} response */
function attachmentName(response) {
  const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  return match ? match[1] : "gatehouse-backup.tar.gz";
}

function backupSection() {
  const download = actionForm([
    { name: "passphrase", label: "Passphrase (optional)", type: "string", secret: true,
      max_length: 1024,
      description: "Encrypts the archive. Without it, the archive holds your keys and "
        + "passwords in the clear: keep it somewhere safe." },
    { name: "confirm", label: "Confirm passphrase", type: "string", secret: true },
  ], "Download a backup", async (data) => {
    const passphrase = String(data.passphrase || "");
    const response = await fetch("/api/backup", {
      method: "POST",
      headers: { Accept: "application/octet-stream", "Content-Type": "application/json" },
      body: JSON.stringify({ passphrase }),
    });
    if (!response.ok) throw await failure(response);
    const name = attachmentName(response);
    const url = URL.createObjectURL(await response.blob());
    try {
      h("a", { href: url, download: name }).click();
    } finally {
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    }
    return `Downloaded ${name}${passphrase ? " (encrypted)" : ""}.`;
  }, {
    check(data) {
      /** @type {FieldErrors} */
      const problems = {};
      if (String(data.passphrase || "") !== String(data.confirm || "")) {
        problems.confirm = "does not match the passphrase";
        problems.base = "The passphrases do not match.";
      }
      return problems;
    },
  });
  return section("Backups",
    h("p", { class: "muted" }, "A backup holds the configuration, the stored registries and "
      + "users, keys and certificates, and a consistent copy of every database."),
    group("Download a backup", download),
    group("Check a backup file", checkForm()),
    h("p", { class: "muted" }, "Checking reads the whole file (checksums, passphrase, "
      + "databases) and changes nothing here. To restore, stop Gatehouse and run "),
    h("pre", { class: "mono" },
      "gatehouse backup restore ARCHIVE --config EMPTY_DIR [--passphrase]"),
    h("p", { class: "muted" }, "then start Gatehouse on that directory. A backup is never "
      + "restored into a running Gatehouse: it would overwrite its files while it uses them."));
}

/**
 * A titled group inside the section (its heading names it for assistive tech).
 * @param {string} title
 * @param {HTMLElement} content
 */
function group(title, content) {
  const id = uniqueId("group");
  return h("div", { role: "group", "aria-labelledby": id }, h("h3", { id }, title), content);
}

function checkForm() {
  const fileId = uniqueId("backup-file");
  const passId = uniqueId("backup-passphrase");
  const file = /** @type {HTMLInputElement} */ (h("input", {
    id: fileId, type: "file", name: "file", required: true,
    accept: ".gz,.enc,.tar.gz,application/gzip,application/octet-stream" }));
  const passphrase = /** @type {HTMLInputElement} */ (h("input", {
    id: passId, type: "password", name: "passphrase", autocomplete: "off" }));
  const alert = h("p", { class: "form-error", role: "alert" });
  const status = h("p", { class: "muted", role: "status" });
  const button = /** @type {HTMLButtonElement} */ (
    h("button", { type: "submit", class: "primary" }, "Check backup"));
  const form = h("form", { novalidate: true },
    h("div", { class: "field" }, h("label", { for: fileId }, "Backup file"), file),
    h("div", { class: "field" },
      h("label", { for: passId }, "Passphrase of the file (if encrypted)"), passphrase),
    h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.textContent = "";
    status.textContent = "";
    const chosen = file.files?.[0];
    if (!chosen) {
      alert.textContent = "Choose a backup file.";
      return;
    }
    const body = new FormData();
    if (passphrase.value) body.append("passphrase", passphrase.value);
    body.append("file", chosen);
    button.disabled = true;
    status.textContent = "Checking…";
    try {
      const response = await fetch("/api/backup/restore-check",
        { method: "POST", headers: { Accept: "application/json" }, body });
      if (!response.ok) throw await failure(response);
      const info = /** @type {{files: number, databases: string[], created?: string,
        gatehouse?: string, encrypted: boolean}} */ (await response.json());
      status.textContent = `${chosen.name} is a good backup: ${info.files} files, `
        + `databases: ${info.databases.join(", ") || "none"}, made ${info.created || "?"} `
        + `by Gatehouse ${info.gatehouse || "?"}${info.encrypted ? ", encrypted" : ""}.`;
    } catch (err) {
      status.textContent = "";
      alert.textContent = errorMessage(err);
    } finally {
      button.disabled = false;
    }
  });
  return h("div", {}, form, alert, status);
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
