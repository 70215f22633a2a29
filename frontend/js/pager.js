// @ts-check
// Paging for long tables: only one page of rows is in the DOM, so a registry of 10,000
// entities renders as fast as one of 100. The search narrows the items first; the pager
// shows "1–100 of 10,000" with Previous/Next.

import { h } from "../public/js/dom.js";

/** Rows per page of a paged table. */
export const ROWS_PER_PAGE = 100;

/**
 * @template T
 * @typedef {object} Pager
 * @property {HTMLElement} element  the table (or empty text) and the page controls
 * @property {(items: T[], resetPage?: boolean) => void} show  new items (page kept unless told)
 */

/**
 * @template T
 * @param {string} label  what the rows are ("entities"), for the controls' names
 * @param {(items: T[]) => Node} renderPage  builds the table of one page's items
 * @param {() => Node} renderEmpty  what shows when there are no items
 * @returns {Pager<T>}
 */
export function pager(label, renderPage, renderEmpty) {
  const body = h("div");
  const info = h("span", { class: "muted pager-info", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "small", "aria-label": `Previous page of ${label}` },
    "Previous");
  const next = h("button", { type: "button", class: "small", "aria-label": `Next page of ${label}` }, "Next");
  const controls = h("div", { class: "pager" }, previous, info, next);
  /** @type {T[]} */
  let items = [];
  let page = 0;

  function draw() {
    const pages = Math.max(1, Math.ceil(items.length / ROWS_PER_PAGE));
    page = Math.min(page, pages - 1);
    controls.hidden = items.length <= ROWS_PER_PAGE;
    if (items.length === 0) {
      body.replaceChildren(renderEmpty());
      return;
    }
    const first = page * ROWS_PER_PAGE;
    const slice = items.slice(first, first + ROWS_PER_PAGE);
    body.replaceChildren(renderPage(slice));
    info.textContent = `${first + 1}–${first + slice.length} of ${items.length.toLocaleString()}`;
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  previous.addEventListener("click", () => { page -= 1; draw(); });
  next.addEventListener("click", () => { page += 1; draw(); });
  return {
    element: h("div", { class: "paged" }, body, controls),
    show(newItems, resetPage = false) {
      items = newItems;
      if (resetPage) page = 0;
      draw();
    },
  };
}
