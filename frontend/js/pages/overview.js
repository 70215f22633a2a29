// @ts-check
// Overview: a card per entity, grouped by device (with its area), filtered by text and
// domain, updated in place as the store hears of changes. Cards (js/cards.js): numbers
// get a sparkline (filled from the recorder on load) and, for number entities, a slider
// or box; switches a toggle; buttons a press; selects a choice.
//
// Big installations (10,000 entities): the page renders a page of PAGE_SIZE cards
// ("Show more" adds the next), and live changes are collected and applied once per
// animation frame to the cards on screen, so a burst of changes costs one layout.
// While the socket reconnects the last states stay, dimmed.

import { h, pageHead, uniqueId } from "../../public/js/dom.js";
import { displayName, domainOf, entityCard } from "../cards.js";
import { groupByDevice, loadPlacement } from "../grouping.js";
import { loadHistory } from "../sparkline.js";
import { HISTORY_POINTS, numeric } from "../store.js";

/** @typedef {import("../types.js").EntityState} EntityState */
/** @typedef {import("../types.js").User} User */
/** @typedef {import("../store.js").EntityStore} EntityStore */
/** @typedef {import("../ws.js").Connection} Connection */
/** @typedef {import("../cards.js").Card} Card */
/** @typedef {import("../grouping.js").Placement} Placement */

/** Cards rendered at first, and added by each "Show more". */
export const PAGE_SIZE = 200;

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 */
export async function render(root, { store, connection, user, config }) {
  const filter = h("input", {
    type: "search", class: "search", placeholder: "Filter", "aria-label": "Filter entities",
  });
  const domainPick = h("select", { class: "domain-pick", "aria-label": "Domain" });
  const count = h("p", { class: "muted count", role: "status" });
  const stale = h("p", { class: "notice", role: "status", hidden: true },
    "Reconnecting… showing the last known states.");
  const content = h("div", { class: "overview" },
    h("p", { class: "loading", role: "status" }, "Loading entities…"));
  const more = h("button", { type: "button", class: "show-more", hidden: true });
  root.append(pageHead("Overview", filter, domainPick), stale, count, content, more);

  const placement = await loadPlacement(connection);
  /** @type {Map<string, Card>} */
  const cards = new Map();
  let limit = PAGE_SIZE;
  /** @type {Set<string>} every entity id the last rebuild saw (shown or not) */
  let known = new Set();

  function rebuild() {
    cards.clear();
    known = new Set(store.states.keys());
    fillDomains(domainPick, known);
    const wanted = filter.value.trim().toLowerCase();
    const domain = domainPick.value;
    /** @type {EntityState[]} */
    const states = [];
    for (const s of store.states.values()) {
      if (domain && domainOf(s.entity_id) !== domain) continue;
      if (wanted && !s.entity_id.includes(wanted) && !displayName(s).toLowerCase().includes(wanted)
        && !deviceTitle(placement, s.entity_id).toLowerCase().includes(wanted)) continue;
      states.push(s);
    }
    if (states.length === 0) {
      count.textContent = "";
      more.hidden = true;
      content.replaceChildren(emptyState(store.states.size > 0, store.stale, user));
      return;
    }
    let budget = limit;
    const sections = [];
    for (const group of groupByDevice(states, placement)) {
      if (budget <= 0) break;
      const shown = group.states.slice(0, budget);
      budget -= shown.length;
      const headingId = uniqueId("group");
      sections.push(h("section", { class: "device-group", "aria-labelledby": headingId,
        dataset: { deviceId: group.key } },
      h("h2", { class: "group-heading", id: headingId }, group.title,
        group.area ? h("span", { class: "area" }, group.area) : null),
      h("div", { class: "cards" }, shown.map((state) => {
        const card = entityCard(state, store, connection, group.key ? group.title : "");
        cards.set(state.entity_id, card);
        return card.element;
      }))));
    }
    content.replaceChildren(...sections);
    const hidden = states.length - cards.size;
    count.textContent = hidden > 0 ? `Showing ${cards.size} of ${states.length} entities.`
      : `${states.length} ${states.length === 1 ? "entity" : "entities"}.`;
    more.hidden = hidden <= 0;
    more.textContent = `Show ${Math.min(PAGE_SIZE, hidden)} more`;
  }

  // Changes wait for the next frame: a burst of hundreds costs one pass and one layout.
  /** @type {Set<string>} */
  const pending = new Set();
  let structural = false;
  let frame = 0;
  function flush() {
    frame = 0;
    if (structural) {
      structural = false;
      pending.clear();
      rebuild();
      return;
    }
    for (const id of pending) {
      const card = cards.get(id);
      const state = store.get(id);
      if (card && state) card.update(state);
    }
    pending.clear();
  }
  /** @param {Event} event */
  function onChange(event) {
    const { changed, removed } = /** @type {CustomEvent<import("../store.js").ChangeDetail>} */ (event).detail;
    if (removed.size > 0) structural = true;
    for (const id of changed) {
      if (!known.has(id)) structural = true;
      else pending.add(id);
    }
    if (!frame && (structural || pending.size > 0)) frame = requestAnimationFrame(flush);
  }
  const showLink = () => {
    const down = connection.state !== "connected";
    stale.hidden = !down;
    content.classList.toggle("stale", down);
  };

  store.addEventListener("change", onChange);
  connection.addEventListener("statechange", showLink);
  filter.addEventListener("input", () => { limit = PAGE_SIZE; rebuild(); });
  domainPick.addEventListener("change", () => { limit = PAGE_SIZE; rebuild(); });
  more.addEventListener("click", () => { limit += PAGE_SIZE; rebuild(); });
  showLink();
  rebuild();
  fillSparklines(store, connection, config, cards);
  return () => {
    if (frame) cancelAnimationFrame(frame);
    store.removeEventListener("change", onChange);
    connection.removeEventListener("statechange", showLink);
  };
}

