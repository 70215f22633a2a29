// @ts-check
// Audit log (admins, with the audit integration loaded): who did what, and whether the
// log is intact.
//
// The integrity panel runs the offline verifier on the server (GET /api/audit/verify,
// public key only) when the page opens and on "Verify now": "Chain intact up to seq N",
// how far it is signed and the newest checkpoint; on damage the first bad record, as
// `gatehouse audit verify` names it. The search filters by who (user name or id), what
// (an action, or a family ending in "." such as "auth."), time and free text (a user
// name also finds that user's records that carry only the id: service calls); the table
// lists the newest first and "Load older" pages back by sequence number. Sealed values
// (calls on sensitive entities) show as "sealed" unless "Decrypt sealed values" is on
// and the server has the key.
//
// Every text from the log (names, targets, details) goes in as text, never as HTML.

import { api, errorMessage } from "../../public/js/api.js";
import { append, formatTime, h, pageHead, uniqueId } from "../../public/js/dom.js";

const BASE = "/api/audit";
const PAGE_SIZE = 50;
/** Suggestions for "What": the families and the common actions. */
const ACTIONS = [
  "auth.", "auth.login", "auth.lockout", "user.", "token.", "permission.change",
  "service.call", "config_entry.", "cert.", "key.", "device.", "host.",
  "schema_guard.rejections", "security.other",
];

/**
 * One record as the API lists it (GET /api/audit/records).
 * @typedef {object} AuditRecord
 * @property {number} seq
 * @property {string} time  ISO 8601, UTC
 * @property {{user_id: string | null, name: string | null, ip: string | null}} actor
 * @property {string} action
 * @property {string | null} target
 * @property {string} result
 * @property {Record<string, unknown>} details
 */

/** @typedef {{records: AuditRecord[], next_before: number | null}} AuditPage */

/**
 * @typedef {object} VerifyResult
 * @property {boolean} ok
 * @property {string | null} problem
 * @property {number} records
 * @property {number} last_seq
 * @property {number} signed_through
 * @property {number} checkpoints
 * @property {string[]} warnings
 */

/**
 * @typedef {object} AuditStatus
 * @property {string} origin
 * @property {number} seq
 * @property {number} unsigned
 * @property {{seq?: number, time?: number, problem?: string} | null} last_checkpoint
 */

/** @typedef {{actor: string, action: string, text: string, since: string, until: string, decrypt: boolean}} Filters */

/**
 * The filters as query parameters (times from the inputs' local time to seconds).
 * `ids`: user ids the typed "who" names (service calls carry only the id), sent with it.
 * @param {Filters} filters
 * @param {string[]} [ids]
 */
function query(filters, ids = []) {
  const params = new URLSearchParams();
  if (filters.actor) params.set("actor", [filters.actor, ...ids].join(","));
  for (const name of /** @type {const} */ (["action", "text"])) {
    if (filters[name]) params.set(name, filters[name]);
  }
  for (const name of /** @type {const} */ (["since", "until"])) {
    const value = filters[name];
    if (value) params.set(name, String(new Date(value).getTime() / 1000));
  }
  if (filters.decrypt) params.set("decrypt", "true");
  return params;
}

/**
 * Who, as people read it.
 * @param {AuditRecord} r
 */
function who(r) {
  const name = r.actor.name || r.actor.user_id;
  return [name ? h("span", {}, name) : h("span", { class: "muted" }, "system"),
    r.actor.ip ? h("span", { class: "muted" }, ` ${r.actor.ip}`) : null];
}

/**
 * The details, compact; sealed values named as such.
 * @param {AuditRecord} r
 */
function details(r) {
  const shown = { ...r.details };
  const values = /** @type {Record<string, unknown> | undefined} */ (shown.values);
  /** @type {import("../../public/js/dom.js").Child} */
  let sealed = null;
  if (values && typeof values === "object") {
    if ("decrypted" in values) {
      shown.values = values.decrypted;
      sealed = h("span", { class: "badge ok" }, "decrypted");
    } else {
      delete shown.values;
      sealed = h("span", { class: "badge", title: String(values.error ?? "encrypted") }, "sealed");
    }
  }
  const text = Object.keys(shown).length ? JSON.stringify(shown) : "";
  return [sealed, sealed && text ? " " : null, text ? h("code", { class: "wrap" }, text) : null];
}

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} _ctx
 * @param {URLSearchParams} params
 */
