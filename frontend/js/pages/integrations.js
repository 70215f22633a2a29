// @ts-check
// Integrations: config entries with their state, and what can be done with them.
// The list refreshes itself on `config_entry_changed` events, and every few seconds for
// the entries' connection health (a link that drops fires no event).

import { api, errorMessage } from "../../public/js/api.js";
import { h, humanize, pageHead, table } from "../../public/js/dom.js";
import { confirmDialog, openDialog } from "../dialog.js";
import { runFlow } from "../flow.js";

/** @typedef {import("../types.js").ConfigEntryInfo} ConfigEntryInfo */
/** @typedef {import("../types.js").EntryHealth} EntryHealth */
/** @typedef {import("../types.js").FlowHandler} FlowHandler */
/** @typedef {import("../types.js").FlowResult} FlowResult */
/** @typedef {(label: string, action: () => Promise<unknown>) => Promise<void>} Act */
/** @typedef {() => Promise<void>} Refresh */

const BASE = "/api/config/config_entries";
/** @type {Record<string, string>} */
const STATE_CLASS = { loaded: "ok", setup_error: "error", migration_error: "error",
  failed_unload: "error", setup_retry: "warn", setup_in_progress: "warn", reconnecting: "warn" };

/**
 * A flow call: its answer is a flow result.
 * @param {Promise<unknown>} request
 */
const flowStep = async (request) => /** @type {FlowResult} */ (await request);

/** How often the list is read again for the entries' health (ms). */
const HEALTH_REFRESH_MS = 5000;

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 */
export async function render(root, { connection }) {
  const status = h("p", { class: "notice", role: "status", hidden: true });
  const list = h("div", { class: "panel" },
    h("p", { class: "loading", role: "status" }, "Loading integrations…"));
  root.append(
    pageHead("Integrations",
      h("button", { type: "button", class: "primary", onclick: () => addIntegration(refresh) },
        "Add integration")),
    status, list,
  );

  /** @param {string} text */
  const say = (text) => {
    status.textContent = text;
    status.hidden = !text;
  };
  /** @type {Act} */
  const act = async (label, action) => {
    try {
      await action();
      say("");
    } catch (err) {
      say(`${label} failed: ${errorMessage(err)}`);
    }
    await refresh();
  };

  /** @param {boolean} [background]  the health poll: wait while the user is in the list */
  async function refresh(background = false) {
    const entries = /** @type {ConfigEntryInfo[]} */ (await api.get(`${BASE}/entry`));
    // A poll does not redraw under the user's focus (it would take the focus away);
    // after an action the list is redrawn at once.
    if (background === true && list.contains(document.activeElement) && document.activeElement !== list) {
      pendingRedraw = entries;
      return;
    }
    draw(entries);
  }

  /** @param {ConfigEntryInfo[]} entries */
  function draw(entries) {
    pendingRedraw = null;
    list.replaceChildren(entries.length ? entryTable(entries, act, refresh)
      : h("p", { class: "empty" }, "No integrations yet. Use “Add integration” to add one."));
  }
  /** @type {ConfigEntryInfo[] | null} */
  let pendingRedraw = null;
  list.addEventListener("focusout", (event) => {
    if (pendingRedraw && !(event.relatedTarget instanceof Node && list.contains(event.relatedTarget))) {
      draw(pendingRedraw);
    }
  });
  const poll = setInterval(() => refresh(true).catch(() => {}), HEALTH_REFRESH_MS);

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const unsubscribe = connection.subscribe(
    { type: "subscribe_events", event_type: "config_entry_changed" },
    () => {
      clearTimeout(timer);
      timer = setTimeout(() => refresh().catch(() => {}), 150);
    },
  );
  try {
    await refresh();
  } catch (err) {
    list.replaceChildren(h("p", { class: "notice", role: "alert" },
      `The integrations could not be read: ${errorMessage(err)}`));
  }
  return () => {
    clearTimeout(timer);
    clearInterval(poll);
    unsubscribe();
  };
}

/**
 * @param {ConfigEntryInfo[]} entries
 * @param {Act} act
 * @param {Refresh} refresh
 */
function entryTable(entries, act, refresh) {
  return table(["Integration", "State", ""], entries.map((entry) => entryRow(entry, act, refresh)));
}

/**
 * @param {ConfigEntryInfo} entry
 * @param {Act} act
 * @param {Refresh} refresh
 */
