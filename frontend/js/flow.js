// Config and options flows in a dialog. Every answer of the server is one of:
//   form         – show its data_schema as a form (with per-field `errors`), submit again
//   create_entry – done: the entry was made (or the options saved)
//   abort        – stopped, with a `reason`
// A flow left half-way (Cancel, Esc) is aborted on the server.

import { openDialog } from "./dialog.js";
import { h, humanize } from "./dom.js";
import { schemaFields } from "./forms.js";

/**
 * Run a flow: `start()` → first result, `submit(flowId, data)` → next result,
 * `abort(flowId)` on cancel. `doneMessage(result)` words the create_entry result;
 * `onDone` runs when the dialog closes.
 */
export function runFlow({ title, start, submit, abort, doneMessage = createdMessage, onDone = null }) {
  let flowId = null;
  let finished = false;
  const { body, close } = openDialog(title, {
    onClose() {
      if (flowId && !finished) abort(flowId).catch(() => {});
      if (onDone) onDone();
    },
  });
  body.append(h("p", { class: "muted" }, "Loading…"));

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

  function ending(message) {
    const button = h("button", { type: "button", class: "primary", onclick: close }, "Close");
    body.replaceChildren(message, h("div", { class: "actions" }, button));
    button.focus();
  }

  function showForm(result, values) {
    const fields = schemaFields(result.data_schema || [], { values, errors: result.errors || {} });
    const baseError = h("p", { class: "form-error", role: "alert" }, result.errors?.base || "");
    const submitButton = h("button", { type: "submit", class: "primary" }, "Submit");
    const form = h("form", { novalidate: true, dataset: { step: result.step_id } },
      h("p", { class: "muted" }, `Step: ${humanize(result.step_id)}`),
      placeholders(result.description_placeholders),
      fields.element, baseError,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: close }, "Cancel"), submitButton));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const { data, problems } = fields.read();
      fields.showErrors(problems);
      baseError.textContent = "";
      if (Object.keys(problems).length > 0) return;
      submitButton.disabled = true;
      try {
        show(await submit(flowId, data), { step_id: result.step_id, values: data });
      } catch (err) {
        fields.showErrors(err.errors || {});
        baseError.textContent = err.message;
        submitButton.disabled = false;
      }
    });
    body.replaceChildren(form);
    form.querySelector("input, select, textarea, button")?.focus();
  }

  start().then(show, (err) => ending(h("p", { class: "notice", role: "alert" }, err.message)));
}

/** The words for a config flow's create_entry: the new entry and how its set-up went. */
export function createdMessage(result) {
  return `Created “${result.title}”. State: ${humanize(result.entry_state || "unknown")}.`;
}

// What the step wants the user to know (pending changes, the file to copy...), as the
// flow's description_placeholders: one line per entry.
function placeholders(values) {
  const entries = Object.entries(values || {}).filter(([, value]) => value !== "" && value != null);
  if (!entries.length) return null;
  return h("dl", { class: "placeholders" },
    entries.flatMap(([key, value]) => [h("dt", {}, humanize(key)), h("dd", {}, String(value))]));
}
