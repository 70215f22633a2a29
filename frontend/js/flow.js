// @ts-check
// Config and options flows in a dialog. Every answer of the server is one of:
//   form         – show its data_schema as a form (with per-field `errors`), submit again
//   create_entry – done: the entry was made (or the options saved)
//   abort        – stopped, with a `reason`
// A flow left half-way (Cancel, Esc) is aborted on the server.
//
// The words come from the integration's strings.json (the server adds them as
// `strings`: the step's title and description, each field's label, help and unit, and
// each error's message; `reason_message` for an abort); without them, identifiers are
// humanised. Every problem is shown at once: the page's own checks (an empty required
// field, bad JSON) do not stop the input from going to the server, which answers with
// its errors for every field; the page's messages are shown beside them.

import { h, humanize, uniqueId } from "../public/js/dom.js";
import { handleSubmit } from "../public/js/submit.js";
import { openDialog } from "./dialog.js";
import { schemaFields } from "./forms.js";

/**
 * The words of a step (core/flow_strings.py).
 * @typedef {object} StepWords
 * @property {string} [title]
 * @property {string} [description]
 * @property {Record<string, {label?: string, description?: string, unit?: string}>} [fields]
 * @property {Record<string, string>} [errors]
 */
/**
 * @typedef {import("./types.js").FlowResult & {strings?: StepWords, reason_message?: string}} FlowResult
 */

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
   * @param {{step_id: string | undefined, values: Record<string, unknown>,
   *   problems?: Record<string, string>} | null} [previous]
   */
  function show(result, previous = null) {
    flowId = result.flow_id || flowId;
    if (result.type === "form") {
      const same = previous && previous.step_id === result.step_id;
      showForm(result, same ? previous.values : {}, same ? previous.problems || {} : {});
    } else if (result.type === "create_entry") {
      finished = true;
      ending(h("p", { class: "notice ok", role: "status" }, doneMessage(result)));
    } else if (result.type === "abort") {
      finished = true;
      ending(h("p", { class: "notice", role: "alert" },
        `Stopped: ${result.reason_message || `${humanize(result.reason)}.`}`));
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
   * @param {Record<string, string>} pageProblems  what the page found in it
   */
  function showForm(result, values, pageProblems) {
    const words = result.strings || {};
    const schema = (result.data_schema || []).map((field) => ({
      ...field, ...(words.fields?.[field.name] || {}),
    }));
    const fields = schemaFields(schema, { values });
    /** @type {Record<string, string>} */
    let problems = {};
    // The page's problems do not stop the submit: the server names every problem.
    const sending = {
      read() {
        const { data, problems: found, raw } = fields.read();
        problems = found;
        return { data: { ...data, ...raw }, problems: {} };
      },
      showErrors: fields.showErrors,
    };
    const baseError = h("p", { class: "form-error", role: "alert" });
    const button = h("button", { type: "submit", class: "primary" }, "Submit");
    const headingId = uniqueId("step");
    const form = h("form", {
      novalidate: true, dataset: { step: result.step_id }, "aria-labelledby": headingId,
    },
      h("h3", { id: headingId, class: "step-title" }, words.title || humanize(result.step_id)),
      words.description
        ? h("div", { class: "step-description" },
          words.description.split("\n").map((line) => h("p", { class: "muted" }, line)))
        : placeholders(result.description_placeholders),
      fields.element, baseError,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: close }, "Cancel"), button));
    const showErrors = handleSubmit(form, {
      fields: sending, button, baseError,
      send: (data) => submit(/** @type {string} */ (flowId), data),
      done: (next, data) => show(next, { step_id: result.step_id, values: data, problems }),
    });
    // A form answered again carries its errors (in words when strings.json has them),
    // shown with what the page found: every problem at once.
    const errors = { ...(result.errors || {}), ...(words.errors || {}), ...pageProblems };
    showErrors(errors);
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
