// @ts-check
// Forms generated from a serialised voluptuous schema (core/schema_json.py):
// [{name, type, required, default?, options?, min?, max?, min_length?, max_length?,
//   secret?, description?, example?, items?}], plus the words a flow's strings.json
// gives (label, description, unit: shown after the input).
//
// The server validates; the form only helps (input types, hints) and shows the
// server's per-field errors next to each field. `novalidate` keeps the browser from
// second-guessing it, so every error looks the same. Submitting goes through
// public/js/submit.js, like every form of the UI.

import { errorMessage } from "../public/js/api.js";
import { h, humanize, uniqueId } from "../public/js/dom.js";
import { handleSubmit } from "../public/js/submit.js";
import { openDialog } from "./dialog.js";

/** @typedef {import("./types.js").SchemaField} SchemaField */
/** @typedef {import("./types.js").FieldErrors} FieldErrors */
/** @typedef {Record<string, unknown>} FormValues */
/** @typedef {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} Input */

/**
 * The fields of a schema as an element, with what handleSubmit needs to read them and
 * to show errors at them.
 * @typedef {{read: () => {data: FormValues, problems: FieldErrors, raw: FormValues},
 *   showErrors: (errors: FieldErrors) => void, element: HTMLDivElement}} SchemaFields
 */

/**
 * The fields of `schema` as a <div>; `values` pre-fill them (else their defaults).
 * Returns {element, read, showErrors}: `read()` gives {data, problems, raw} with data
 * typed as the schema wants (`raw`: the text of each field in `problems`, for a caller
 * that lets the server name every problem at once); `showErrors({field: message})`
 * shows messages under the fields.
 * @param {SchemaField[]} schema
 * @param {{values?: FormValues}} [options]
 * @returns {SchemaFields}
 */
export function schemaFields(schema, { values = {} } = {}) {
  const element = h("div", { class: "schema-fields" });
  const controls = schema.map((field) => {
    const control = fieldControl(field, field.name in values ? values[field.name] : field.default);
    element.append(control.wrapper);
    return control;
  });
  /** @param {FieldErrors} found */
  const showErrors = (found) => {
    for (const control of controls) control.setError(found[control.field.name]);
  };
  const read = () => {
    /** @type {FormValues} */
    const data = {};
    /** @type {FieldErrors} */
    const problems = {};
    /** @type {FormValues} */
    const raw = {};
    for (const control of controls) {
      try {
        const value = control.read();
        if (value !== undefined) data[control.field.name] = value;
      } catch (err) {
        problems[control.field.name] = errorMessage(err);
        const text = control.raw();
        if (text !== "") raw[control.field.name] = text;
      }
    }
    return { data, problems, raw };
  };
  showErrors({}); // every input starts out aria-invalid="false"
  return { element, read, showErrors };
}

/**
 * One field: its label, input, hint and error line.
 * @param {SchemaField} field
 * @param {unknown} initial
 */
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
  const unitId = `${id}-unit`;
  // The unit after the input, and in its description: "Timeout, s".
  const unitText = /** @type {{unit?: unknown}} */ (field).unit;
  const unit = unitText
    ? h("span", { class: "unit", id: unitId }, String(unitText))
    : null;
  input.setAttribute("aria-describedby",
    [unit && unitId, hint && hintId, errorId].filter(Boolean).join(" "));
  if (field.required) input.setAttribute("aria-required", "true");
  const isCheck = field.type === "boolean";
  const control = unit ? h("div", { class: "with-unit" }, input, unit) : input;
  if (control !== input) {
    // Through the CSSOM: the CSP forbids style attributes; no stylesheet rule needed.
    Object.assign(control.style, { display: "flex", gap: ".4rem", alignItems: "center" });
  }
  const wrapper = isCheck
    ? h("div", { class: "field check", dataset: { field: field.name } },
      h("label", { for: id }, input, field.label || humanize(field.name)), hint, error)
    : h("div", { class: "field", dataset: { field: field.name } }, label, control, hint, error);
  return {
    field,
    wrapper,
    read: () => readInput(field, input),
    raw: () => (input instanceof HTMLSelectElement ? "" : input.value.trim()),
    /** @param {string | undefined} message */
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
    },
  };
}

/**
 * @param {SchemaField} field
 * @param {string} id
 * @param {unknown} initial
 * @returns {Input}
 */
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
      const options = field.options || [];
      const chosen = options.findIndex((option) => option === initial);
      // defaultSelected, not just the value: form.reset() goes back to it (else to the
      // first option, which may be a choice nobody made).
      const select = h("select", common,
        field.required ? null : h("option", { value: "" }, "—"),
        options.map((option, index) => h("option", {
          value: String(index), defaultSelected: index === chosen,
        }, field.option_labels?.[index] ?? optionLabel(option))));
      select.value = chosen >= 0 ? String(chosen) : "";
      return select;
    }
    case "list":
      return h("textarea", {
        ...common, value: Array.isArray(initial) ? initial.join("\n") : "",
        placeholder: "One item per line",
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
 * @param {SchemaField} field
 * @param {Input} input
 * @returns {unknown}
 */
function readInput(field, input) {
  if (input instanceof HTMLInputElement && input.type === "checkbox") return input.checked;
  if (input instanceof HTMLSelectElement) {
    return input.value === "" ? undefined : (field.options || [])[Number(input.value)];
  }
  if (input.validity.badInput) throw new Error("expected a number");
  const raw = input.value.trim();
  if (raw === "") {
    if (field.required) throw new Error("required");
    return undefined;
  }
  switch (field.type) {
    case "integer":
    case "float":
      return toNumber(raw, field.type);
    case "list": {
      const itemType = field.items?.type;
      return raw.split("\n").map((line) => line.trim()).filter(Boolean)
        .map((item) => (itemType === "integer" || itemType === "float"
          ? toNumber(item, itemType) : item));
    }
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

/**
 * @param {string} raw
 * @param {string} type  integer | float
 * @returns {number | string}
 */
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
 * @param {object} options
 * @param {string} options.title
 * @param {SchemaField[]} options.fields
 * @param {FormValues} [options.values]
 * @param {string} [options.submitLabel]
 * @param {(data: FormValues) => Promise<unknown>} options.onSubmit
 * @returns {Promise<boolean>}
 */
export function formDialog({ title, fields, values = {}, submitLabel = "Save", onSubmit }) {
  return new Promise((resolve) => {
    let saved = false;
    const { body, close } = openDialog(title, { onClose: () => resolve(saved) });
    const form = schemaFields(fields, { values });
    const baseError = h("p", { class: "form-error", role: "alert" });
    const button = h("button", { type: "submit", class: "primary" }, submitLabel);
    const element = h("form", { novalidate: true }, form.element, baseError,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"),
        button));
    handleSubmit(element, {
      fields: form, button, baseError, send: onSubmit,
      done() {
        saved = true;
        close();
      },
    });
    body.append(element);
    /** @type {HTMLElement | null} */ (element.querySelector("input, select, textarea"))?.focus();
  });
}

/**
 * Menu actions and enum values come as snake_case identifiers ("add_point"); show them
 * as words. Anything else (versions, data types like "float32") is shown as is.
 * @param {unknown} option
 */
function optionLabel(option) {
  const text = String(option);
  return /^[a-z]+(_[a-z]+)+$/.test(text) ? humanize(text) : text;
}
