// @ts-check
// Automations (admins, with the automation integration loaded): Home Assistant's
// automations, scripts and blueprints.
//
// * Automations: the list (state, last triggered, runs going on, where it is written),
//   enable/disable (automation.toggle), Run (automation.trigger), Traces, Edit and New
//   (a YAML editor: what the server stores in automations.yaml; an automation written in
//   configuration.yaml is shown read-only), Delete; the ones that did not load, with why.
// * Scripts: the same for scripts.yaml (Run calls script.<key>).
// * Traces: the last runs of one item (trace/list), and one run's steps (trace/get): the
//   path of each step, its time, result, error and the variables it changed.
// * Blueprints: the list with what each needs that this host lacks; import from a file
//   or pasted YAML (a preview first: inputs and missing features; then Save); "Use"
//   opens a form made from the blueprint's inputs and selectors, which saves a new
//   automation (or script) with use_blueprint.
//
// Everything the server sends (names, errors, YAML) goes in as text, never as HTML.

import { errorMessage } from "../../public/js/api.js";
import { h, pageHead, table, uniqueId } from "../../public/js/dom.js";
import { confirmDialog, openDialog } from "../dialog.js";

/**
 * @typedef {object} AutoItem
 * @property {string} id
 * @property {string | null} entity_id
 * @property {string} alias
 * @property {string} state
 * @property {number} current
 * @property {string} mode
 * @property {string | null} last_triggered
 * @property {boolean} editable
 * @property {string | null} where
 * @property {string | null} blueprint
 */

/**
 * @typedef {object} ScriptItem
 * @property {string} key
 * @property {string | null} entity_id
 * @property {string} alias
 * @property {string} state
 * @property {string} mode
 * @property {boolean} editable
 * @property {string | null} where
 * @property {string | null} last_triggered
 */

/** @typedef {{id?: string, key?: string, error: string | null, editable: boolean, where: string | null}} Broken */
/** @typedef {{automations: AutoItem[], invalid: Broken[], problems: string[]}} AutoList */
/** @typedef {{scripts: ScriptItem[], invalid: Broken[], problems: string[]}} ScriptList */
/** @typedef {{yaml: string, editable: boolean, where: string | null, error?: string | null}} ItemConfig */

/**
 * @typedef {object} TraceSummary
 * @property {string} domain
 * @property {string} item_id
 * @property {string} run_id
 * @property {string} state
 * @property {string | null} script_execution
 * @property {{start: string, finish: string | null}} timestamp
 * @property {string | null} trigger
 * @property {string | null} last_step
 * @property {string | null} error
 */

/**
 * @typedef {object} TraceStep
 * @property {string} path
 * @property {string} timestamp
 * @property {unknown} [result]
 * @property {string} [error]
 * @property {Record<string, unknown>} [changed_variables]
 */

/** @typedef {TraceSummary & {trace: Record<string, TraceStep[]>}} TraceFull */

/**
 * @typedef {object} BlueprintInput
 * @property {string} name
 * @property {string} label
 * @property {string | null} description
 * @property {Record<string, unknown> | null} selector
 * @property {unknown} default
 * @property {boolean} has_default
 * @property {string | null} section
 */

/**
 * @typedef {object} BlueprintMeta
 * @property {string} path
 * @property {string} domain
 * @property {string} name
 * @property {string | null} description
 * @property {string | null} source_url
 * @property {BlueprintInput[]} inputs
 */

/** @typedef {{metadata?: BlueprintMeta, missing?: string[], error?: string}} BlueprintEntry */

const TABS = ["automations", "scripts", "blueprints"];

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 * @param {URLSearchParams} params
 */