export async function render(root, _ctx, params) {
  /** @type {Filters} */
  const filters = {
    actor: params.get("actor") || "",
    action: params.get("action") || "",
    text: params.get("text") || "",
    since: "",
    until: "",
    decrypt: false,
  };
  const problem = h("p", { class: "form-error", role: "alert" });
  const summary = h("p", { class: "muted", role: "status" });
  const rows = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load older");
  const integrity = h("div", { class: "audit-integrity" });
  /** @type {number | null} */
  let nextBefore = null;
  let generation = 0;
  /** @type {import("../types.js").User[] | null} */
  let users = null;
  /** @type {string[]} */
  let ids = [];

  /**
   * The ids of the users whose user name or display name is the typed "who".
   * @returns {Promise<string[]>}
   */
  async function idsOf() {
    const wanted = filters.actor.toLowerCase();
    if (!wanted) return [];
    if (users === null) {
      try {
        users = /** @type {import("../types.js").User[]} */ (await api.get("/api/auth/users"));
      } catch {
        users = [];
      }
    }
    return users.filter((u) => u.username.toLowerCase() === wanted
      || u.name.toLowerCase() === wanted).map((u) => u.id);
  }

  /** @param {string} label @param {string} name @param {string} type @param {string} hint */
  const field = (label, name, type, hint) => {
    const id = uniqueId(`a-${name}`);
    const input = h("input", { id, name, type, placeholder: hint, autocomplete: "off" });
    return { input, element: h("div", { class: "field" }, h("label", { for: id }, label), input) };
  };
  const actionList = uniqueId("a-actions");
  const actor = field("Who", "actor", "text", "user name or id");
  const action = field("What", "action", "text", "auth. or service.call");
  action.input.setAttribute("list", actionList);
  const text = field("Text", "text", "search", "target, address, details");
  const since = field("From", "since", "datetime-local", "");
  const until = field("Until", "until", "datetime-local", "");
  const decryptId = uniqueId("a-decrypt");
  const decrypt = h("input", { id: decryptId, type: "checkbox", name: "decrypt" });
  actor.input.value = filters.actor;
  action.input.value = filters.action;
  text.input.value = filters.text;

  function readForm() {
    filters.actor = actor.input.value.trim();
    filters.action = action.input.value.trim();
    filters.text = text.input.value.trim();
    filters.since = since.input.value;
    filters.until = until.input.value;
    filters.decrypt = decrypt.checked;
  }

  const form = h("form", {
    class: "search-form", role: "search", "aria-label": "Search the audit log", novalidate: true,
    onsubmit: (/** @type {SubmitEvent} */ event) => {
      event.preventDefault();
      readForm();
      void load();
    },
  }, actor.element, action.element, text.element, since.element, until.element,
  h("datalist", { id: actionList }, ACTIONS.map((a) => h("option", { value: a }))),
  h("div", { class: "field checkbox" }, decrypt, h("label", { for: decryptId }, "Decrypt sealed values")),
  h("div", { class: "search-buttons" },
    h("button", { type: "submit", class: "primary" }, "Search"),
    h("button", {
      type: "button", onclick: () => {
        form.reset();
        readForm();
        void load();
      },
    }, "Clear")));

  /** @param {AuditRecord} r */
  function row(r) {
    return h("tr", { dataset: { seq: String(r.seq) } },
      h("td", { class: "nowrap" }, String(r.seq)),
      h("td", { class: "nowrap" }, formatTime(Date.parse(r.time) / 1000)),
      h("td", {}, who(r)),
      h("td", {}, h("code", {}, r.action)),
      h("td", { class: "wrap" }, r.target ?? h("span", { class: "muted" }, "—")),
      h("td", {}, h("span", { class: r.result === "ok" ? "badge ok" : "badge" }, r.result)),
      h("td", { class: "audit-details" }, details(r)));
  }

  function showCount() {
    summary.textContent = rows.children.length
      ? `Showing the newest ${rows.children.length}${nextBefore === null ? "" : " (more below)"}.`
      : "No record matches.";
  }

  async function load() {
    const mine = ++generation;
    problem.textContent = "";
    const state = query({ ...filters, since: "", until: "", decrypt: false });
    const shown = state.toString();
    history.replaceState(null, "", `#/audit${shown ? `?${shown}` : ""}`);
    try {
      ids = await idsOf();
      const page = /** @type {AuditPage} */ (await api.get(
        `${BASE}/records?${query(filters, ids)}&limit=${PAGE_SIZE}`));
      if (mine !== generation) return;
      rows.replaceChildren(...page.records.map(row));
      nextBefore = page.next_before;
      more.hidden = nextBefore === null;
      showCount();
    } catch (err) {
      if (mine === generation) problem.textContent = errorMessage(err);
    }
  }

  async function loadOlder() {
    if (nextBefore === null) return;
    const mine = generation;
    try {
      const page = /** @type {AuditPage} */ (await api.get(
        `${BASE}/records?${query(filters, ids)}&limit=${PAGE_SIZE}&before=${nextBefore}`));
      if (mine !== generation) return;
      rows.append(...page.records.map(row));
      nextBefore = page.next_before;
      more.hidden = nextBefore === null;
      showCount();
    } catch (err) {
      problem.textContent = errorMessage(err);
    }
  }
  more.addEventListener("click", () => void loadOlder());

  const verifyButton = h("button", { type: "button", onclick: () => void checkIntegrity() },
    "Verify now");

  async function checkIntegrity() {
    verifyButton.disabled = true;
    integrity.replaceChildren(h("p", { class: "muted", role: "status" }, "Verifying…"));
    try {
      const [result, status] = await Promise.all([
        api.get(`${BASE}/verify`), api.get(`${BASE}/status`)]);
      integrity.replaceChildren();
      append(integrity, integrityView(/** @type {VerifyResult} */ (result),
        /** @type {AuditStatus} */ (status)));
    } catch (err) {
      integrity.replaceChildren(h("p", { class: "form-error", role: "alert" }, errorMessage(err)));
    } finally {
      verifyButton.disabled = false;
    }
  }

  const integrityHeading = uniqueId("a-integrity");
  const listHeading = uniqueId("a-list");
  root.append(
    pageHead("Audit log", verifyButton),
    h("section", { class: "panel", "aria-labelledby": integrityHeading },
      h("h2", { id: integrityHeading }, "Integrity"), integrity),
    form, problem,
    h("section", { class: "panel audit-records", "aria-labelledby": listHeading },
      h("h2", { id: listHeading }, "Records"), summary,
      h("table", { class: "q-table" }, h("thead", {}, h("tr", {},
        ["Seq", "Time", "Who", "What", "Target", "Result", "Details"].map((t) => h("th", {}, t)))),
      rows), more));
  await Promise.all([load(), checkIntegrity()]);
  return () => { generation += 1; };
}

