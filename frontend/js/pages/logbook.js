// @ts-check
// Logbook: what happened, newest first: state changes (not continuous sensor values)
// and logbook events, from the recorder's GET /api/logbook/<start>. A range picker
// (last hour ... 7 days) and a filter by entity; every text is shown as text.

import { api, errorMessage } from "../../public/js/api.js";
import { h, pageHead, table } from "../../public/js/dom.js";

const RANGES = [[1, "Last hour"], [6, "Last 6 hours"], [24, "Last 24 hours"], [168, "Last 7 days"]];

/**
 * @typedef {{when: string, name?: string, state?: string, message?: string,
 *   entity_id?: string | null, domain?: string | null}} Entry
 */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} _ctx
 * @param {URLSearchParams} params
 */
export function render(root, _ctx, params) {
  const rangeSelect = h("select", { "aria-label": "Range" },
    RANGES.map(([hours, label]) => h("option", { value: String(hours) }, String(label))));
  rangeSelect.style.width = "auto"; // the stylesheet makes selects full width
  rangeSelect.value = params.get("hours") || "24";
  const entity = h("input", { type: "search", class: "search", placeholder: "Entity id",
    "aria-label": "Entity", value: params.get("entity") || "" });
  const status = h("p", { class: "notice", role: "status" });
  const body = h("div", { class: "logbook" });
  root.append(pageHead("Logbook", entity, rangeSelect), status, body);
  let alive = true;
  let generation = 0;

  async function load() {
    const mine = ++generation;
    const hours = Number(rangeSelect.value) || 24;
    const start = new Date(Date.now() - hours * 3600 * 1000).toISOString();
    const query = new URLSearchParams({ end_time: new Date(Date.now() + 60_000).toISOString() });
    const wanted = entity.value.trim().toLowerCase();
    if (wanted) query.set("entity", wanted);
    status.textContent = "Loading…";
    try {
      const entries = /** @type {Entry[]} */ (
        await api.get(`/api/logbook/${encodeURIComponent(start)}?${query}`));
      if (!alive || mine !== generation) return;
      status.textContent = entries.length ? `${entries.length} entries` : "Nothing happened in this period.";
      body.replaceChildren(table(["When", "Name", "What", "Entity"],
        entries.slice().reverse().map((e) => h("tr", {},
          h("td", {}, new Date(e.when).toLocaleString()),
          h("td", {}, e.name || ""),
          h("td", {}, e.message ?? (e.state !== undefined ? `changed to ${e.state}` : "")),
          h("td", {}, e.entity_id || "")))));
    } catch (err) {
      if (mine === generation) status.textContent = `Logbook is not available: ${errorMessage(err)}`;
    }
  }

  rangeSelect.addEventListener("change", load);
  entity.addEventListener("change", load);
  load();
  return () => { alive = false; };
}
