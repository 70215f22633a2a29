// @ts-check
// Services: pick one, fill the form generated from its schema, call it, see the answer.
// The chosen service is kept in the address (#/services?service=demo.reset_counter).
//
// People pick entities, never ids they would have to look up: a service whose
// description has Home Assistant's `target` ({entity: {domain, integration}}, or a list
// of such filters), or a field with an `entity` selector, or an `entity_id` field, gets
// a picker of the entities that fit. A domain service finds its config entry from the
// entity picked (the server does: LoadedEntries.pick). A field with HA's `config_entry`
// selector ({config_entry: {integration}}; an `entry_id` field without a selector is
// read the same way, for the service's own domain) is a choice of that integration's
// loaded entries by title, pre-selected when only one is loaded; administrators only
// (the entries are theirs to list). Others type the entry's title, which the server
// accepts as well (LoadedEntries.pick_entry), so nobody is asked for an id. A field
// marked deprecated (`entry`, the old spelling of `entry_id`) is not offered.
// The answer is shown as a table of key/value rows (nested objects as nested tables).

import { api } from "../../public/js/api.js";
import { h, humanize, pageHead, uniqueId } from "../../public/js/dom.js";
import { handleSubmit } from "../../public/js/submit.js";
import { schemaFields } from "../forms.js";

/** @typedef {import("../types.js").SchemaField} SchemaField */
/**
 * One filter of an entity selector or target (Home Assistant's shape).
 * @typedef {{domain?: string | string[], integration?: string}} EntityFilter
 */
/**
 * A service as /api/services describes it: our `form` plus HA's `fields`/`target`.
 * @typedef {object} ServiceInfo
 * @property {string} name
 * @property {string} [description]
 * @property {SchemaField[]} form
 * @property {Record<string, {selector?: Record<string, unknown>}>} [fields]
 * @property {{entity?: EntityFilter | EntityFilter[]} | null} [target]
 * @property {string} supports_response  none | optional | only
 * @property {boolean} [admin_only]
 */
/** @typedef {{domain: string, services: Record<string, ServiceInfo>}} ServiceDomain */
/** @typedef {{domain: string, name: string, info: ServiceInfo}} Chosen */
/**
 * What the pickers choose from: the live entities, the integration of each (from the
 * entity registry, when the user may read it) and the config entries by domain.
 * @typedef {object} Catalog
 * @property {{entity_id: string, name: string}[]} entities
 * @property {Map<string, string> | null} platforms  entity_id → integration
 * @property {CatalogEntry[] | null} entries  null: not an administrator
 */
/** @typedef {{entry_id: string, domain: string, title: string, state: string}} CatalogEntry */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 * @param {URLSearchParams} params
 */
