// @ts-check
// A tiny element builder and a few DOM helpers: the whole "framework" of the UI.
// Public (under public/) because the login page builds its forms with it too.

/**
 * What may stand as a child: nodes, text, numbers, nested arrays; null, undefined and
 * false are left out (so `cond ? node : null` reads well). The array is spelt as an
 * object type because a JSDoc type alias may refer to itself only through one.
 * @typedef {Node | string | number | boolean | null | undefined
 *   | {readonly [index: number]: Child, readonly length: number}} Child
 */

/**
 * Attributes and properties: `on<event>` functions become listeners, `dataset` is
 * merged into the element's, `false`/`null`/`undefined` are skipped.
 * @typedef {Record<string, unknown>} Attrs
 */

/**
 * h("button", {class: "primary", onclick: fn}, "Save") → <button class="primary">Save</button>
 * Attributes starting with "on" become listeners; `false`/`null` attributes are skipped;
 * children may be strings, nodes, arrays or null.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "value" && el instanceof HTMLTextAreaElement) {
      el.defaultValue = String(value); // a textarea's initial text (what form.reset() restores)
    } else if (name in el && typeof value !== "string") {
      // Properties such as checked, hidden, disabled: set as what they are.
      /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @template {ParentNode} P
 * @param {P} parent
 * @param {Child} children
 * @returns {P}
 */
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/**
 * "update_interval" → "Update interval".
 * @param {unknown} name
 */
export function humanize(name) {
  const text = String(name).replace(/[_.]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

let uid = 0;
/**
 * A unique element id with a readable prefix.
 * @param {string} prefix
 */
export function uniqueId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A date from epoch seconds, or "—".
 * @param {number | null | undefined} seconds
 */
export function formatTime(seconds) {
  if (!seconds) return "—";
  return new Date(seconds * 1000).toLocaleString();
}

/**
 * @param {string} title
 * @param {...Child} extra
 */
export function pageHead(title, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, title), ...extra);
}

/**
 * A table: column `headings` ("" is the actions column, named for screen readers only).
 * @param {string[]} headings
 * @param {Child} rows
 */
export function table(headings, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", {},
      text || h("span", { class: "visually-hidden" }, "Actions"))))),
    h("tbody", {}, rows));
}
