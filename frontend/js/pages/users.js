// @ts-check
// Users (admins only; the navigation hides it from others): everyone's role and
// policy, adding and removing users, and scrape tokens for Prometheus.
//
// The server is the judge of every change (core/http/auth_store.py): the owner's
// account is the owner's alone, nobody changes their own role or policy, and a policy's
// globs are checked one by one (its errors name the field and the line). So the page
// offers only what can succeed, and shows the server's refusal when something does not.

import { api, errorMessage } from "../../public/js/api.js";
import { h, pageHead, table } from "../../public/js/dom.js";
import { actionForm, ROLES, roleLabel, section, showOnce } from "../account.js";
import { confirmDialog } from "../dialog.js";
import { formDialog } from "../forms.js";

/** @typedef {import("../types.js").User} User */
/** @typedef {import("../types.js").Policy} Policy */
/** @typedef {import("../types.js").Token} Token */
/** @typedef {import("../types.js").SchemaField} SchemaField */

/** @type {SchemaField[]} */
const POLICY_FIELDS = [
  { name: "read", label: "Read", type: "list",
    description: "Entities it sees, one id or pattern per line (sensor.*, switch.pump). Empty: none." },
  { name: "control", label: "Control", type: "list",
    description: "Of those, the entities it may switch or set. Empty: the same as Read." },
  { name: "services", label: "Services", type: "list",
    description: "Services it may call, one pattern per line (switch.*, demo.reset_counter). "
      + "Admin-only services are refused whatever this says. Empty: none." },
];

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 */
export async function render(root, { user: me }) {
  const problem = h("p", { class: "form-error", role: "alert" });
  const list = h("div");

  async function refresh() {
    const users = /** @type {User[]} */ (await api.get("/api/auth/users"));
    list.replaceChildren(table(["Name", "User name", "Role", "Policy", ""],
      users.map((u) => userRow(u, me, { refresh, problem }))));
  }

  const create = actionForm([
    { name: "username", label: "User name", type: "string", required: true },
    { name: "name", label: "Display name", type: "string" },
    { name: "password", label: "Password", type: "string", secret: true, required: true, min_length: 8 },
    { name: "role", label: "Role", type: "select", required: true, default: "user",
      options: ROLES, option_labels: ROLES.map(roleLabel),
      description: "Administrators may do everything but change the owner. A read-only "
        + "user sees what its policy allows and calls nothing." },
  ], "Add user", async (data) => {
    await api.post("/api/auth/users", data);
    await refresh();
    return `Added ${data.username}.`;
  });
  await refresh();
  root.append(pageHead("Users"), problem,
    section("Users", list, h("h3", {}, "Add a user"), create),
    scrapeSection());
}

/**
 * One user's row: the role as a choice (not for the owner, nor for yourself), what its
 * policy allows, and the actions.
 * @param {User} u
 * @param {User} me
 * @param {{refresh: () => Promise<void>, problem: HTMLElement}} page
 */
function userRow(u, me, { refresh, problem }) {
  const fixed = u.is_owner || u.id === me.id;
  /** @param {() => Promise<unknown>} action */
  const attempt = async (action) => {
    problem.textContent = "";
    try {
      await action();
    } catch (err) {
      problem.textContent = errorMessage(err);
    }
    await refresh();
  };
  const role = fixed ? roleLabel(u.role) : h("select", {
    "aria-label": `Role of ${u.username}`,
    onchange: (/** @type {Event} */ event) => attempt(() => api.post(`/api/auth/users/${u.id}`,
      { role: /** @type {HTMLSelectElement} */ (event.target).value })),
  }, ROLES.map((r) => h("option", { value: r, selected: r === u.role }, roleLabel(r))));
  const limited = !u.is_admin;
  return h("tr", { dataset: { userId: u.id } },
    h("td", {}, u.name), h("td", {}, u.username), h("td", {}, role),
    h("td", {}, limited ? policySummary(u.policy) : h("span", { class: "muted" }, "Everything")),
    h("td", {}, h("div", { class: "row-actions" },
      limited && !fixed ? h("button", {
        type: "button", class: "small", "aria-label": `Edit policy of ${u.username}`,
        async onclick() {
          const saved = await formDialog({
            title: `Policy of ${u.username}`, fields: POLICY_FIELDS,
            values: { read: u.policy.read, control: u.policy.control ?? [], services: u.policy.services },
            onSubmit: (data) => api.post(`/api/auth/users/${u.id}/policy`, toPolicy(data)),
          });
          if (saved) await refresh();
        },
      }, "Edit policy") : null,
      fixed ? null : h("button", {
        type: "button", class: "small danger", "aria-label": `Remove ${u.username}`,
        async onclick() {
          const sure = await confirmDialog("Remove user?",
            `Remove “${u.username}”? Their sessions and tokens stop working.`,
            { confirmLabel: "Remove" });
          if (sure) await attempt(() => api.del(`/api/auth/users/${u.id}`));
        },
      }, "Remove"))));
}

/**
 * The dialog's lists as the server wants a policy (an empty Control: the same as Read).
 * @param {Record<string, unknown>} data
 * @returns {Policy}
 */
function toPolicy(data) {
  /** @param {unknown} value */
  const globs = (value) => (Array.isArray(value) ? value.map(String) : []);
  const control = globs(data.control);
  const policy = { read: globs(data.read), services: globs(data.services) };
  return control.length ? { ...policy, control } : policy;
}

/** @param {Policy} policy */
function policySummary(policy) {
  /** @param {string[]} globs */
  const text = (globs) => (globs.length ? globs.join(", ") : "none");
  return h("div", { class: "policy" },
    h("div", {}, `Reads: ${text(policy.read)}`),
    h("div", {}, `Controls: ${policy.control ? text(policy.control) : "what it reads"}`),
    h("div", {}, `Services: ${text(policy.services)}`));
}

function scrapeSection() {
  const reveal = h("div", { role: "status" });
  const create = actionForm(
    [{ name: "name", label: "Scrape token name", type: "string", required: true, max_length: 100 }],
    "Create scrape token",
    async (data) => {
      const made = /** @type {Token} */ (await api.post("/api/auth/tokens",
        { name: data.name, scope: "metrics" }));
      showOnce(reveal, made);
      return "";
    },
    { inline: true },
  );
  return section("Scrape tokens",
    h("p", { class: "muted" }, "A scrape token reads /metrics and nothing else: give it to "
      + "Prometheus (“authorization: credentials”). It is listed with your own tokens in "
      + "Settings, where you can revoke it, and stops working if you stop being an administrator."),
    create, reveal);
}