/**
 * The verifier's outcome and the newest checkpoint, in words.
 * @param {VerifyResult} result
 * @param {AuditStatus} status
 * @returns {import("../../public/js/dom.js").Child[]}
 */
function integrityView(result, status) {
  const checkpoint = status.last_checkpoint;
  const signed = checkpoint && checkpoint.seq !== undefined
    ? `Last checkpoint: seq ${checkpoint.seq}, signed ${formatTime(checkpoint.time)}.`
    : "No checkpoint signed yet.";
  return [
    result.ok
      ? h("p", { class: "notice ok verify-status", role: "status" },
        `Chain intact up to seq ${result.last_seq}; signed through seq ${result.signed_through} `
        + `(${result.checkpoints} ${result.checkpoints === 1 ? "checkpoint" : "checkpoints"}).`)
      : h("p", { class: "notice verify-status", role: "alert" },
        `Chain broken: ${result.problem}`),
    h("p", { class: "muted" }, signed,
      status.unsigned ? ` ${status.unsigned} newer records not signed yet.` : ""),
    result.warnings.length
      ? h("ul", { class: "muted" }, result.warnings.map((w) => h("li", {}, w))) : null,
    h("p", { class: "hint muted" }, "Log ", h("code", {}, status.origin),
      ". Check a copy offline with its public key: gatehouse audit verify."),
  ];
}