export async function render(root, ctx, params) {
  const connection = ctx.connection;
  /** @param {Record<string, unknown>} message */
  const command = (message) => connection.command({ type: String(message.type), ...message });
  const tab = TABS.includes(params.get("tab") || "") ? String(params.get("tab")) : "automations";
  const problem = h("p", { class: "form-error", role: "alert" });
  const body = h("div", {});
  const nav = h("nav", { class: "actions", "aria-label": "Automation sections" },
    TABS.map((name) => h("a", {
      href: `#/automations?tab=${name}`, "aria-current": name === tab ? "page" : false,
    }, name.charAt(0).toUpperCase() + name.slice(1))));
  root.append(pageHead("Automations"), nav, problem, body);

  /** @param {unknown} err */
  const fail = (err) => { problem.textContent = errorMessage(err); };

  /**
   * Call a service; errors are shown.
   * @param {string} domain
   * @param {string} service
   * @param {Record<string, unknown>} data
   */
  async function call(domain, service, data) {
    problem.textContent = "";
    try {
      await command({ type: "call_service", domain, service, service_data: data });
    } catch (err) {
      fail(err);
    }
  }

  /**
   * The YAML editor for one item (new when `id` is null).
   * @param {"automation" | "script"} domain
   * @param {string | null} id
   * @param {string} text
   * @param {boolean} editable
   * @param {() => Promise<void>} done
   */
  function editor(domain, id, text, editable, done) {
    const { body: box, close } = openDialog(id ? `Edit ${domain} ${id}` : `New ${domain}`);
    const areaId = uniqueId("yaml");
    const keyId = uniqueId("key");
    const area = h("textarea", { id: areaId, class: "mono", rows: 22, cols: 80,
      spellcheck: "false", readonly: !editable, value: text });
    const key = h("input", { id: keyId, name: "key", pattern: "[a-z0-9_]+",
      required: true, value: id || "" });
    const error = h("p", { class: "form-error", role: "alert" });
    const save = h("button", { type: "submit", class: "primary", disabled: !editable }, "Save");
    const form = h("form", {
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        error.textContent = "";
        try {
          if (domain === "automation") {
            await command({ type: "automation/save", automation_id: id, yaml: area.value });
          } else {
            await command({ type: "script/save", key: id || key.value, yaml: area.value });
          }
          close();
          await done();
        } catch (err) {
          error.textContent = errorMessage(err);
        }
      },
    },
    domain === "script" && !id ? h("p", {}, h("label", { for: keyId }, "Key (script.<key>) "), key) : null,
    h("label", { for: areaId }, "YAML (Home Assistant's format, either syntax)"), area, error,
    editable ? null : h("p", { class: "muted" }, "Written outside the UI's file: read-only here."),
    h("div", { class: "actions" }, save,
      h("button", { type: "button", onclick: () => close() }, "Close")));
    box.append(form);
  }

  /**
   * The traces of one item, and the steps of the chosen run.
   * @param {string} domain
   * @param {string} itemId
   */
  async function traces(domain, itemId) {
    const { body: box, close } = openDialog(`Traces of ${domain} ${itemId}`);
    box.append(h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => close() }, "Close")));
    const steps = h("div", { class: "trace-steps" });
    const runs = /** @type {TraceSummary[]} */ (await command({
      type: "trace/list", domain, item_id: itemId })).slice().reverse();
    if (!runs.length) {
      box.append(h("p", { class: "muted" }, "No runs yet."));
      return;
    }
    const rows = runs.map((run) => h("tr", {},
      h("td", {}, new Date(run.timestamp.start).toLocaleString()),
      h("td", {}, run.trigger || "—"),
      h("td", {}, run.script_execution || run.state),
      h("td", {}, run.error || ""),
      h("td", {}, h("button", { type: "button", onclick: () => showRun(run) }, "Steps"))));
    box.append(table(["Started", "Trigger", "Outcome", "Error", ""], rows), steps);

    /** @param {TraceSummary} run */
    async function showRun(run) {
      steps.replaceChildren(h("p", { class: "muted" }, "Loading…"));
      try {
        const full = /** @type {TraceFull} */ (await command({ type: "trace/get",
          domain: run.domain, item_id: run.item_id, run_id: run.run_id }));
        const flat = Object.values(full.trace).flat()
          .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
        steps.replaceChildren(h("h3", {}, `Run ${run.run_id}`),
          h("ol", { class: "trace" }, flat.map((step) => h("li", {},
            h("code", {}, step.path), " ",
            h("span", { class: "muted" }, new Date(step.timestamp).toLocaleTimeString()),
            step.error ? h("p", { class: "form-error" }, step.error) : null,
            step.result !== undefined ? h("pre", { class: "mono wrap" },
              JSON.stringify(step.result, null, 1)) : null,
            step.changed_variables ? h("details", {}, h("summary", {}, "Variables"),
              h("pre", { class: "mono wrap" }, JSON.stringify(step.changed_variables, null, 1)))
              : null))));
      } catch (err) {
        steps.replaceChildren(h("p", { class: "form-error" }, errorMessage(err)));
      }
    }
  }

  /**
   * What did not load, with why; the UI's own items can be fixed from here.
   * @param {"automation" | "script"} domain
   * @param {Broken[]} invalid
   * @param {string[]} problems
   */
  function brokenList(domain, invalid, problems) {
    if (!invalid.length && !problems.length) return null;
    return h("section", { class: "panel" }, h("h2", {}, "Not loaded"),
      h("ul", {}, [...problems.map((text) => h("li", {}, text)),
        ...invalid.map((item) => {
          const id = item.id || item.key || "?";
          return h("li", {}, h("strong", {}, id), ": ", item.error || "", " ",
            item.editable ? h("button", { type: "button", onclick: () => edit(domain, id) }, "Fix")
              : null);
        })]));
  }

  async function showAutomations() {
    const list = /** @type {AutoList} */ (await command({ type: "automation/list" }));
    const rows = list.automations.map((item) => h("tr", {},
      h("td", {}, item.alias, item.blueprint ? h("span", { class: "muted" }, ` (${item.blueprint})`) : null),
      h("td", {}, h("button", {
        type: "button", "aria-pressed": item.state === "on" ? "true" : "false",
        onclick: async () => { await call("automation", "toggle", { entity_id: item.entity_id }); await refresh(); },
      }, item.state === "on" ? "Enabled" : "Disabled")),
      h("td", {}, item.last_triggered ? new Date(item.last_triggered).toLocaleString() : "never"),
      h("td", {}, String(item.current)),
      h("td", { class: "muted" }, item.where || ""),
      h("td", { class: "actions" },
        h("button", { type: "button", onclick: () => call("automation", "trigger", { entity_id: item.entity_id }) }, "Run"),
        h("button", { type: "button", onclick: () => traces("automation", item.id).catch(fail) }, "Traces"),
        h("button", { type: "button", onclick: () => edit("automation", item.id) }, item.editable ? "Edit" : "View"),
        item.editable ? h("button", { type: "button", onclick: () => remove("automation", item.id) }, "Delete") : null)));
    body.replaceChildren(
      h("div", { class: "actions" }, h("button", { type: "button", class: "primary",
        onclick: () => editor("automation", null, NEW_AUTOMATION, true, refresh) }, "New automation")),
      table(["Name", "State", "Last triggered", "Running", "Written in", ""], rows),
      brokenList("automation", list.invalid, list.problems) || "");
  }

  async function showScripts() {
    const list = /** @type {ScriptList} */ (await command({ type: "script/list" }));
    const rows = list.scripts.map((item) => h("tr", {},
      h("td", {}, item.alias),
      h("td", {}, item.state === "on" ? "running" : "idle"),
      h("td", {}, item.last_triggered ? new Date(item.last_triggered).toLocaleString() : "never"),
      h("td", { class: "muted" }, item.where || ""),
      h("td", { class: "actions" },
        h("button", { type: "button", onclick: () => call("script", "turn_on", { entity_id: item.entity_id }) }, "Run"),
        h("button", { type: "button", onclick: () => call("script", "turn_off", { entity_id: item.entity_id }) }, "Stop"),
        h("button", { type: "button", onclick: () => traces("script", item.key).catch(fail) }, "Traces"),
        h("button", { type: "button", onclick: () => edit("script", item.key) }, item.editable ? "Edit" : "View"),
        item.editable ? h("button", { type: "button", onclick: () => remove("script", item.key) }, "Delete") : null)));
    body.replaceChildren(
      h("div", { class: "actions" }, h("button", { type: "button", class: "primary",
        onclick: () => editor("script", null, NEW_SCRIPT, true, refresh) }, "New script")),
      table(["Name", "State", "Last run", "Written in", ""], rows),
      brokenList("script", list.invalid, list.problems) || "");
  }

  /** @param {"automation" | "script"} domain @param {string} id */
  async function edit(domain, id) {
    try {
      const got = /** @type {ItemConfig} */ (await command(domain === "automation"
        ? { type: "automation/config", automation_id: id } : { type: "script/config", key: id }));
      editor(domain, id, got.yaml, got.editable, refresh);
    } catch (err) {
      fail(err);
    }
  }

  /** @param {"automation" | "script"} domain @param {string} id */
  async function remove(domain, id) {
    if (!await confirmDialog(`Delete ${domain} ${id}?`, "It is removed from the UI's file.")) return;
    try {
      await command(domain === "automation"
        ? { type: "automation/delete", automation_id: id } : { type: "script/delete", key: id });
      await refresh();
    } catch (err) {
      fail(err);
    }
  }

  async function showBlueprints() {
    const sections = [];
    for (const domain of ["automation", "script"]) {
      const found = /** @type {Record<string, BlueprintEntry>} */ (await command({ type: "blueprint/list", domain }));
      const rows = Object.entries(found).map(([path, entry]) => h("tr", {},
        h("td", {}, entry.metadata ? entry.metadata.name : path, h("div", { class: "muted" }, path)),
        h("td", {}, entry.error ? h("span", { class: "form-error" }, entry.error)
          : (entry.missing || []).length ? `Missing here: ${(entry.missing || []).join(", ")}` : "—"),
        h("td", {}, entry.metadata ? h("button", { type: "button",
          onclick: () => entry.metadata && useBlueprint(entry.metadata) }, "Use") : null)));
      sections.push(h("h2", {}, `${domain.charAt(0).toUpperCase()}${domain.slice(1)} blueprints`),
        table(["Blueprint", "Needs", ""], rows));
    }
    const fileId = uniqueId("bp-file");
    const pasteId = uniqueId("bp-paste");
    const paste = h("textarea", { id: pasteId, class: "mono", rows: 8, cols: 80, spellcheck: "false" });
    const file = h("input", { id: fileId, type: "file", accept: ".yaml,.yml,text/yaml",
      onchange: async () => {
        const chosen = file.files && file.files[0];
        if (chosen) paste.value = await chosen.text();
      } });
    const preview = h("div", { role: "status" });
    const importForm = h("form", {
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        preview.replaceChildren();
        try {
          const got = /** @type {BlueprintEntry} */ (await command({ type: "blueprint/import", yaml: paste.value }));
          const meta = /** @type {BlueprintMeta} */ (got.metadata);
          preview.append(h("h3", {}, meta.name), h("p", {}, meta.description || ""),
            h("p", {}, `Inputs: ${meta.inputs.map((i) => i.label).join(", ") || "none"}`),
            h("p", {}, (got.missing || []).length
              ? `Missing here: ${(got.missing || []).join(", ")}` : "Everything it uses is here."),
            h("button", { type: "button", class: "primary", onclick: async () => {
              try {
                await command({ type: "blueprint/save", yaml: paste.value });
                await refresh();
              } catch (err) {
                preview.append(h("p", { class: "form-error" }, errorMessage(err)));
              }
            } }, "Save blueprint"));
        } catch (err) {
          preview.append(h("p", { class: "form-error", role: "alert" }, errorMessage(err)));
        }
      },
    }, h("h2", {}, "Import a blueprint"),
    h("p", {}, h("label", { for: fileId }, "From a file "), file),
    h("p", {}, h("label", { for: pasteId }, "Or paste its YAML")), paste,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Preview")), preview);
    body.replaceChildren(...sections, importForm);
  }

  /**
   * A form from the blueprint's inputs; saves an automation (or script) using it.
   * @param {BlueprintMeta} meta
   */
  function useBlueprint(meta) {
    const { body: box, close } = openDialog(`Use ${meta.name}`);
    const error = h("p", { class: "form-error", role: "alert" });
    const nameId = uniqueId("bp-name");
    const name = h("input", { id: nameId, required: true, value: meta.name });
    const keyId = uniqueId("bp-key");
    const key = h("input", { id: keyId, pattern: "[a-z0-9_]+", required: meta.domain === "script" });
    /** @type {{input: BlueprintInput, read: () => string | null, row: HTMLElement}[]} */
    const fields = meta.inputs.map((input) => field(input, ctx));
    const form = h("form", {
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        error.textContent = "";
        const lines = [`alias: ${JSON.stringify(name.value)}`, "use_blueprint:",
          `  path: ${JSON.stringify(meta.path)}`, "  input:"];
        for (const { input, read } of fields) {
          const value = read();
          if (value === null) continue;
          lines.push(`    ${input.name}:${value.startsWith("\n") ? value : ` ${value}`}`);
        }
        const yaml = lines.join("\n");
        try {
          if (meta.domain === "automation") await command({ type: "automation/save", yaml });
          else await command({ type: "script/save", key: key.value, yaml });
          close();
          await refresh();
        } catch (err) {
          error.textContent = errorMessage(err);
        }
      },
    },
    h("p", {}, h("label", { for: nameId }, "Name "), name),
    meta.domain === "script" ? h("p", {}, h("label", { for: keyId }, "Key (script.<key>) "), key) : null,
    fields.map((f) => f.row), error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", onclick: () => close() }, "Cancel")));
    box.append(form);
  }

  async function refresh() {
    try {
      problem.textContent = "";
      if (tab === "scripts") await showScripts();
      else if (tab === "blueprints") await showBlueprints();
      else await showAutomations();
    } catch (err) {
      fail(err);
    }
  }

  await refresh();
  return null;
}