export async function render(root, ctx, params) {
  const domains = /** @type {ServiceDomain[]} */ (await api.get("/api/services"));
  const catalog = await loadCatalog(ctx);
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
    formArea.replaceChildren(chosen ? serviceForm(chosen, catalog, resultArea) : "");
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
 * The entities, and (for administrators) the registry and entries the pickers filter by.
 * @param {import("../types.js").Context} ctx
 * @returns {Promise<Catalog>}
 */
async function loadCatalog(ctx) {
  const entities = ctx.store.all().map((state) => ({
    entity_id: state.entity_id,
    name: String(state.attributes?.friendly_name ?? state.entity_id),
  }));
  if (!ctx.user.is_admin) return { entities, platforms: null, entries: null };
  const [registry, entries] = await Promise.all([
    api.get("/api/config/entity_registry").catch(() => null),
    api.get("/api/config/config_entries/entry").catch(() => null),
  ]);
  const platforms = Array.isArray(registry)
    ? new Map(registry.map((item) => [String(item.entity_id), String(item.platform)]))
    : null;
  return {
    entities,
    platforms,
    entries: Array.isArray(entries)
      ? entries.map((e) => ({ entry_id: String(e.entry_id), domain: String(e.domain),
        title: String(e.title), state: String(e.state) }))
      : null,
  };
}

/**
 * The entity filters of a service's target, or null when it has no target.
 * @param {ServiceInfo} info
 * @returns {EntityFilter[] | null}
 */
function targetFilters(info) {
  const entity = info.target?.entity;
  if (entity === undefined || entity === null) return null;
  return Array.isArray(entity) ? entity : [entity];
}

/**
 * The entity filters of a field with an `entity` selector, or null.
 * @param {ServiceInfo} info
 * @param {string} name
 * @returns {EntityFilter[] | null}
 */
function selectorFilters(info, name) {
  const selector = info.fields?.[name]?.selector;
  if (!selector || !("entity" in selector)) return name === "entity_id" ? [] : null;
  const entity = /** @type {EntityFilter & {filter?: EntityFilter | EntityFilter[]}} */ (
    selector.entity || {});
  if (entity.filter) return Array.isArray(entity.filter) ? entity.filter : [entity.filter];
  return entity.domain || entity.integration ? [entity] : [];
}

/**
 * The integration whose entries a field chooses from: its `config_entry` selector's
 * (the service's domain when the selector names none), or the service's domain for an
 * `entry_id` field with another selector; null for any other field.
 * @param {ServiceInfo} info
 * @param {SchemaField & {selector?: Record<string, unknown>}} field
 * @param {string} domain
 * @returns {string | null}
 */
function entryIntegration(info, field, domain) {
  const selector = info.fields?.[field.name]?.selector ?? field.selector;
  if (selector && "config_entry" in selector) {
    const wanted = /** @type {{integration?: unknown} | null} */ (selector.config_entry);
    return wanted?.integration ? String(wanted.integration) : domain;
  }
  // HA's description gives a plain `entry_id` a text selector: still an entry.
  return field.name === "entry_id" ? domain : null;
}

/**
 * A field choosing one entry: a select of the loaded entries of `integration` by title
 * (pre-selected when there is one), or for someone who may not list entries a text
 * field for the title. Entries that are not loaded are left out: the service could not
 * act on them.
 * @param {SchemaField} field
 * @param {string} integration
 * @param {Catalog} catalog
 * @param {boolean} targeted  the service also offers entities, whose entry is found
 * @returns {SchemaField}
 */
function entryField(field, integration, catalog, targeted) {
  const label = field.label || (field.name === "entry_id" ? "Entry" : humanize(field.name));
  if (!catalog.entries) {
    return { ...field, type: "string", label, secret: false,
      description: "The entry's title. Left empty: the only one loaded." };
  }
  const loaded = catalog.entries.filter((e) => e.domain === integration
    && e.state === "loaded");
  const [only] = loaded;
  const several = loaded.length > 1;
  return {
    ...field, type: "select", label,
    options: loaded.map((e) => e.entry_id),
    // Two entries titled alike are told apart by id (administrators see ids anyway).
    option_labels: loaded.map((e) => (loaded.filter((o) => o.title === e.title).length > 1
      ? `${e.title} (${e.entry_id})` : e.title)),
    // The only one is meant anyway; with entities to pick, their entry is.
    default: loaded.length === 1 && only && !targeted ? only.entry_id : undefined,
    description: targeted
      ? "Optional: the entry of the entities picked is found without it."
      : loaded.length === 0 ? `No ${integration} entry is loaded.`
        : several ? `${loaded.length} entries are loaded: choose one.` : field.description,
  };
}

/**
 * The entities `filters` allow (none: every entity). An integration filter needs the
 * registry; without it (not an administrator) every entity of the domain is offered
 * and the server says which does not fit.
 * @param {Catalog} catalog
 * @param {EntityFilter[]} filters
 */
function matching(catalog, filters) {
  if (!filters.length) return catalog.entities;
  return catalog.entities.filter(({ entity_id: id }) => filters.some((filter) => {
    const domains = filter.domain === undefined ? null
      : Array.isArray(filter.domain) ? filter.domain : [filter.domain];
    if (domains && !domains.includes(id.split(".")[0] ?? "")) return false;
    if (filter.integration && catalog.platforms) {
      return catalog.platforms.get(id) === filter.integration;
    }
    return true;
  }));
}

/**
 * A searchable multi-select of entities, read as one id or a list of ids.
 * @param {string} name
 * @param {string} labelText
 * @param {{entity_id: string, name: string}[]} choices
 * @param {boolean} required
 */
function entityPicker(name, labelText, choices, required) {
  const id = uniqueId(`pick-${name}`);
  const errorId = `${id}-error`;
  const select = h("select", {
    id, name, multiple: true, size: String(Math.min(8, Math.max(3, choices.length))),
    class: "entity-pick", "aria-describedby": errorId,
  }, choices.map(({ entity_id: entityId, name: friendly }) =>
    h("option", { value: entityId }, friendly === entityId ? entityId : `${friendly} (${entityId})`)));
  const search = h("input", {
    type: "search", placeholder: "Filter entities…", "aria-label": `Filter ${labelText}`,
    oninput() {
      const text = search.value.trim().toLowerCase();
      for (const option of select.options) {
        option.hidden = text !== "" && !option.textContent?.toLowerCase().includes(text)
          && !option.selected;
      }
    },
  });
  const error = h("p", { class: "error", id: errorId, hidden: true });
  const wrapper = h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, labelText),
    required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null,
    search, select,
    choices.length ? null : h("p", { class: "hint" }, "No entity fits this service."),
    error);
  return {
    name,
    wrapper,
    read() {
      const picked = [...select.selectedOptions].map((option) => option.value);
      if (!picked.length) {
        if (required) throw new Error("pick at least one entity");
        return undefined;
      }
      return picked.length === 1 ? picked[0] : picked;
    },
    /** @param {string | undefined} message */
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      select.setAttribute("aria-invalid", message ? "true" : "false");
    },
  };
}

