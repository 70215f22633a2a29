// @ts-check
// Modal dialogs on the native <dialog> element: focus trap, Esc and backdrop for free.

import { h, uniqueId } from "../public/js/dom.js";

/**
 * Open a modal titled `title`; returns {dialog, body, close}. The dialog is removed from
 * the page when closed; `onClose` runs then (Esc, a Close button, or `close()`).
 * @param {string} title
 * @param {{onClose?: (() => void) | null}} [options]
 */
export function openDialog(title, { onClose = null } = {}) {
  const titleId = uniqueId("dialog-title");
  const body = h("div", { class: "dialog-body" });
  const dialog = h("dialog", { "aria-labelledby": titleId },
    h("h2", { id: titleId }, title), body);
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (onClose) onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, body, close: () => dialog.close() };
}

/**
 * Ask a yes/no question; resolves true if confirmed.
 * @param {string} title
 * @param {string} message
 * @param {{confirmLabel?: string, danger?: boolean}} [options]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, message, { confirmLabel = "Confirm", danger = true } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const { body, close } = openDialog(title, { onClose: () => resolve(answer) });
    body.append(
      h("p", {}, message),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: close }, "Cancel"),
        h("button", {
          type: "button", class: danger ? "primary danger-confirm" : "primary",
          onclick: () => { answer = true; close(); },
        }, confirmLabel)),
    );
  });
}
