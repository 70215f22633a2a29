// @ts-check
// Submitting a form, the one way every form of the UI does it (config and options
// flows, edit dialogs, service calls, settings, the login page):
//
//   validate in the page (required fields, unparsable JSON, a repeated password)
//     → problems shown, nothing sent
//   else disable the submit button, send, enable it again afterwards
//     → answered: `done(answer, data)`
//     → refused (ApiError): each field's message next to its field, the error's message
//       (which names every problem, `base` ones included) as the form's general message
//
// A server answer that is itself a form with errors (a flow step) goes through the same
// display: `handleSubmit` returns it.
//
// Public (under public/) because the login page uses it too.

import { ApiError } from "./api.js";

/** @typedef {import("./api.js").FieldErrors} FieldErrors */

/**
 * A form's fields as the helper sees them: `read()` gives the values and the problems
 * found before sending; `showErrors` shows `{field: message}` at the fields ({} clears).
 * @template {Record<string, unknown>} D
 * @typedef {object} FormFields
 * @property {() => {data: D, problems: FieldErrors}} read
 * @property {(errors: FieldErrors) => void} showErrors
 */

/**
 * @template {Record<string, unknown>} D
 * @template T
 * @typedef {object} SubmitOptions
 * @property {FormFields<D>} fields
 * @property {HTMLButtonElement} button  disabled while the request is in flight
 * @property {HTMLElement} baseError  the form's general message (an element with role=alert)
 * @property {(data: D) => Promise<T>} send  the request (may throw an ApiError)
 * @property {((data: D) => FieldErrors) | undefined} [check]  more validation, once the
 *   fields' own passed
 * @property {((answer: T, data: D) => void) | undefined} [done]  after a successful `send`
 * @property {((error: Error) => void) | undefined} [failed]  after the error is shown
 */

/**
 * Shows `errors` at the fields and `message` (else `errors.base`, else nothing) as the
 * form's general message.
 * @callback ShowErrors
 * @param {FieldErrors} errors
 * @param {string} [message]
 * @returns {void}
 */

/**
 * Handle `form`'s submit as described above; returns the function that shows errors,
 * for errors that arrive otherwise (a flow's form answered again with `errors`).
 * @template {Record<string, unknown>} D
 * @template T
 * @param {HTMLFormElement} form
 * @param {SubmitOptions<D, T>} options
 * @returns {ShowErrors}
 */
export function handleSubmit(form, { fields, button, baseError, send, check, done, failed }) {
  /** @type {ShowErrors} */
  const show = (errors, message) => {
    fields.showErrors(errors);
    baseError.textContent = message ?? errors.base ?? "";
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { data, problems: found } = fields.read();
    const problems = Object.keys(found).length > 0 || !check ? found : check(data);
    show(problems);
    if (Object.keys(problems).length > 0) return;
    button.disabled = true;
    try {
      const answer = await send(data);
      if (done) done(answer, data);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      show((error instanceof ApiError && error.errors) || {}, error.message);
      if (failed) failed(error);
    } finally {
      button.disabled = false;
    }
  });
  return show;
}