/**
 * The form's fields: entity pickers and an entry choice where the service allows,
 * the rest from its schema.
 * @param {Chosen} chosen
 * @param {Catalog} catalog
 */
function buildFields({ domain, info }, catalog) {
  const target = targetFilters(info);
  /** @type {ReturnType<typeof entityPicker>[]} */
  const pickers = [];
  if (target) {
    const required = info.form.some((field) => field.name === "entity_id" && field.required);
    pickers.push(entityPicker("entity_id", "Entities", matching(catalog, target), required));
  }
  /** @type {SchemaField[]} */
  const rest = [];
  for (const field of info.form) {
    if (field.name === "entity_id" && target) continue; // the target picker sets it
    // The old spelling of a field (`entry` for `entry_id`): accepted, not offered.
    if (/** @type {{deprecated?: boolean}} */ (field).deprecated) continue;
    const filters = selectorFilters(info, field.name);
    if (filters) {
      pickers.push(entityPicker(field.name, field.label || humanize(field.name),
        matching(catalog, filters), Boolean(field.required)));
      continue;
    }
    const integration = entryIntegration(info, field, domain);
    if (integration) {
      if (target && !catalog.entries) continue; // the target finds the entry
      rest.push(entryField(field, integration, catalog, Boolean(target)));
      continue;
    }
    rest.push(field);
  }
  const schema = schemaFields(rest);
  const element = h("div", {}, pickers.map((picker) => picker.wrapper), schema.element);
  return {
    element,
    empty: !pickers.length && !rest.length,
    read() {
      const { data, problems } = schema.read();
      for (const picker of pickers) {
        try {
          const value = picker.read();
          if (value !== undefined) data[picker.name] = value;
        } catch (err) {
          problems[picker.name] = err instanceof Error ? err.message : String(err);
        }
      }
      return { data, problems };
    },
    /** @param {Record<string, string>} errors */
    showErrors(errors) {
      schema.showErrors(errors);
      for (const picker of pickers) picker.setError(errors[picker.name]);
    },
  };
}

/**
 * @param {Chosen} chosen
 * @param {Catalog} catalog
 * @param {HTMLElement} resultArea
 */
function serviceForm(chosen, catalog, resultArea) {
  const { domain, name, info } = chosen;
  const fields = buildFields(chosen, catalog);
  const baseError = h("p", { class: "form-error", role: "alert" });
  const responseKind = info.supports_response; // none | optional | only
  const wantResponse = h("input", { type: "checkbox", id: uniqueId("want-response"), checked: true });
  const button = h("button", { type: "submit", class: "primary" }, "Call service");
  const form = h("form", { novalidate: true, "aria-label": `Call ${domain}.${name}` },
    info.description ? h("p", { class: "muted" }, info.description) : null,
    info.admin_only ? h("p", { class: "muted" }, "Only administrators may call this service.") : null,
    fields.empty ? h("p", { class: "muted" }, "This service takes no data.") : fields.element,
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
    done: (answer) => showResult(resultArea, service, answer, true, catalog),
    failed: (err) => showResult(resultArea, service, { message: err.message }, false, catalog),
  });
  return form;
}

