// @ts-check
// Which device (and area) each entity belongs to, for the overview's groups: read once
// per visit from the WebSocket registry lists (Home Assistant's
// config/entity_registry/list_for_display, config/device_registry/list,
// config/area_registry/list, which a non-admin may read too: its entity list holds only
// what it may read). The display list is HA's compact one (entity id "ei", device
// "di"): with 10,000 entities it is a quarter of config/entity_registry/list, whose
// other fields the overview does not use.
//
// A server without those commands, or a failing one, just gives no devices: every
// entity then lands in the "Other entities" group, and the page still works.

/** @typedef {import("./types.js").EntityState} EntityState */
/** @typedef {import("./ws.js").Connection} Connection */

/**
 * @typedef {object} Placement
 * @property {Map<string, string>} deviceOf  entity_id → device id
 * @property {Map<string, string>} deviceName  device id → its name (the user's first)
 * @property {Map<string, string>} areaOf  device id → its area's name
 */

/**
 * One group of the overview: a device (key = its id) or the rest (key "").
 * @typedef {{key: string, title: string, area: string, states: EntityState[]}} Group
 */

/**
 * Device names in natural order ("Pump 2" before "Pump 10"). One collator for every
 * comparison: localeCompare with options makes a new one per call, which with 1,000
 * devices was most of the overview's first render.
 */
const titleOrder = new Intl.Collator(undefined, { numeric: true });

/** @type {WeakMap<Connection, Promise<Placement>>} */
const prefetched = new WeakMap();

/**
 * Start reading the placement now (the shell calls this while the states snapshot is
 * on its way: with 10,000 entities the entity list takes as long as the snapshot); the
 * next loadPlacement on this connection takes it instead of asking again.
 * @param {Connection} connection
 */
export function prefetchPlacement(connection) {
  prefetched.set(connection, readPlacement(connection));
}

/**
 * The placement: the prefetched one once, else a fresh read (the registries change).
 * @param {Connection} connection
 */
export function loadPlacement(connection) {
  const early = prefetched.get(connection);
  prefetched.delete(connection);
  return early || readPlacement(connection);
}

/** @param {Connection} connection */
async function readPlacement(connection) {
  /** @type {Placement} */
  const placement = { deviceOf: new Map(), deviceName: new Map(), areaOf: new Map() };
  /** @param {string} type */
  const list = (type) => connection.command({ type }).then(
    (result) => (Array.isArray(result) ? result : []),
    () => [],
  );
  const display = connection.command({ type: "config/entity_registry/list_for_display" }).then(
    (result) => {
      const entities = /** @type {{entities?: unknown}} */ (result)?.entities;
      return Array.isArray(entities) ? entities : [];
    },
    () => [],
  );
  const [entities, devices, areas] = await Promise.all([
    display, list("config/device_registry/list"), list("config/area_registry/list"),
  ]);
  /** @type {Map<string, string>} */
  const areaName = new Map();
  for (const raw of areas) {
    const area = /** @type {{area_id?: unknown, name?: unknown}} */ (raw);
    if (typeof area.area_id === "string") areaName.set(area.area_id, String(area.name ?? area.area_id));
  }
  for (const raw of devices) {
    const device = /** @type {{id?: unknown, name?: unknown, name_by_user?: unknown, area_id?: unknown}} */ (raw);
    if (typeof device.id !== "string") continue;
    placement.deviceName.set(device.id, String(device.name_by_user || device.name || device.id));
    const area = typeof device.area_id === "string" ? areaName.get(device.area_id) : undefined;
    if (area) placement.areaOf.set(device.id, area);
  }
  for (const raw of entities) {
    const entity = /** @type {{ei?: unknown, di?: unknown}} */ (raw);
    if (typeof entity.ei === "string" && typeof entity.di === "string") {
      placement.deviceOf.set(entity.ei, entity.di);
    }
  }
  return placement;
}

/**
 * Group `states` by device, devices by name, entities by name; entities without a
 * (known) device last, as "Other entities".
 * @param {EntityState[]} states
 * @param {Placement} placement
 * @returns {Group[]}
 */
export function groupByDevice(states, placement) {
  /** @type {Map<string, Group>} */
  const groups = new Map();
  for (const state of states) {
    const device = placement.deviceOf.get(state.entity_id);
    const key = device !== undefined && placement.deviceName.has(device) ? device : "";
    let group = groups.get(key);
    if (!group) {
      group = {
        key,
        title: key ? placement.deviceName.get(key) || key : "Other entities",
        area: key ? placement.areaOf.get(key) || "" : "",
        states: [],
      };
      groups.set(key, group);
    }
    group.states.push(state);
  }
  // By name (what the cards show), then id; keys computed once, not per comparison.
  /** @param {EntityState} s */
  const key = (s) => `${String(s.attributes.friendly_name || s.entity_id).toLowerCase()}\u0000${s.entity_id}`;
  for (const group of groups.values()) {
    const keyed = group.states.map((s) => /** @type {[string, EntityState]} */ ([key(s), s]));
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    group.states = keyed.map((pair) => pair[1]);
  }
  return [...groups.values()].sort((a, b) => {
    if (!a.key !== !b.key) return a.key ? -1 : 1; // "Other entities" last
    return titleOrder.compare(a.title, b.title) || (a.key < b.key ? -1 : 1);
  });
}
