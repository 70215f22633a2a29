// A tiny element builder and a few DOM helpers: the whole "framework" of the UI.

/**
 * h("button", {class: "primary", onclick: fn}, "Save") → <button class="primary">Save</button>
 * Attributes starting with "on" become listeners; `false`/`null` attributes are skipped;
 * children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "value" && el.tagName === "TEXTAREA") {
      el.defaultValue = value; // a textarea's initial text (what form.reset() restores)
    } else if (name in el && typeof value !== "string") {
      el[name] = value; // properties such as checked, hidden, disabled
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** "update_interval" → "Update interval". */
export function humanize(name) {
  const text = String(name).replace(/[_.]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

let uid = 0;
/** A unique element id with a readable prefix. */
export function uniqueId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A date from epoch seconds, or "—". */
export function formatTime(seconds) {
  if (!seconds) return "—";
  return new Date(seconds * 1000).toLocaleString();
}

export function pageHead(title, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, title), ...extra);
}

/** A table: column `headings` ("" is the actions column, named for screen readers only). */
export function table(headings, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", {},
      text || h("span", { class: "visually-hidden" }, "Actions"))))),
    h("tbody", {}, rows));
}
