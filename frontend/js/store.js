// @ts-check
// Every entity's current state, kept live by one `subscribe_entities` subscription,
// plus a short history of each numeric entity for the sparklines (client-side only:
// it starts when the page loads and keeps the last HISTORY_POINTS values).
//
// Messages use Home Assistant's compressed format:
//   {"a": {entity_id: {s, a, c, lc, lu?}}}          added (or the initial snapshot)
//   {"c": {entity_id: {"+": {...}, "-": {"a": [...]}}}}  changed
//   {"r": [entity_id]}                              removed

export const HISTORY_POINTS = 60;

/** @typedef {import("./types.js").EntityState} EntityState */
/** @typedef {import("./sparkline.js").Point} Point */

/**
 * A compressed state: state, attributes, last changed, last updated (if not the same).
 * @typedef {{s: string, a?: Record<string, unknown>, lc: number, lu?: number}} CompressedState
 */
/**
 * A change: what was added or changed ("+", attributes included), which attributes went ("-").
 * @typedef {{"+"?: Partial<CompressedState>, "-"?: {a?: string[]}}} StateDiff
 */
/**
 * @typedef {object} EntitiesMessage
 * @property {Record<string, CompressedState>} [a]
 * @property {Record<string, StateDiff>} [c]
 * @property {string[]} [r]
 */
/** @typedef {{changed: Set<string>, removed: Set<string>}} ChangeDetail */

export class EntityStore extends EventTarget {
  constructor() {
    super();
    /** @type {Map<string, EntityState>} */
    this.states = new Map();
    /** @type {Map<string, Point[]>} entity_id → its last values, oldest first */
    this.history = new Map();
    /**
     * True from a reconnect until the new snapshot: the states are the last ones heard
     * (pages show them dimmed, not as "no entities"); the snapshot then replaces them.
     */
    this.stale = false;
  }

  /**
   * Subscribe on `connection`; resolves after the first snapshot arrived.
   * @param {import("./ws.js").Connection} connection
   * @returns {Promise<void>}
   */
  start(connection) {
    return new Promise((resolve) => {
      let first = true;
      connection.subscribe(
        { type: "subscribe_entities" },
        /** @param {EntitiesMessage} message */
        (message) => {
          this.apply(message);
          if (first) {
            first = false;
            resolve();
          }
        },
        () => { this.stale = true; }, // reconnected: the next snapshot is the whole truth
      );
    });
  }

  /**
   * Apply one message; then a `change` event (a CustomEvent with a ChangeDetail).
   * @param {EntitiesMessage} message
   */
  apply(message) {
    /** @type {Set<string>} */
    const changed = new Set();
    /** @type {Set<string>} */
    const removed = new Set();
    if (this.stale && message.a) {
      // The first snapshot after a reconnect: whatever it lacks is gone.
      this.stale = false;
      for (const id of this.states.keys()) {
        if (!(id in message.a)) removed.add(id);
      }
      for (const id of removed) {
        this.states.delete(id);
        this.history.delete(id);
      }
    }
    for (const [id, compressed] of Object.entries(message.a || {})) {
      this.states.set(id, expand(id, compressed));
      this.record(id);
      changed.add(id);
    }
    for (const [id, diff] of Object.entries(message.c || {})) {
      const state = this.states.get(id);
      if (!state) continue;
      this.states.set(id, applyDiff(state, diff));
      if (diff["+"] && "s" in diff["+"]) this.record(id);
      changed.add(id);
    }
    for (const id of message.r || []) {
      this.states.delete(id);
      this.history.delete(id);
      removed.add(id);
    }
    this.dispatchEvent(new CustomEvent("change", { detail: { changed, removed } }));
  }

  /** @param {string} id */
  record(id) {
    const state = this.states.get(id);
    if (!state) return;
    const value = numeric(state.state);
    if (value === null) return;
    const points = this.history.get(id) || [];
    points.push({ t: state.last_updated, v: value });
    if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
    this.history.set(id, points);
  }

  /** @param {string} id */
  get(id) {
    return this.states.get(id);
  }

  all() {
    return [...this.states.values()].sort((x, y) => x.entity_id.localeCompare(y.entity_id));
  }
}

/**
 * The number a state string holds, or null ("on", "unknown", "").
 * @param {unknown} value
 */
export function numeric(value) {
  if (typeof value !== "string" || value.trim() === "") return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

/**
 * @param {string} id
 * @param {CompressedState} c
 * @returns {EntityState}
 */
function expand(id, c) {
  return {
    entity_id: id,
    state: c.s,
    attributes: c.a || {},
    last_changed: c.lc,
    last_updated: c.lu ?? c.lc,
  };
}

/**
 * @param {EntityState} state
 * @param {StateDiff} diff
 * @returns {EntityState}
 */
function applyDiff(state, diff) {
  const next = { ...state, attributes: { ...state.attributes } };
  const add = diff["+"] || {};
  if (add.s !== undefined) next.state = add.s;
  if (add.lc !== undefined) {
    next.last_changed = add.lc;
    next.last_updated = add.lc;
  }
  if (add.lu !== undefined) next.last_updated = add.lu;
  Object.assign(next.attributes, add.a || {});
  for (const name of diff["-"]?.a || []) delete next.attributes[name];
  return next;
}