function entryRow(entry, act, refresh) {
  const url = `${BASE}/entry/${entry.entry_id}`;
  const state = entry.disabled ? "disabled" : entry.state;
  const health = state === "loaded" ? entry.health ?? null : null;
  // Loaded but its link is down: amber, not green (the entities are unavailable).
  const shown = health && !health.connected ? "reconnecting" : state;
  /**
   * @param {string} label
   * @param {() => unknown} onclick
   * @param {{class?: string}} [extra]
   */
  const button = (label, onclick, extra = {}) => h("button", {
    type: "button", class: `small ${extra.class || ""}`, "aria-label": `${label} ${entry.title}`,
    onclick,
  }, label);
  const actions = [];
  if (entry.supports_options && !entry.disabled) {
    actions.push(button("Options", () => runFlow({
      title: `Options: ${entry.title}`,
      start: () => flowStep(api.post(`${BASE}/options/flow`, { handler: entry.entry_id })),
      submit: (id, data) => flowStep(api.post(`${BASE}/options/flow/${id}`, data)),
      abort: (id) => api.del(`${BASE}/options/flow/${id}`),
      doneMessage: (result) => `Options saved. State: ${humanize(result.entry_state || "unknown")}.`,
      onDone: refresh,
    })));
  }
  if (!entry.disabled) actions.push(button("Reload", () => act("Reload", () => api.post(`${url}/reload`))));
  actions.push(entry.disabled
    ? button("Enable", () => act("Enable", () => api.post(`${url}/enable`)))
    : button("Disable", () => act("Disable", () => api.post(`${url}/disable`))));
  actions.push(button("Remove", async () => {
    const sure = await confirmDialog("Remove integration?",
      `Remove “${entry.title}” and its entities? This cannot be undone.`,
      { confirmLabel: "Remove" });
    if (sure) await act("Remove", () => api.del(url));
  }, { class: "danger" }));

  return h("tr", { dataset: { entryId: entry.entry_id, domain: entry.domain } },
    h("td", {}, h("strong", {}, entry.title), h("div", { class: "muted" }, entry.domain)),
    h("td", {},
      h("span", { class: `badge ${STATE_CLASS[shown] || ""}`, dataset: { state: shown } },
        humanize(shown)),
      health ? healthLine(health) : null,
      entry.reason ? h("div", { class: "reason" }, entry.reason) : null,
      entry.next_retry_at ? h("div", { class: "muted" },
        `Retrying at ${new Date(entry.next_retry_at * 1000).toLocaleTimeString()}`) : null),
    h("td", {}, h("div", { class: "row-actions" }, actions)));
}

/**
 * "Connected since 10:02:03" or "Reconnecting since 10:04:11", then the last error
 * (kept after a reconnect, with when it happened).
 * @param {EntryHealth} health
 */
function healthLine(health) {
  const time = (/** @type {number} */ seconds) => {
    const date = new Date(seconds * 1000);
    const today = date.toDateString() === new Date().toDateString();
    return today ? date.toLocaleTimeString() : date.toLocaleString();
  };
  const since = `${health.connected ? "Connected" : "Reconnecting"} since ${time(health.since)}`;
  return h("div", { class: "health", dataset: { connected: String(health.connected) } },
    h("div", { class: "muted" }, since),
    health.last_error ? h("div", { class: health.connected ? "muted" : "reason" },
      `Last error${health.last_error_at ? ` (${time(health.last_error_at)})` : ""}: `,
      health.last_error) : null);
}

/** @param {Refresh} refresh */
async function addIntegration(refresh) {
  const { body, close } = openDialog("Add integration");
  const search = h("input", { type: "search", placeholder: "Search", "aria-label": "Search integrations" });
  const choices = h("ul", { class: "choices" });
  body.append(search, choices, h("div", { class: "actions" },
    h("button", { type: "button", onclick: close }, "Cancel")));
  /** @type {FlowHandler[]} */
  let handlers = [];
  try {
    handlers = /** @type {FlowHandler[]} */ (await api.get(`${BASE}/flow_handlers`));
  } catch (err) {
    choices.replaceChildren(h("li", { role: "alert" }, errorMessage(err)));
    return;
  }
  const show = () => {
    const wanted = search.value.trim().toLowerCase();
    const shown = handlers.filter((x) => !wanted
      || x.name.toLowerCase().includes(wanted) || x.domain.includes(wanted));
    choices.replaceChildren(...shown.map((handler) => h("li", {}, h("button", {
      type: "button",
      onclick() {
        close();
        startFlow(handler, refresh);
      },
    }, handler.name))));
    if (shown.length === 0) choices.append(h("li", { class: "empty" }, "Nothing matches."));
  };
  search.addEventListener("input", show);
  show();
  search.focus();
}

/**
 * @param {FlowHandler} handler
 * @param {Refresh} refresh
 */
function startFlow(handler, refresh) {
  runFlow({
    title: `Add ${handler.name}`,
    start: () => flowStep(api.post(`${BASE}/flow`, { handler: handler.domain })),
    submit: (id, data) => flowStep(api.post(`${BASE}/flow/${id}`, data)),
    abort: (id) => api.del(`${BASE}/flow/${id}`),
    onDone: refresh,
  });
}
