// Drive Gatehouse's /api/websocket with the npm library home-assistant-js-websocket.
//
//   node client.mjs <server url> <long-lived token> [--pretend-ha-version=2025.1.0]
//                   [--switch=switch.demo_switch] [--counter=sensor.demo_counter]
//                   [--timeout=15000]
//
// The URL and token may also come from GATEHOUSE_URL and GATEHOUSE_TOKEN. Prints one
// JSON line of what it saw and exits 0, or prints the error to stderr and exits 1.
// Used by tests/frontend/test_ha_js_client.py.
//
// --pretend-ha-version rewrites the ha_version of the server's auth_ok before the
// library reads it. The library picks its code paths by that version: below 2022.4 it
// builds subscribeEntities from get_states + subscribe_events("state_changed"), from
// 2022.4 on it uses subscribe_entities (compressed states), and from 2022.9 on it sends
// supported_features {coalesce_messages: 1} (the server then batches messages into JSON
// arrays). With the flag, the library's own modern code runs against our server.

import WebSocket from "ws";
import {
  callService,
  createConnection,
  createLongLivedTokenAuth,
  getConfig,
  getServices,
  getStates,
  getUser,
  subscribeConfig,
  subscribeEntities,
  subscribeServices,
} from "home-assistant-js-websocket";

const options = {};
const positional = [];
for (const arg of process.argv.slice(2)) {
  const match = /^--([a-z-]+)=(.*)$/.exec(arg);
  if (match) options[match[1]] = match[2];
  else positional.push(arg);
}
const url = positional[0] ?? process.env.GATEHOUSE_URL;
const token = positional[1] ?? process.env.GATEHOUSE_TOKEN;
const SWITCH = options.switch ?? "switch.demo_switch";
const COUNTER = options.counter ?? "sensor.demo_counter";
const TIMEOUT = Number(options.timeout ?? 15000);
const pretend = options["pretend-ha-version"];

// The library rejects with bare numbers for connection problems (its errors.js).
const LIBRARY_ERRORS = {
  1: "ERR_CANNOT_CONNECT",
  2: "ERR_INVALID_AUTH",
  3: "ERR_CONNECTION_LOST",
  4: "ERR_HASS_HOST_REQUIRED",
};

function fail(err) {
  const text =
    err instanceof Error
      ? err.stack || err.message
      : (LIBRARY_ERRORS[err] ?? JSON.stringify(err) ?? String(err));
  process.stderr.write(`client.mjs: ${text}\n`);
  process.exit(1);
}

if (!url || !token) {
  fail(new Error("usage: node client.mjs <server url> <token> (or GATEHOUSE_URL/_TOKEN)"));
}

// Node 20 has no WebSocket global: the library's default createSocket uses the global,
// so put ws there (as its README says for Node). The subclass only records what was
// sent and how many frames (and JSON-array frames) came in, and applies
// --pretend-ha-version; everything else is ws and the library as they are.
const sent = [];
const frames = { total: 0, arrays: 0 };

class RecordingWebSocket extends WebSocket {
  #wrapped = new Map();

  constructor(...args) {
    super(...args);
    this.on("message", (data) => {
      frames.total += 1;
      if (String(data).startsWith("[")) frames.arrays += 1;
    });
  }

  send(data, ...rest) {
    try {
      const msg = JSON.parse(data);
      sent.push(msg.type === "auth" ? { type: "auth", access_token: "<redacted>" } : msg);
    } catch {
      sent.push(String(data));
    }
    return super.send(data, ...rest);
  }

  addEventListener(type, listener, opts) {
    if (type !== "message") return super.addEventListener(type, listener, opts);
    const wrapped = (event) => {
      let data = String(event.data);
      if (pretend && data.includes('"auth_ok"')) {
        const msg = JSON.parse(data);
        if (msg.type === "auth_ok") data = JSON.stringify({ ...msg, ha_version: pretend });
      }
      listener.call(this, { data, type: "message", target: this });
    };
    this.#wrapped.set(listener, wrapped);
    return super.addEventListener(type, wrapped, opts);
  }

  removeEventListener(type, listener) {
    const wrapped = this.#wrapped.get(listener);
    if (type === "message" && wrapped) {
      this.#wrapped.delete(listener);
      return super.removeEventListener(type, wrapped);
    }
    return super.removeEventListener(type, listener);
  }
}
globalThis.WebSocket = RecordingWebSocket;

