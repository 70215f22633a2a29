// @ts-check
// Pieces the Settings and Users pages share: a titled section, a form that runs one
// action and says what it did, a new token's secret shown once, and role names.

import { h, uniqueId } from "../public/js/dom.js";
import { handleSubmit } from "../public/js/submit.js";
import { schemaFields } from "./forms.js";

/** @typedef {import("./types.js").User} User */
/** @typedef {import("./types.js").Token} Token */
/** @typedef {import("./types.js").SchemaField} SchemaField */
/** @typedef {import("./types.js").FieldErrors} FieldErrors */
/** @typedef {Record<string, unknown>} FormValues */

/** The roles an admin may give (core/permissions.py), the usual choice first. */
export const ROLES = ["user", "read_only", "admin"];

/** @type {Record<string, string>} */
const ROLE_LABELS = {
  owner: "Owner", admin: "Administrator", user: "User", read_only: "Read-only",
};

/**
 * "read_only" → "Read-only".
 * @param {string} role
 */
export function roleLabel(role) {
  return ROLE_LABELS[role] || role;
}

/**
 * A region with a heading (its accessible name).
 * @param {string} title
 * @param {...import("../public/js/dom.js").Child} content
 */
export function section(title, ...content) {
  const id = uniqueId("section");
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
export function actionForm(fields, submitLabel, action, { inline = false, check } = {}) {
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

/**
 * The new token's secret, shown this once, with a copy button.
 * @param {HTMLElement} area
 * @param {Token} made
 */
export function showOnce(area, made) {
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
