// @ts-check
// Quarantine (admins, with schema_guard loaded): the messages schema_guard refused.
//
// Search by topic (MQTT wildcards), rule, error path (a JSON pointer) and time; the
// table lists the newest first (topic, time, rule, schema version, first error), "Load
// older" pages back; the side list "Fields that fail most" counts messages per error
// path under the same filters (but for the path itself), and a click filters by that
// path (a second click on the chosen one drops the path filter). A message's details
// show every error and its stored payload (masked for PII by the server before it was
// stored). Export downloads the filtered messages as JSON lines; Replay runs a dry run
// first, says how many would pass now, and replays only after a confirmation.
//
// Every text from a device (topics, payloads, error messages) goes in as text
// (h() children / textContent), never as HTML.

import { api, errorMessage } from "../../public/js/api.js";
import { formatTime, h, pageHead, table, uniqueId } from "../../public/js/dom.js";
import { openDialog } from "../dialog.js";

const BASE = "/api/schema_guard";
const PAGE_SIZE = 50;

/**
 * @typedef {object} Violation
 * @property {string} path  JSON pointer ("" is the whole payload)
 * @property {string} keyword
 * @property {string} message
 */

/**
 * One quarantined message as the API lists it (GET /api/schema_guard/quarantine).
 * @typedef {object} QMessage
 * @property {number} id
 * @property {number} received  seconds since 1970
 * @property {string} topic
 * @property {string | null} rule
 * @property {string | null} schema
 * @property {number | null} version
 * @property {string | null} source
 * @property {string} action
 * @property {number} size
 * @property {boolean} truncated
 * @property {string | null} note
 * @property {number | null} replayed
 * @property {string | null} transport
 * @property {Violation[]} errors
 */

/**
 * One message in full (GET /api/schema_guard/quarantine/<id>).
 * @typedef {QMessage & {payload: string | null, payload_base64?: string,
 *   payload_cut?: boolean}} QDetail
 */

/** @typedef {{messages: QMessage[], next_before: number | null}} QPage */
/** @typedef {{path: string, keyword: string, count: number}} PathCount */

/**
 * @typedef {object} ReplayResult
 * @property {boolean} dry_run
 * @property {number} examined
 * @property {number} passing
 * @property {number} failing
 * @property {number} unavailable
 * @property {number} replayed
 * @property {string | null} error
 * @property {Record<string, number>} still_failing
 */

/** @typedef {{topic: string, rule: string, path: string | null, since: string, until: string}} Filters */

/**
 * An error path as people read it.
 * @param {string} path
 */
function showPath(path) {
  return path === "" ? "(whole payload)" : path;
}

/**
 * The filters as query parameters (times from the inputs' local time to seconds).
 * @param {Filters} filters
 */
function query(filters) {
  const params = new URLSearchParams();
  if (filters.topic) params.set("topic", filters.topic);
  if (filters.rule) params.set("rule", filters.rule);
  if (filters.path !== null) params.set("path", filters.path);
  for (const name of /** @type {const} */ (["since", "until"])) {
    const value = filters[name];
    if (value) params.set(name, String(new Date(value).getTime() / 1000));
  }
  return params;
}

/**
 * The filters as the replay's JSON body wants them.
 * @param {Filters} filters
 * @returns {Record<string, string | number>}
 */
function filterBody(filters) {
  /** @type {Record<string, string | number>} */
  const body = {};
  for (const [name, value] of query(filters)) {
    body[name] = name === "since" || name === "until" ? Number(value) : value;
  }
  return body;
}

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} _ctx
 * @param {URLSearchParams} params
 */
