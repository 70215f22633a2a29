// Forms generated from a serialised voluptuous schema (core/schema_json.py):
// [{name, type, required, default?, options?, min?, max?, min_length?, max_length?,
//   secret?, description?, example?, items?}]
//
// The server validates; the form only helps (input types, hints) and shows the
// server's per-field errors next to each field. `novalidate` keeps the browser from
// second-guessing it, so every error looks the same.

import { openDialog } from "./dialog.js";
import { h, humanize, uniqueId } from "./dom.js";

/**
 * The fields of `schema` as a <div>; `values` pre-fill them (else their defaults),
 * `errors` ({field: message}) are shown under them. Returns {element, read, showErrors}:
 * `read()` gives {data, problems} with data typed as the schema wants.
 */
export function schemaFields(schema, { values = {}, errors = {} } = {}) {
  const element = h("div", { class: "schema-fields" });
  const controls = schema.map((field) => {
    const control = fieldControl(field, field.name in values ? values[field.name] : field.default);
    element.append(control.wrapper);
    return control;
  });
  const showErrors = (found) => {
    for (const control of controls) control.setError(found[control.field.name]);
  };
  showErrors(errors);
  const read = () => {
    const data = {};
    const problems = {};
    for (const control of controls) {
      try {
        const value = control.read();
        if (value !== undefined) data[control.field.name] = value;
      } catch (err) {
        problems[control.field.name] = err.message;
      }
    }
    return { data, problems };
  };
  return { element, read, showErrors };
}

function fieldControl(field, initial) {
  const id = uniqueId(`f-${field.name}`);
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const input = makeInput(field, id, initial);
  // The "*" stays outside the label, so that the field's name is just its label.
  const label = [h("label", { for: id }, field.label || humanize(field.name)),
    field.required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null];
  const hint = field.description
    ? h("p", { class: "hint", id: hintId }, String(field.description))
    : null;
  const error = h("p", { class: "error", id: errorId, hidden: true });
  input.setAttribute("aria-describedby", [hint && hintId, errorId].filter(Boolean).join(" "));
  if (field.required) input.setAttribute("aria-required", "true");
  const isCheck = field.type === "boolean";
  const wrapper = isCheck
    ? h("div", { class: "field check", dataset: { field: field.name } },
      h("label", { for: id }, input, field.label || humanize(field.name)), hint, error)
    : h("div", { class: "field", dataset: { field: field.name } }, label, input, hint, error);
  return {
    field,
    wrapper,
    read: () => readInput(field, input),
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
    },
  };
}

function makeInput(field, id, initial) {
  const common = { id, name: field.name, required: Boolean(field.required) };
  const has = initial !== undefined && initial !== null;
  switch (field.type) {
    case "boolean":
      return h("input", { ...common, type: "checkbox", defaultChecked: Boolean(initial), required: false });
    case "integer":
    case "float":
      return h("input", {
        ...common, type: "number", step: field.type === "integer" ? "1" : "any",
        min: field.min ?? null, max: field.max ?? null, value: has ? String(initial) : "",
        placeholder: field.example ?? null,
      });
    case "select": {
      const select = h("select", common,
        field.required ? null : h("option", { value: "" }, "—"),
        (field.options || []).map((option, index) =>
          h("option", { value: String(index) }, optionLabel(option))));
      const index = (field.options || []).findIndex((option) => option === initial);
      select.value = index >= 0 ? String(index) : "";
      return select;
    }
    case "list":
      return h("textarea", {
        ...common, value: has ? initial.join("\n") : "", placeholder: "One item per line",
      });
    case "object":
      return h("textarea", {
        ...common, value: has ? JSON.stringify(initial, null, 2) : "", placeholder: "{ }",
      });
    default:
      return h("input", {
        ...common,
        type: field.secret ? "password" : "text",
        autocomplete: field.secret ? "new-password" : "off",
        minlength: field.min_length ?? null,
        maxlength: field.max_length ?? null,
        value: has ? String(initial) : "",
        placeholder: field.example ?? null,
      });
  }
}

/**
 * The typed value of one input; undefined leaves the field out (the server's default).
 * Throws (the message is shown at the field) for an empty required field or bad JSON.
 */
function readInput(field, input) {
  if (field.type === "boolean") return input.checked;
  if (field.type === "select") {
    return input.value === "" ? undefined : field.options[Number(input.value)];
  }
  if (input.validity?.badInput) throw new Error("expected a number");
  const raw = input.value.trim();
  if (raw === "") {
    if (field.required) throw new Error("required");
    return undefined;
  }
  switch (field.type) {
    case "integer":
    case "float":
      return toNumber(raw, field.type);
    case "list":
      return raw.split("\n").map((line) => line.trim()).filter(Boolean)
        .map((item) => (["integer", "float"].includes(field.items?.type)
          ? toNumber(item, field.items.type) : item));
    case "object":
      try {
        return JSON.parse(raw);
      } catch {
        throw new Error("expected JSON, such as {\"key\": \"value\"}");
      }
    default:
      return field.secret ? input.value : raw;
  }
}

function toNumber(raw, type) {
  const number = Number(raw);
  if (!Number.isFinite(number) || (type === "integer" && !Number.isInteger(number))) {
    return raw; // the server names the problem
  }
  return number;
}

/**
 * A form in a dialog: `fields` as in a schema, `onSubmit(data)` saves (and may throw an
 * ApiError, whose per-field errors are shown). Resolves true when saved, false if cancelled.
 */
export function formDialog({ title, fields, values = {}, submitLabel = "Save", onSubmit }) {
  return new Promise((resolve) => {
    let saved = false;
    const { body, close } = openDialog(title, { onClose: () => resolve(saved) });
    const form = schemaFields(fields, { values });
    const baseError = h("p", { class: "form-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
    const element = h("form", { novalidate: true }, form.element, baseError,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"),
        submit));
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      const { data, problems } = form.read();
      form.showErrors(problems);
      baseError.textContent = "";
      if (Object.keys(problems).length > 0) return;
      submit.disabled = true;
      try {
        await onSubmit(data);
        saved = true;
        close();
      } catch (err) {
        form.showErrors(err.errors || {});
        baseError.textContent = err.message;
        submit.disabled = false;
      }
    });
    body.append(element);
    element.querySelector("input, select, textarea")?.focus();
  });
}

// Menu actions and enum values come as snake_case identifiers ("add_point"); show them
// as words. Anything else (versions, data types like "float32") is shown as is.
function optionLabel(option) {
  const text = String(option);
  return /^[a-z]+(_[a-z]+)+$/.test(text) ? humanize(text) : text;
}