// Every state update (subscribeEntities) and event (subscribeEvents) re-checks the
// conditions the script waits for.
const waiters = new Set();
function recheck() {
  for (const waiter of [...waiters]) {
    let value;
    try {
      value = waiter.predicate();
    } catch (err) {
      waiters.delete(waiter);
      waiter.reject(err);
      continue;
    }
    if (value) {
      waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(value);
    }
  }
}
function waitUntil(what, predicate, ms = 8000) {
  return new Promise((resolve, reject) => {
    const waiter = { predicate, resolve, reject };
    waiter.timer = setTimeout(() => {
      waiters.delete(waiter);
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    waiters.add(waiter);
    recheck();
  });
}

async function main() {
  const result = { mode: pretend ? `pretend ${pretend}` : "native" };
  const conn = await createConnection({
    auth: createLongLivedTokenAuth(url.replace(/\/$/, ""), token),
  });
  result.ha_version = conn.haVersion;

  await conn.ping();
  result.ping = true;
  const user = await getUser(conn);
  result.user = { name: user.name, is_owner: user.is_owner, is_admin: user.is_admin };

  const states = await getStates(conn);
  result.states = {
    count: states.length,
    entity_ids: states.map((s) => s.entity_id).sort(),
    keys: Object.keys(states.find((s) => s.entity_id === SWITCH) ?? {}).sort(),
  };

  const services = await getServices(conn);
  result.services = Object.fromEntries(
    Object.entries(services).map(([domain, svcs]) => [domain, Object.keys(svcs).sort()]),
  );

  const config = await getConfig(conn);
  result.config = config;

  // The library's collections: each calls back once it has fetched its first value.
  const collections = {};
  const unsubs = [];
  unsubs.push(
    subscribeServices(conn, (value) => {
      collections.services = Object.keys(value).sort();
      recheck();
    }),
  );
  unsubs.push(
    subscribeConfig(conn, (value) => {
      collections.config_components = value.components;
      recheck();
    }),
  );

  // subscribeEvents for state_changed: the events of the switch.
  const switchEvents = [];
  let eventCount = 0;
  const unsubEvents = await conn.subscribeEvents((event) => {
    eventCount += 1;
    if (event.event_type !== "state_changed") {
      throw new Error(`subscribed to state_changed, got ${event.event_type}`);
    }
    if (event.data.entity_id === SWITCH) switchEvents.push(event);
    recheck();
  }, "state_changed");

  // subscribeEntities: the live map of entity id -> state.
  let entities;
  let entityUpdates = 0;
  unsubs.push(
    subscribeEntities(conn, (value) => {
      entities = value;
      entityUpdates += 1;
      recheck();
    }),
  );

  await waitUntil("subscribeEntities to show the switch and the counter", () =>
    entities && entities[SWITCH] && entities[COUNTER],
  );
  await waitUntil("the service and config collections", () =>
    collections.services && collections.config_components,
  );
  result.collections = collections;
  result.entities_initial = {
    count: Object.keys(entities).length,
    switch: entities[SWITCH].state,
    counter: entities[COUNTER].state,
    counter_attributes: entities[COUNTER].attributes,
  };

  // A change nobody asked for: the counter ticks while the switch is on.
  const counterBefore = entities[COUNTER].state;
  await waitUntil(`${COUNTER} to change from ${counterBefore}`, () =>
    entities[COUNTER].state !== counterBefore ? entities[COUNTER] : null,
  );
  result.counter_changed = { from: counterBefore, to: entities[COUNTER].state };

  // callService: toggle the switch, see it through subscribeEntities and the events.
  const switchBefore = entities[SWITCH].state;
  const toggled = await callService(conn, "switch", "toggle", undefined, {
    entity_id: SWITCH,
  });
  const contextId = toggled.context.id;
  const seen = await waitUntil(`${SWITCH} to leave ${switchBefore}`, () =>
    entities[SWITCH].state !== switchBefore ? entities[SWITCH] : null,
  );
  const event = await waitUntil(`a state_changed event of ${SWITCH}`, () =>
    switchEvents.find((e) => e.data.new_state?.state === seen.state),
  );
  result.toggle = {
    result: toggled,
    from: switchBefore,
    to: seen.state,
    entity_context_id: seen.context.id,
    same_context: seen.context.id === contextId,
    last_changed: seen.last_changed,
    last_switched: seen.attributes.last_switched,
    event: {
      event_type: event.event_type,
      old_state: event.data.old_state?.state,
      new_state: event.data.new_state?.state,
      origin: event.origin,
      context_id: event.context.id,
      keys: Object.keys(event).sort(),
    },
  };

  // callService with a response: demo.reset_counter; the counter goes to 0 (it no longer
  // ticks: the switch is off now).
  const reset = await callService(conn, "demo", "reset_counter", {}, undefined, true);
  await waitUntil(`${COUNTER} to be reset to 0`, () => String(entities[COUNTER].state) === "0");
  result.reset = { result: reset, counter: entities[COUNTER].state };

  // An error answer: the library rejects with the server's {code, message}.
  try {
    await callService(conn, "no_such_domain", "no_such_service");
    result.unknown_service = "resolved";
  } catch (err) {
    result.unknown_service = err;
  }

  result.entity_updates = entityUpdates;
  result.state_changed_events = eventCount;
  await unsubEvents();
  for (const unsub of unsubs) (await unsub)();
  result.features_sent = sent
    .filter((m) => typeof m === "object" && m.type === "supported_features")
    .map((m) => m.features);
  result.frames = frames;
  result.commands_sent = [...new Set(sent.map((m) => m.type))].sort();
  result.connected = conn.connected;
  conn.close();
  return result;
}

const deadline = setTimeout(
  () => fail(new Error(`gave up after ${TIMEOUT} ms`)),
  TIMEOUT,
);
main().then(
  (result) => {
    clearTimeout(deadline);
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  },
  fail,
);