export async function render(root, _ctx, params) {
  /** @type {Filters} */
  const filters = {
    topic: params.get("topic") || "",
    rule: params.get("rule") || "",
    path: params.get("path"),
    since: "",
    until: "",
  };
  const problem = h("p", { class: "form-error", role: "alert" });
  const summary = h("p", { class: "muted", role: "status" });
  const rows = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load older");
  const failList = h("ol", { class: "fail-list" });
  const exportLink = h("a", { class: "button", download: "", href: `${BASE}/export` }, "Export");
  /** @type {number | null} */
  let nextBefore = null;
  let generation = 0;

  /** @param {string} label @param {string} name @param {string} type @param {string} hint */
  const field = (label, name, type, hint) => {
    const id = uniqueId(`q-${name}`);
    const input = h("input", { id, name, type, placeholder: hint, autocomplete: "off" });
    return { input, element: h("div", { class: "field" }, h("label", { for: id }, label), input) };
  };
  const topic = field("Topic", "topic", "text", "site/+/device/#");
  const rule = field("Rule", "rule", "text", "telemetry");
  const path = field("Error path", "path", "text", "/temp (empty: any)");
  const since = field("From", "since", "datetime-local", "");
  const until = field("Until", "until", "datetime-local", "");
  topic.input.value = filters.topic;
  rule.input.value = filters.rule;
  path.input.value = filters.path ?? "";
  const pathNote = h("p", { class: "hint muted" });

  function readForm() {
    filters.topic = topic.input.value.trim();
    filters.rule = rule.input.value.trim();
    filters.path = path.input.value.trim() || null;
    filters.since = since.input.value;
    filters.until = until.input.value;
  }

  function syncPathNote() {
    pathNote.textContent = filters.path === "" ? "Error path: the whole payload" : "";
  }

  const form = h("form", {
    class: "search-form", role: "search", "aria-label": "Search the quarantine", novalidate: true,
    onsubmit: (/** @type {SubmitEvent} */ event) => {
      event.preventDefault();
      readForm();
      void load();
    },
  }, topic.element, rule.element, path.element, since.element, until.element,
  h("div", { class: "search-buttons" },
    h("button", { type: "submit", class: "primary" }, "Search"),
    h("button", {
      type: "button", onclick: () => {
        form.reset();
        readForm();
        void load();
      },
    }, "Clear")));

  /**
   * Filter by an error path from the side list (null: the chosen one again, no filter).
   * @param {string | null} value
   */
  function byPath(value) {
    path.input.value = value ?? "";
    readForm();
    filters.path = value; // "" (the whole payload) too, which the field cannot say
    void load();
  }

  /** @param {QMessage} m */
  function row(m) {
    const first = m.errors[0];
    return h("tr", { dataset: { messageId: String(m.id) } },
      h("td", { class: "nowrap" }, formatTime(m.received)),
      h("td", { class: "mono wrap" }, m.topic),
      h("td", {}, m.rule ?? h("span", { class: "muted" }, "none")),
      h("td", {}, m.version === null ? "—" : `v${m.version}`),
      h("td", { class: "first-error" }, first
        ? [h("code", {}, showPath(first.path)), " ", h("span", {}, first.message)]
        : h("span", { class: "muted" }, "—"),
      m.errors.length > 1 ? h("span", { class: "muted" }, ` (+${m.errors.length - 1})`) : null,
      m.replayed ? h("span", { class: "badge ok" }, "replayed") : null),
      h("td", {}, h("button", {
        type: "button", class: "small", "aria-label": `Details of message ${m.id}`,
        onclick: () => void details(m.id),
      }, "Details")));
  }

  async function load() {
    const mine = ++generation;
    problem.textContent = "";
    syncPathNote();
    const params = query(filters);
    exportLink.setAttribute("href", `${BASE}/export?${params}`);
    const state = new URLSearchParams();
    if (filters.topic) state.set("topic", filters.topic);
    if (filters.rule) state.set("rule", filters.rule);
    if (filters.path !== null) state.set("path", filters.path);
    const shown = state.toString();
    history.replaceState(null, "", `#/quarantine${shown ? `?${shown}` : ""}`);
    try {
      const [found, counts] = await Promise.all([
        api.get(`${BASE}/quarantine?${params}&limit=${PAGE_SIZE}`),
        // The side list leaves the path filter out: it is where one picks another path.
        api.get(`${BASE}/paths?${query({ ...filters, path: null })}`),
      ]);
      if (mine !== generation) return;
      const page = /** @type {QPage} */ (found);
      rows.replaceChildren(...page.messages.map(row));
      nextBefore = page.next_before;
      more.hidden = nextBefore === null;
      summary.textContent = page.messages.length
        ? `Showing the newest ${rows.children.length}${nextBefore === null ? "" : " (more below)"}.`
        : "No quarantined message matches.";
      showCounts(/** @type {{paths: PathCount[]}} */ (counts).paths);
    } catch (err) {
      if (mine === generation) problem.textContent = errorMessage(err);
    }
  }

  async function loadOlder() {
    if (nextBefore === null) return;
    const mine = generation;
    try {
      const page = /** @type {QPage} */ (await api.get(
        `${BASE}/quarantine?${query(filters)}&limit=${PAGE_SIZE}&before=${nextBefore}`));
      if (mine !== generation) return;
      rows.append(...page.messages.map(row));
      nextBefore = page.next_before;
      more.hidden = nextBefore === null;
      summary.textContent = `Showing the newest ${rows.children.length}`
        + `${nextBefore === null ? "" : " (more below)"}.`;
    } catch (err) {
      problem.textContent = errorMessage(err);
    }
  }
  more.addEventListener("click", () => void loadOlder());

  /** @param {PathCount[]} counts */
  function showCounts(counts) {
    failList.replaceChildren(...counts.map((c) => h("li", {},
      h("button", {
        type: "button", class: "fail-path",
        "aria-pressed": filters.path === c.path ? "true" : "false",
        "aria-label": `Filter by ${showPath(c.path)} (${c.keyword}): ${c.count} messages`,
        onclick: () => byPath(filters.path === c.path ? null : c.path),
      },
      h("code", {}, showPath(c.path)), " ", h("span", { class: "muted" }, c.keyword),
      h("span", { class: "count" }, String(c.count))))));
    if (!counts.length) failList.append(h("li", { class: "muted" }, "Nothing fails here."));
  }

  /** @param {number} id */
  async function details(id) {
    const { body } = openDialog(`Quarantined message ${id}`);
    body.append(h("p", { class: "muted" }, "Loading…"));
    try {
      const m = /** @type {QDetail} */ (await api.get(`${BASE}/quarantine/${id}`));
      body.replaceChildren(detailView(m));
    } catch (err) {
      body.replaceChildren(h("p", { class: "form-error", role: "alert" }, errorMessage(err)));
    }
  }

  const replayButton = h("button", { type: "button", onclick: () => void replay() }, "Replay…");

  async function replay() {
    readForm();
    const { body, close } = openDialog("Replay quarantined messages");
    body.append(h("p", { class: "muted", role: "status" }, "Dry run: checking each message "
      + "against the schemas in force…"));
    const filterBodyNow = filterBody(filters);
    try {
      const dry = /** @type {ReplayResult} */ (await api.post(`${BASE}/replay`,
        { dry_run: true, filters: filterBodyNow }));
      const go = h("button", {
        type: "button", class: "primary", disabled: dry.passing === 0,
        async onclick() {
          go.disabled = true;
          try {
            const done = /** @type {ReplayResult} */ (await api.post(`${BASE}/replay`,
              { dry_run: false, filters: filterBodyNow }));
            body.replaceChildren(
              h("p", { role: "status", class: done.error ? "notice" : "notice ok" },
                `Replayed ${done.replayed} of ${done.examined} messages.`
                + (done.error ? ` Stopped: ${done.error}` : "")),
              h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Close")));
            void load();
          } catch (err) {
            go.disabled = false;
            body.append(h("p", { class: "form-error", role: "alert" }, errorMessage(err)));
          }
        },
      }, dry.passing === 1 ? "Replay 1 message" : `Replay ${dry.passing} messages`);
      const scope = Object.entries(filterBodyNow).map(([k, v]) => `${k} ${v}`).join(", ");
      body.replaceChildren(
        h("p", { class: "muted" }, `Messages not replayed yet${scope ? ` matching ${scope}` : ""}.`),
        dryRunView(dry),
        h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Cancel"), go));
    } catch (err) {
      body.replaceChildren(h("p", { class: "form-error", role: "alert" }, errorMessage(err)),
        h("div", { class: "actions" }, h("button", { type: "button", onclick: close }, "Close")));
    }
  }

  // Broken schema files and rule bindings: the previous version stays in force, and
  // this is where an operator sees why (the problem entity and the log say it too).
  const schemaProblems = h("section", { class: "notice", role: "status", hidden: true });
  async function loadProblems() {
    try {
      const found = /** @type {{problems: Record<string, string>, schemas: Record<string, number[]>}} */ (
        await api.get(`${BASE}/problems`));
      const entries = Object.entries(found.problems);
      schemaProblems.hidden = entries.length === 0;
      schemaProblems.replaceChildren(
        h("strong", {}, "Schema problems (the previous version stays in force)"),
        h("ul", { class: "schema-problems" }, entries.map(([what, reason]) =>
          h("li", {}, h("code", {}, what), ": ", reason))),
        h("p", { class: "muted" }, "In force: " + Object.entries(found.schemas)
          .map(([name, versions]) => `${name} v${versions.join(", v") || "—"}`).join("; ")));
    } catch {
      schemaProblems.hidden = true; // the page's own error line reports the API
    }
  }

  const listHeading = uniqueId("q-list");
  const failHeading = uniqueId("q-fail");
  root.append(
    pageHead("Quarantine", exportLink, replayButton),
    schemaProblems, form, pathNote, problem,
    h("div", { class: "quarantine" },
      h("section", { class: "panel q-messages", "aria-labelledby": listHeading },
        h("h2", { id: listHeading }, "Messages"), summary,
        h("table", { class: "q-table" }, h("thead", {}, h("tr", {},
          ["Time", "Topic", "Rule", "Schema", "First error"].map((text) => h("th", {}, text)),
          h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))), rows), more),
      h("aside", { class: "panel q-fails", "aria-labelledby": failHeading },
        h("h2", { id: failHeading }, "Fields that fail most"),
        h("p", { class: "hint muted" }, "Messages per error path; choose one to filter."),
        failList)));
  await Promise.all([load(), loadProblems()]);
  return () => { generation += 1; };
}

/**
 * A message's errors and payload (text only).
 * @param {QDetail} m
 */
function detailView(m) {
  /** @type {import("../../public/js/dom.js").Child} */
  let payload;
  if (m.payload !== null && m.payload !== undefined) {
    payload = h("pre", { class: "payload", tabindex: "0", "aria-label": "Payload" }, m.payload);
  } else if (m.payload_base64) {
    payload = [h("p", { class: "muted" }, "Not UTF-8; shown as base64:"),
      h("pre", { class: "payload", tabindex: "0", "aria-label": "Payload" }, m.payload_base64)];
  } else {
    payload = h("p", { class: "muted" }, m.note || "The payload was not kept.");
  }
  return h("div", { class: "q-detail" },
    h("dl", { class: "account" },
      h("dt", {}, "Topic"), h("dd", { class: "mono wrap" }, m.topic),
      h("dt", {}, "Received"), h("dd", {}, formatTime(m.received)),
      h("dt", {}, "Rule"), h("dd", {}, m.rule ?? "none"),
      h("dt", {}, "Schema"), h("dd", {}, m.schema ? `${m.schema} v${m.version ?? "?"}` : "—"),
      h("dt", {}, "Source"), h("dd", {}, m.source ?? "—"),
      h("dt", {}, "Size"), h("dd", {}, `${m.size} bytes`
        + (m.truncated ? " (kept truncated)" : "") + (m.payload_cut ? " (shown cut)" : "")),
      m.note ? [h("dt", {}, "Note"), h("dd", {}, m.note)] : null,
      m.replayed ? [h("dt", {}, "Replayed"), h("dd", {}, formatTime(m.replayed))] : null),
    h("h3", {}, "Errors"),
    table(["Path", "Check", "Message"], m.errors.map((e) => h("tr", {},
      h("td", {}, h("code", {}, showPath(e.path))), h("td", {}, e.keyword),
      h("td", {}, e.message)))),
    h("h3", {}, "Payload"), payload);
}

/**
 * What the dry run found.
 * @param {ReplayResult} dry
 */
function dryRunView(dry) {
  const failing = Object.entries(dry.still_failing);
  return h("div", { class: "q-dry-run" },
    h("p", { role: "status", class: "dry-run-summary" },
      `Dry run: ${dry.passing} of ${dry.examined} messages would pass now.`),
    h("ul", {},
      h("li", {}, `${dry.failing} still fail`),
      dry.unavailable ? h("li", {}, `${dry.unavailable} cannot be replayed (payload not kept)`) : null),
    failing.length ? [h("h3", {}, "Still failing at"), h("ul", {}, failing.map(([key, n]) =>
      h("li", {}, h("code", {}, key), ` ${n}`)))] : null,
    dry.passing
      ? h("p", {}, "Replaying hands them, oldest first, to where they came from and marks them replayed.")
      : h("p", { class: "muted" }, "Nothing to replay."));
}
