// Every entity's current state, kept live by one `subscribe_entities` subscription,
// plus a short history of each numeric entity for the sparklines (client-side only:
// it starts when the page loads and keeps the last HISTORY_POINTS values).
//
// Messages use Home Assistant's compressed format:
//   {"a": {entity_id: {s, a, c, lc, lu?}}}          added (or the initial snapshot)
//   {"c": {entity_id: {"+": {...}, "-": {"a": [...]}}}}  changed
//   {"r": [entity_id]}                              removed

export const HISTORY_POINTS = 60;

export class EntityStore extends EventTarget {
  constructor() {
    super();
    this.states = new Map(); // entity_id → {entity_id, state, attributes, last_changed, last_updated}
    this.history = new Map(); // entity_id → [{t, v}], oldest first
  }

  /** Subscribe on `connection`; resolves after the first snapshot arrived. */
  start(connection) {
    return new Promise((resolve) => {
      let first = true;
      connection.subscribe(
        { type: "subscribe_entities" },
        (message) => {
          this.apply(message);
          if (first) {
            first = false;
            resolve();
          }
        },
        () => this.states.clear(), // reconnected: the next snapshot is the whole truth
      );
    });
  }

  apply(message) {
    const changed = new Set();
    const removed = new Set();
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

  record(id) {
    const state = this.states.get(id);
    const value = numeric(state.state);
    if (value === null) return;
    const points = this.history.get(id) || [];
    points.push({ t: state.last_updated, v: value });
    if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
    this.history.set(id, points);
  }

  get(id) {
    return this.states.get(id);
  }

  all() {
    return [...this.states.values()].sort((x, y) => x.entity_id.localeCompare(y.entity_id));
  }
}

/** The number a state string holds, or null ("on", "unknown", ""). */
export function numeric(value) {
  if (typeof value !== "string" || value.trim() === "") return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

function expand(id, c) {
  return {
    entity_id: id,
    state: c.s,
    attributes: c.a || {},
    last_changed: c.lc,
    last_updated: c.lu ?? c.lc,
  };
}

function applyDiff(state, diff) {
  const next = { ...state, attributes: { ...state.attributes } };
  const add = diff["+"] || {};
  if ("s" in add) next.state = add.s;
  if ("lc" in add) {
    next.last_changed = add.lc;
    next.last_updated = add.lc;
  }
  if ("lu" in add) next.last_updated = add.lu;
  Object.assign(next.attributes, add.a || {});
  for (const name of diff["-"]?.a || []) delete next.attributes[name];
  return next;
}
