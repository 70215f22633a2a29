// @ts-check
// Config and options flows in a dialog. Every answer of the server is one of:
//   form         – show its data_schema as a form (with per-field `errors`), submit again
//   create_entry – done: the entry was made (or the options saved)
//   abort        – stopped, with a `reason`
// A flow left half-way (Cancel, Esc) is aborted on the server.

import { h, humanize } from "../public/js/dom.js";
import { handleSubmit } from "../public/js/submit.js";
import { openDialog } from "./dialog.js";
import { schemaFields } from "./forms.js";

/** @typedef {import("./types.js").FlowResult} FlowResult */

/**
 * Run a flow: `start()` → first result, `submit(flowId, data)` → next result,
 * `abort(flowId)` on cancel. `doneMessage(result)` words the create_entry result;
 * `onDone` runs when the dialog closes.
 * @param {object} options
 * @param {string} options.title
 * @param {() => Promise<FlowResult>} options.start
 * @param {(flowId: string, data: Record<string, unknown>) => Promise<FlowResult>} options.submit
 * @param {(flowId: string) => Promise<unknown>} options.abort
 * @param {(result: FlowResult) => string} [options.doneMessage]
 * @param {(() => unknown) | null} [options.onDone]
 */
export function runFlow({ title, start, submit, abort, doneMessage = createdMessage, onDone = null }) {
  /** @type {string | null} */
  let flowId = null;
  let finished = false;
  const { body, close } = openDialog(title, {
    onClose() {
      if (flowId && !finished) abort(flowId).catch(() => {});
      if (onDone) onDone();
    },
  });
  body.append(h("p", { class: "muted" }, "Loading…"));

  /**
   * @param {FlowResult} result
   * @param {{step_id: string | undefined, values: Record<string, unknown>} | null} [previous]
   */
  function show(result, previous = null) {
    flowId = result.flow_id || flowId;
    if (result.type === "form") {
      const keep = previous && previous.step_id === result.step_id ? previous.values : {};
      showForm(result, keep);
    } else if (result.type === "create_entry") {
      finished = true;
      ending(h("p", { class: "notice ok", role: "status" }, doneMessage(result)));
    } else if (result.type === "abort") {
      finished = true;
      ending(h("p", { class: "notice", role: "alert" }, `Stopped: ${humanize(result.reason)}.`));
    } else {
      ending(h("p", { class: "notice", role: "alert" }, `Unexpected answer: ${result.type}`));
    }
  }

  /** @param {HTMLElement} message */
  function ending(message) {
    const button = h("button", { type: "button", class: "primary", onclick: close }, "Close");
    body.replaceChildren(message, h("div", { class: "actions" }, button));
    button.focus();
  }

  /**
   * @param {FlowResult} result  a form
   * @param {Record<string, unknown>} values  what the user entered last time
   */
  function showForm(result, values) {
    const fields = schemaFields(result.data_schema || [], { values });
    const baseError = h("p", { class: "form-error", role: "alert" });
    const button = h("button", { type: "submit", class: "primary" }, "Submit");
    const form = h("form", { novalidate: true, dataset: { step: result.step_id } },
      h("p", { class: "muted" }, `Step: ${humanize(result.step_id)}`),
      placeholders(result.description_placeholders),
      fields.element, baseError,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: close }, "Cancel"), button));
    const showErrors = handleSubmit(form, {
      fields, button, baseError,
      send: (data) => submit(/** @type {string} */ (flowId), data),
      done: (next, data) => show(next, { step_id: result.step_id, values: data }),
    });
    // A form answered again carries its errors: shown the same way as a refusal's.
    showErrors(result.errors || {});
    body.replaceChildren(form);
    /** @type {HTMLElement | null} */ (form.querySelector("input, select, textarea, button"))?.focus();
  }

  start().then(show, (err) => ending(h("p", { class: "notice", role: "alert" }, err.message)));
}

/**
 * The words for a config flow's create_entry: the new entry and how its set-up went.
 * @param {FlowResult} result
 */
export function createdMessage(result) {
  return `Created “${result.title}”. State: ${humanize(result.entry_state || "unknown")}.`;
}

/**
 * What the step wants the user to know (pending changes, the file to copy...), as the
 * flow's description_placeholders: one line per entry.
 * @param {Record<string, unknown> | undefined} values
 */
function placeholders(values) {
  const entries = Object.entries(values || {}).filter(([, value]) => value !== "" && value != null);
  if (!entries.length) return null;
  return h("dl", { class: "placeholders" },
    entries.flatMap(([key, value]) => [h("dt", {}, humanize(key)), h("dd", {}, String(value))]));
}
