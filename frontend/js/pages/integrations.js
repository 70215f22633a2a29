// Integrations: config entries with their state, and what can be done with them.
// The list refreshes itself on `config_entry_changed` events.

import { api } from "../api.js";
import { confirmDialog, openDialog } from "../dialog.js";
import { h, humanize, pageHead, table } from "../dom.js";
import { runFlow } from "../flow.js";

const BASE = "/api/config/config_entries";
const STATE_CLASS = { loaded: "ok", setup_error: "error", migration_error: "error",
  failed_unload: "error", setup_retry: "warn", setup_in_progress: "warn" };

export async function render(root, { connection }) {
  const status = h("p", { class: "notice", role: "status", hidden: true });
  const list = h("div", { class: "panel" });
  root.append(
    pageHead("Integrations",
      h("button", { type: "button", class: "primary", onclick: () => addIntegration(refresh) },
        "Add integration")),
    status, list,
  );

  const say = (text) => {
    status.textContent = text;
    status.hidden = !text;
  };
  const act = async (label, action) => {
    try {
      await action();
      say("");
    } catch (err) {
      say(`${label} failed: ${err.message}`);
    }
    await refresh();
  };

  async function refresh() {
    const entries = await api.get(`${BASE}/entry`);
    list.replaceChildren(entries.length ? entryTable(entries, act, refresh)
      : h("p", { class: "empty" }, "No integrations yet. Use “Add integration” to add one."));
  }

  let timer = null;
  const unsubscribe = connection.subscribe(
    { type: "subscribe_events", event_type: "config_entry_changed" },
    () => {
      clearTimeout(timer);
      timer = setTimeout(() => refresh().catch(() => {}), 150);
    },
  );
  await refresh();
  return () => {
    clearTimeout(timer);
    unsubscribe();
  };
}

function entryTable(entries, act, refresh) {
  return table(["Integration", "State", ""], entries.map((entry) => entryRow(entry, act, refresh)));
}

function entryRow(entry, act, refresh) {
  const url = `${BASE}/entry/${entry.entry_id}`;
  const state = entry.disabled ? "disabled" : entry.state;
  const button = (label, onclick, extra = {}) => h("button", {
    type: "button", class: `small ${extra.class || ""}`, "aria-label": `${label} ${entry.title}`,
    onclick,
  }, label);
  const actions = [];
  if (entry.supports_options && !entry.disabled) {
    actions.push(button("Options", () => runFlow({
      title: `Options: ${entry.title}`,
      start: () => api.post(`${BASE}/options/flow`, { handler: entry.entry_id }),
      submit: (id, data) => api.post(`${BASE}/options/flow/${id}`, data),
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
      h("span", { class: `badge ${STATE_CLASS[state] || ""}`, dataset: { state } }, humanize(state)),
      entry.reason ? h("div", { class: "reason" }, entry.reason) : null,
      entry.next_retry_at ? h("div", { class: "muted" },
        `Retrying at ${new Date(entry.next_retry_at * 1000).toLocaleTimeString()}`) : null),
    h("td", {}, h("div", { class: "row-actions" }, actions)));
}

async function addIntegration(refresh) {
  const { body, close } = openDialog("Add integration");
  const search = h("input", { type: "search", placeholder: "Search", "aria-label": "Search integrations" });
  const choices = h("ul", { class: "choices" });
  body.append(search, choices, h("div", { class: "actions" },
    h("button", { type: "button", onclick: close }, "Cancel")));
  let handlers = [];
  try {
    handlers = await api.get(`${BASE}/flow_handlers`);
  } catch (err) {
    choices.replaceChildren(h("li", { role: "alert" }, err.message));
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

function startFlow(handler, refresh) {
  runFlow({
    title: `Add ${handler.name}`,
    start: () => api.post(`${BASE}/flow`, { handler: handler.domain }),
    submit: (id, data) => api.post(`${BASE}/flow/${id}`, data),
    abort: (id) => api.del(`${BASE}/flow/${id}`),
    onDone: refresh,
  });
}