/**
 * @param {HTMLElement} area
 * @param {string} service
 * @param {unknown} answer
 * @param {boolean} ok
 * @param {Catalog} catalog
 */
function showResult(area, service, answer, ok, catalog) {
  // An entry id in the answer (demo.reset_counter's keys) is shown with its title.
  const titles = new Map((catalog.entries || []).map((e) => [e.entry_id, e.title]));
  /** @param {string} key */
  const label = (key) => (titles.has(key) ? `${titles.get(key)} (${key})` : key);
  const headingId = uniqueId("result");
  const raw = h("details", {},
    h("summary", {}, "Raw JSON"),
    h("pre", { class: "response", tabindex: "0", "aria-label": "Response JSON" },
      JSON.stringify(answer, null, 2)));
  area.replaceChildren(h("section", { class: "panel service-result", "aria-labelledby": headingId },
    h("h2", { id: headingId }, ok ? `Response of ${service}` : `${service} failed`),
    h("p", { class: "muted", role: "status" }, ok
      ? `Called at ${new Date().toLocaleTimeString()}.`
      : "The call failed."),
    ...resultSections(answer, label),
    raw));
}

/**
 * The answer in parts people read: the response data, then the states the call
 * changed (entity, state, when), or a message.
 * @param {unknown} answer
 * @param {(key: string) => string} label
 * @returns {HTMLElement[]}
 */
function resultSections(answer, label) {
  /** @type {unknown} */
  let changed = answer;
  /** @type {HTMLElement[]} */
  const parts = [];
  if (answer && typeof answer === "object" && !Array.isArray(answer)
      && "changed_states" in answer) {
    const { changed_states: states, service_response: response } =
      /** @type {{changed_states: unknown, service_response: unknown}} */ (answer);
    parts.push(h("h3", {}, "Response data"), valueView(response, label));
    changed = states;
  }
  if (Array.isArray(changed)) {
    parts.push(h("h3", {}, "Changed states"), changed.length
      ? h("table", { class: "kv changed-states" },
        h("thead", {}, h("tr", {}, h("th", {}, "Entity"), h("th", {}, "State"),
          h("th", {}, "Changed"))),
        h("tbody", {}, changed.map((state) => h("tr", {},
          h("td", {}, String(state?.entity_id ?? "")),
          h("td", {}, String(state?.state ?? "")),
          h("td", {}, state?.last_changed ? new Date(String(state.last_changed)).toLocaleTimeString() : "")))))
      : h("p", { class: "muted" }, "No state changed."));
  } else if (changed !== answer || parts.length === 0) {
    parts.push(valueView(changed, label));
  }
  return parts;
}

/**
 * A value as people read it: objects as key/value tables (nested), lists of scalars
 * joined, scalars as text.
 * @param {unknown} value
 * @param {(key: string) => string} label  how a key is shown
 * @param {number} [depth]
 * @returns {HTMLElement}
 */
function valueView(value, label, depth = 0) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item !== "object")) {
      return h("span", {}, value.map(String).join(", ") || "(empty list)");
    }
    if (depth > 4) return h("code", {}, JSON.stringify(value));
    return h("ol", {}, value.map((item) => h("li", {}, valueView(item, label, depth + 1))));
  }
  if (typeof value === "object") {
    const entries = Object.entries(/** @type {Record<string, unknown>} */ (value));
    if (!entries.length) return h("span", { class: "muted" }, "(empty)");
    if (depth > 4) return h("code", {}, JSON.stringify(value));
    return h("table", { class: "kv" }, h("tbody", {}, entries.map(([key, item]) =>
      h("tr", {}, h("th", { scope: "row" }, label(key)),
        h("td", {}, valueView(item, label, depth + 1))))));
  }
  return h("span", {}, String(value));
}