/**
 * One input of a blueprint form: a control chosen by the selector, and a reader that
 * gives the YAML of the value (a JSON scalar, or an indented block), or null to leave
 * the input out (its default applies).
 * @param {BlueprintInput} input
 * @param {import("../types.js").Context} ctx
 * @returns {{input: BlueprintInput, read: () => string | null, row: HTMLElement}}
 */
function field(input, ctx) {
  const id = uniqueId(`bp-${input.name}`);
  const selector = input.selector || { text: {} };
  const kind = String(Object.keys(selector)[0] || "text");
  const options = /** @type {Record<string, unknown>} */ (selector[kind] || {});
  const label = h("label", { for: id }, input.label + (input.has_default ? " (optional)" : ""));
  const hint = input.description ? h("div", { class: "hint muted" }, input.description) : null;
  /** @type {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} */
  let control;
  /** @type {() => string | null} */
  let read;
  const shown = input.has_default && input.default !== null && typeof input.default !== "object"
    ? String(input.default) : "";
  if (kind === "boolean") {
    const box = h("input", { id, type: "checkbox", checked: input.default === true });
    control = box;
    read = () => (box.checked ? "true" : "false");
  } else if (kind === "number") {
    const num = h("input", { id, type: "number", step: String(options.step ?? "any"),
      min: options.min === undefined ? false : String(options.min),
      max: options.max === undefined ? false : String(options.max), value: shown,
      required: !input.has_default });
    control = num;
    read = () => (num.value === "" ? null : String(Number(num.value)));
  } else if (kind === "select") {
    const choices = /** @type {unknown[]} */ (options.options || []);
    const select = h("select", { id }, choices.map((choice) => {
      const value = typeof choice === "object" && choice ? String(/** @type {{value: unknown}} */ (choice).value) : String(choice);
      return h("option", { value, selected: value === shown }, value);
    }));
    control = select;
    read = () => JSON.stringify(select.value);
  } else if (kind === "entity" && !options.multiple) {
    const listId = uniqueId("entities");
    const domains = [options.domain, ...(/** @type {{domain?: unknown}[]} */ (options.filter || [])).map((f) => f.domain)]
      .flat().filter(Boolean).map(String);
    const ids = ctx.store.all().map((s) => s.entity_id)
      .filter((e) => !domains.length || domains.includes(e.split(".")[0] || ""));
    const text = h("input", { id, list: listId, value: shown, required: !input.has_default });
    control = text;
    read = () => (text.value === "" ? null : JSON.stringify(text.value));
    return { input, read, row: h("p", {}, label, " ", text, h("datalist", { id: listId },
      ids.map((e) => h("option", { value: e }))), hint) };
  } else if (["action", "trigger", "condition", "target", "object", "entity", "duration"].includes(kind)) {
    const area = h("textarea", { id, class: "mono", rows: 4, cols: 60, spellcheck: "false",
      placeholder: kind === "duration" ? "{seconds: 30}" : "YAML",
      value: input.has_default && input.default !== null ? JSON.stringify(input.default) : "" });
    control = area;
    read = () => {
      const text = area.value.trim();
      if (text === "") return null;
      return "\n" + text.split("\n").map((line) => `      ${line}`).join("\n");
    };
  } else {
    const text = h("input", { id, value: shown, type: kind === "time" ? "time" : "text",
      required: !input.has_default });
    control = text;
    read = () => (text.value === "" ? null : JSON.stringify(text.value));
  }
  return { input, read, row: h("p", {}, label, " ", control, hint) };
}

const NEW_AUTOMATION = `alias: New automation
description: ""
mode: single
triggers:
  - trigger: state
    entity_id: sensor.example
    to: "on"
conditions: []
actions:
  - action: switch.turn_on
    target:
      entity_id: switch.example
`;

const NEW_SCRIPT = `alias: New script
mode: single
sequence:
  - action: switch.turn_on
    target:
      entity_id: switch.example
`;
