// @ts-check
// The public login page: onboarding on first start (no user yet), login otherwise.
// Both answers set the session cookie; then we go back to ?next= (a path of this site
// only: see nextPath).
// It uses the app's own modules from public/ (the only folder a browser without a
// session may load): api.js for the calls, dom.js for the form, submit.js for sending.

import { ApiError, api, errorMessage } from "./public/js/api.js";
import { h } from "./public/js/dom.js";
import { handleSubmit } from "./public/js/submit.js";

/** @typedef {import("./public/js/api.js").FieldErrors} FieldErrors */
/** @typedef {Record<string, string>} Values */

const box = /** @type {HTMLElement} */ (document.getElementById("login-box"));

/** A backslash or a control character: browsers read a backslash as "/" and drop tabs
 * and newlines, so "/<BACKSLASH>evil.example" or "/<TAB>/evil.example" would leave
 * the site. */
const UNSAFE = /[\\\u0000-\u001f\u007f]/;

/**
 * Where to go after logging in: `?next=` if it is a path of this site, else "/". A
 * "starts with one slash" test alone is an open redirect (see UNSAFE); the path must
 * also resolve to this very origin.
 * @returns {string}
 */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  if (!next.startsWith("/") || next.startsWith("//") || UNSAFE.test(next)) return "/";
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return "/";
  }
  if (url.origin !== location.origin) return "/";
  return url.pathname + url.search + url.hash;
}

/**
 * A labelled input, with a hint under it if `hint` is given.
 * @param {string} id
 * @param {string} label
 * @param {import("./public/js/dom.js").Attrs} attrs
 * @param {string} [hint]
 */
function field(id, label, attrs, hint) {
  const hintId = `${id}-hint`;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, ...attrs, "aria-describedby": hint ? hintId : null }),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

/**
 * `request`'s answer; a failure that is not the server's answer (an ApiError) means
 * the server was not reached, and says so.
 * @param {Promise<unknown>} request
 */
async function reach(request) {
  try {
    return await request;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new Error(`Cannot reach the server: ${errorMessage(err)}`);
  }
}

/**
 * One of the page's two forms. The browser checks `required`/`minlength` (these forms
 * are not `novalidate`); `check` finds what it cannot; the server's refusals are shown
 * as the form's message (they name the field themselves).
 * @param {object} spec
 * @param {string} spec.id
 * @param {string} spec.title
 * @param {string | null} spec.intro
 * @param {HTMLElement[]} spec.fields
 * @param {string} spec.submitLabel
 * @param {(data: Values) => Promise<unknown>} spec.send
 * @param {(data: Values) => FieldErrors} [spec.check]
 */
function credentialsForm({ id, title, intro, fields, submitLabel, send, check }) {
  const titleId = `${id}-title`;
  const baseError = h("p", { class: "form-error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, submitLabel);
  const form = h("form", { id, class: "panel", "aria-labelledby": titleId },
    h("h1", { id: titleId }, title), intro ? h("p", { class: "muted" }, intro) : null,
    fields, baseError, button);
  handleSubmit(form, {
    fields: {
      read: () => ({
        data: Object.fromEntries([...new FormData(form)].map(([name, value]) => [name, String(value)])),
        problems: {},
      }),
      showErrors() {}, // no per-field display: the general message names the field
    },
    button, baseError, check,
    send: (data) => reach(send(data)),
    done: () => location.assign(nextPath()),
  });
  return form;
}

function onboardingForm() {
  return credentialsForm({
    id: "onboarding",
    title: "Welcome",
    intro: "Create the owner account. The owner manages integrations, users and tokens.",
    fields: [
      field("ob-name", "Your name", { name: "name", autocomplete: "name" }),
      field("ob-username", "User name", { name: "username", autocomplete: "username", required: true }),
      field("ob-password", "Password", {
        name: "password", type: "password", autocomplete: "new-password", minlength: "8",
        required: true,
      }, "At least 8 characters."),
      field("ob-confirm", "Confirm password", {
        name: "confirm", type: "password", autocomplete: "new-password", required: true,
      }),
    ],
    submitLabel: "Create account",
    check({ password, confirm }) {
      /** @type {FieldErrors} */
      const problems = {};
      if (password !== confirm) problems.base = "The passwords do not match.";
      return problems;
    },
    send({ name = "", username = "", password = "" }) {
      /** @type {Values} */
      const body = { username, password };
      if (name.trim()) body.name = name.trim();
      return api.post("/api/onboarding/users", body);
    },
  });
}

function loginForm() {
  return credentialsForm({
    id: "login",
    title: "Log in",
    intro: null,
    fields: [
      field("login-username", "User name", { name: "username", autocomplete: "username", required: true }),
      field("login-password", "Password", {
        name: "password", type: "password", autocomplete: "current-password", required: true,
      }),
    ],
    submitLabel: "Log in",
    send: ({ username = "", password = "" }) => api.post("/auth/login", { username, password }),
  });
}

async function start() {
  let done = true;
  try {
    done = /** @type {{done: boolean}} */ (await api.get("/api/onboarding")).done;
  } catch {
    // Show the login form; its submit reports the connection problem.
  }
  const form = done ? loginForm() : onboardingForm();
  box.append(form);
  form.querySelector("input")?.focus();
}

start();
