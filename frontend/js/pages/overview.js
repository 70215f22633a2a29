// @ts-check
// Overview: a card per entity, updated in place as the store hears of changes.
// Numeric entities get a sparkline of their recent values; switches a toggle button.

import { h, pageHead, uniqueId } from "../../public/js/dom.js";
import { loadHistory, rangeText, sparkline, updateSparkline } from "../sparkline.js";
import { HISTORY_POINTS, numeric } from "../store.js";

/** @typedef {import("../types.js").EntityState} EntityState */
/** @typedef {import("../types.js").User} User */
/** @typedef {import("../store.js").EntityStore} EntityStore */
/** @typedef {import("../ws.js").Connection} Connection */
/** @typedef {{element: HTMLElement, update(state: EntityState): void}} Card */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 */
export function render(root, { store, connection, user, config }) {
  const filter = h("input", {
    type: "search", class: "search", placeholder: "Filter", "aria-label": "Filter entities",
  });
  const content = h("div");
  root.append(pageHead("Overview", filter), content);
  /** @type {Map<string, Card>} */
  const cards = new Map();

  function rebuild() {
    cards.clear();
    const wanted = filter.value.trim().toLowerCase();
    const states = store.all().filter((s) => !wanted
      || s.entity_id.includes(wanted) || displayName(s).toLowerCase().includes(wanted));
    if (states.length === 0) {
      content.replaceChildren(emptyState(store.states.size > 0, user));
      return;
    }
    const byDomain = groupBy(states, (s) => domainOf(s.entity_id));
    content.replaceChildren(...[...byDomain].map(([domain, items]) => {
      const headingId = uniqueId("domain");
      return h("section", { "aria-labelledby": headingId },
        h("h2", { class: "domain-heading", id: headingId }, domain.replace(/_/g, " ")),
        h("div", { class: "cards" }, items.map((state) => {
          const card = entityCard(state, store, connection);
          cards.set(state.entity_id, card);
          return card.element;
        })));
    }));
  }

  /** @param {Event} event */
  function onChange(event) {
    const { changed, removed } = /** @type {CustomEvent<import("../store.js").ChangeDetail>} */ (event).detail;
    let structural = removed.size > 0;
    for (const id of changed) {
      const card = cards.get(id);
      const state = store.get(id);
      if (card && state) card.update(state);
      else structural = true;
    }
    if (structural) rebuild();
  }

  store.addEventListener("change", onChange);
  filter.addEventListener("input", rebuild);
  rebuild();
  fillSparklines(store, connection, config, cards);
  return () => store.removeEventListener("change", onChange);
}

/**
 * @param {EntityState} state
 * @param {EntityStore} store
 * @param {Connection} connection
 * @returns {Card}
 */
function entityCard(state, store, connection) {
  const id = state.entity_id;
  const domain = domainOf(id);
  const nameId = uniqueId("card-name");
  const name = h("h3", { class: "name", id: nameId });
  const valueText = h("span", { class: "state" });
  const unit = h("span", { class: "unit" });
  const graph = sparkline([]);
  graph.toggleAttribute("hidden", true); // an SVG element has no `hidden` property
  const range = h("div", { class: "entity-id range" });
  const error = h("p", { class: "reason", role: "alert", hidden: true });
  const controls = h("div", { class: "controls" });
  const element = h("article", { class: "card", dataset: { entityId: id }, "aria-labelledby": nameId },
    name, h("div", { class: "entity-id" }, id), h("div", { class: "value" }, valueText, unit),
    graph, range, controls, error);

  /** @param {string} service */
  const call = (service) => connection
    .command({ type: "call_service", domain, service, service_data: { entity_id: id } })
    .then(() => { error.hidden = true; })
    .catch((err) => { error.textContent = err.message; error.hidden = false; });
  /** @type {HTMLButtonElement | null} */
  let toggle = null;
  if (domain === "switch") {
    toggle = h("button", { type: "button", class: "small", onclick: () => call("toggle") });
    controls.append(toggle);
  } else if (domain === "button") {
    controls.append(h("button", { type: "button", class: "small", onclick: () => call("press") },
      "Press"));
  }

  /** @param {EntityState} current */
  function update(current) {
    name.textContent = displayName(current);
    const number = numeric(current.state);
    valueText.textContent = ["on", "off"].includes(current.state)
      ? current.state.toUpperCase() : current.state;
    unit.textContent = String(current.attributes.unit_of_measurement || "");
    if (number !== null) {
      const points = store.history.get(id) || [];
      updateSparkline(graph, points);
      graph.toggleAttribute("hidden", false);
      range.textContent = rangeText(points);
    }
    if (toggle) {
      toggle.textContent = current.state === "on" ? "Turn off" : "Turn on";
    }
  }

  update(state);
  return { element, update };
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
  const ids = store.all().filter((s) => numeric(s.state) !== null).map((s) => s.entity_id);
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
 * "sensor.demo_sine" → "sensor".
 * @param {string} entityId
 */
function domainOf(entityId) {
  const [domain = ""] = entityId.split(".");
  return domain;
}

/** @param {EntityState} state */
export function displayName(state) {
  return String(state.attributes.friendly_name || state.entity_id);
}

/**
 * @param {boolean} filtered
 * @param {User} user
 */
function emptyState(filtered, user) {
  if (filtered) return h("p", { class: "empty" }, "No entity matches the filter.");
  return h("p", { class: "empty" }, "No entities yet. ",
    user.is_admin ? h("a", { href: "#/integrations" }, "Add an integration") : null);
}

/**
 * @template T
 * @param {T[]} items
 * @param {(item: T) => string} key
 * @returns {Map<string, T[]>}
 */
function groupBy(items, key) {
  /** @type {Map<string, T[]>} */
  const groups = new Map();
  for (const item of items) {
    const k = key(item);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)?.push(item);
  }
  return groups;
}