/**
 * The domain choices: "All domains" and each domain present, keeping the choice.
 * @param {HTMLSelectElement} select
 * @param {Set<string>} ids
 */
function fillDomains(select, ids) {
  const domains = [...new Set([...ids].map(domainOf))].sort();
  const key = domains.join(",");
  if (select.dataset.domains === key) return;
  select.dataset.domains = key;
  const current = select.value;
  select.replaceChildren(h("option", { value: "" }, "All domains"),
    ...domains.map((d) => h("option", { value: d }, d.replace(/_/g, " "))));
  select.value = domains.includes(current) ? current : "";
}

/**
 * @param {Placement} placement
 * @param {string} entityId
 */
function deviceTitle(placement, entityId) {
  const device = placement.deviceOf.get(entityId);
  return (device && placement.deviceName.get(device)) || "";
}

/** How far back the sparklines reach when the page loads (seconds). */
const SPARKLINE_HISTORY = 3600;

/**
 * Fill the sparklines of numeric entities from the recorder (when it is loaded): the
 * recorded values come before the live ones the store heard since the page loaded.
 * @param {EntityStore} store
 * @param {Connection} connection
 * @param {unknown} config
 * @param {Map<string, Card>} cards
 */
function fillSparklines(store, connection, config, cards) {
  const components = /** @type {{components?: unknown}} */ (config).components;
  if (!Array.isArray(components) || !components.includes("recorder")) return;
  // Only the cards on screen: 10,000 entities' hour would be a needlessly big answer.
  const ids = [...cards.keys()].filter((id) => numeric(store.get(id)?.state) !== null);
  loadHistory(connection, ids, SPARKLINE_HISTORY).then((found) => {
    for (const [id, recorded] of found) {
      const live = store.history.get(id) || [];
      const since = live[0]?.t ?? Infinity;
      const room = Math.max(0, HISTORY_POINTS - live.length);
      store.history.set(id, [...thin(recorded.filter((p) => p.t < since), room), ...live]);
      const state = store.get(id);
      const card = cards.get(id);
      if (state && card) card.update(state);
    }
  }).catch(() => {}); // no history: the sparklines start with the live values
}

/**
 * At most `count` of `points`, evenly spaced, the newest kept (the store keeps only
 * HISTORY_POINTS per entity).
 * @param {import("../sparkline.js").Point[]} points
 * @param {number} count
 */
function thin(points, count) {
  if (points.length <= count) return points;
  if (count <= 0) return [];
  const step = points.length / count;
  return Array.from({ length: count }, (_, i) => /** @type {import("../sparkline.js").Point} */ (
    points[Math.min(points.length - 1, Math.floor(points.length - 1 - (count - 1 - i) * step))]));
}

/**
 * @param {boolean} filtered
 * @param {boolean} reconnecting
 * @param {User} user
 */
function emptyState(filtered, reconnecting, user) {
  if (filtered) return h("p", { class: "empty" }, "No entity matches the filter.");
  if (reconnecting) return h("p", { class: "loading", role: "status" }, "Reconnecting…");
  return h("p", { class: "empty" }, "No entities yet. ",
    user.is_admin ? h("a", { href: "#/integrations" }, "Add an integration") : null);
}
