// @ts-check
// Services: pick one, fill the form generated from its schema, call it, see the answer.
// The chosen service is kept in the address (#/services?service=demo.reset_counter).

import { api } from "../../public/js/api.js";
import { h, pageHead, uniqueId } from "../../public/js/dom.js";
import { handleSubmit } from "../../public/js/submit.js";
import { schemaFields } from "../forms.js";

/** @typedef {import("../types.js").ServiceDomain} ServiceDomain */
/** @typedef {import("../types.js").ServiceInfo} ServiceInfo */
/** @typedef {{domain: string, name: string, info: ServiceInfo}} Chosen */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} _ctx
 * @param {URLSearchParams} params
 */
export async function render(root, _ctx, params) {
  const domains = /** @type {ServiceDomain[]} */ (await api.get("/api/services"));
  const pickId = uniqueId("service");
  const picker = h("select", { id: pickId, class: "service-pick" },
    h("option", { value: "" }, "Choose a service…"),
    domains.map(({ domain, services }) => h("optgroup", { label: domain },
      Object.entries(services).map(([name, info]) =>
        h("option", { value: `${domain}.${name}` },
          `${domain}.${name} — ${info.name}${info.admin_only ? " (admin only)" : ""}`)))));
  const formArea = h("div");
  const resultArea = h("div");
  root.append(pageHead("Services"),
    h("div", { class: "panel" },
      h("div", { class: "field" }, h("label", { for: pickId }, "Service"), picker),
      formArea),
    resultArea);

  /** @param {string} value @returns {Chosen | null} */
  const find = (value) => {
    const [domain = "", name = ""] = value.split(".");
    const info = domains.find((d) => d.domain === domain)?.services[name];
    return info ? { domain, name, info } : null;
  };

  const choose = () => {
    resultArea.replaceChildren();
    const chosen = find(picker.value);
    formArea.replaceChildren(chosen ? serviceForm(chosen, resultArea) : "");
    if (chosen) history.replaceState(null, "", `#/services?service=${picker.value}`);
  };
  picker.addEventListener("change", choose);
  const wanted = params.get("service");
  if (wanted && find(wanted)) {
    picker.value = wanted;
    choose();
  }
}

/**
 * @param {Chosen} chosen
 * @param {HTMLElement} resultArea
 */
function serviceForm({ domain, name, info }, resultArea) {
  const fields = schemaFields(info.form);
  const baseError = h("p", { class: "form-error", role: "alert" });
  const responseKind = info.supports_response; // none | optional | only
  const wantResponse = h("input", { type: "checkbox", id: uniqueId("want-response"), checked: true });
  const button = h("button", { type: "submit", class: "primary" }, "Call service");
  const form = h("form", { novalidate: true, "aria-label": `Call ${domain}.${name}` },
    info.description ? h("p", { class: "muted" }, info.description) : null,
    info.admin_only ? h("p", { class: "muted" }, "Only administrators may call this service.") : null,
    info.form.length ? fields.element : h("p", { class: "muted" }, "This service takes no data."),
    responseKind === "optional"
      ? h("div", { class: "field check" }, h("label", { for: wantResponse.id }, wantResponse,
        "Return the response data"))
      : null,
    baseError,
    h("div", { class: "actions" }, button));

  const service = `${domain}.${name}`;
  handleSubmit(form, {
    fields, button, baseError,
    send(data) {
      const returnResponse = responseKind === "only"
        || (responseKind === "optional" && wantResponse.checked);
      const query = returnResponse ? "?return_response=1" : "";
      return api.post(`/api/services/${domain}/${name}${query}`, data);
    },
    done: (answer) => showResult(resultArea, service, answer, true),
    failed: (err) => showResult(resultArea, service, { message: err.message }, false),
  });
  return form;
}

/**
 * @param {HTMLElement} area
 * @param {string} service
 * @param {unknown} answer
 * @param {boolean} ok
 */
function showResult(area, service, answer, ok) {
  const headingId = uniqueId("result");
  area.replaceChildren(h("section", { class: "panel", "aria-labelledby": headingId },
    h("h2", { id: headingId }, ok ? `Response of ${service}` : `${service} failed`),
    h("p", { class: "muted", role: "status" }, ok
      ? `Called at ${new Date().toLocaleTimeString()}.`
      : "The call failed."),
    h("pre", { class: "response", tabindex: "0", "aria-label": "Response JSON" },
      JSON.stringify(answer, null, 2))));
}
