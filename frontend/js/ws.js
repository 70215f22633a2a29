// @ts-check
// The WebSocket API (Home Assistant's protocol) with the browser's session cookie.
//
// auth: the server asks ("auth_required"), we answer {"type": "auth", "session": true}:
// the cookie went along with the upgrade request, and the browser's Origin header
// proves the page is ours. Commands get increasing ids and answer with a promise.
// Subscriptions survive reconnects: they are sent again once the socket is back.

import { toLogin } from "../public/js/api.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

/** @typedef {"connecting" | "connected" | "disconnected"} ConnectionState */
/** @typedef {Record<string, unknown>} Message  a command or an answer (JSON object) */
/** @typedef {{resolve: (result: unknown) => void, reject: (error: Error) => void}} Waiter */

/**
 * @typedef {object} Subscription
 * @property {Message} message  the subscribe command, sent again after a reconnect
 * @property {(event: unknown) => void} onEvent  gets each event as the server sent it
 * @property {(() => void) | null} onReset  runs before a reconnect re-subscribes
 * @property {number | null} id  the id of the subscribe command that is in force
 */

/** A command the server refused: its message, and its error code in `code`. */
export class CommandError extends Error {
  /**
   * @param {string} message
   * @param {string | undefined} code
   */
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export class Connection extends EventTarget {
  constructor(url = defaultUrl()) {
    super();
    this.url = url;
    /** @type {ConnectionState} */
    this.state = "connecting";
    this.nextId = 1;
    /** @type {Map<number, Waiter>} */
    this.pending = new Map();
    /** @type {Set<Subscription>} */
    this.subscriptions = new Set();
    this.retryMs = RETRY_MIN_MS;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.everConnected = false;
    this.authFailed = false; // the session is gone: stop retrying, go to the login page
  }

  /**
   * Connect; resolves once authenticated (the first time).
   * @returns {Promise<void>}
   */
  connect() {
    return new Promise((resolve) => {
      this.addEventListener("statechange", () => {
        if (this.state === "connected") resolve();
      });
      this.open();
    });
  }

  open() {
    this.setState("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      // With "coalesce_messages" several messages may come as one array frame.
      for (const message of Array.isArray(data) ? data : [data]) this.receive(message);
    });
    socket.addEventListener("close", () => this.closed(socket));
  }

  /** @param {Message} message */
  receive(message) {
    switch (message.type) {
      case "auth_required":
        this.socket?.send(JSON.stringify({ type: "auth", session: true }));
        break;
      case "auth_ok":
        this.authenticated();
        break;
      case "auth_invalid":
        this.authFailed = true;
        toLogin();
        break;
      case "result":
      case "pong":
        this.settle(message);
        break;
      case "event":
        for (const sub of this.subscriptions) {
          if (sub.id === message.id) sub.onEvent(message.event);
        }
        break;
      default:
        break;
    }
  }

  authenticated() {
    this.retryMs = RETRY_MIN_MS;
    this.send({ type: "supported_features", features: { coalesce_messages: 1 } });
    const reconnect = this.everConnected;
    this.everConnected = true;
    for (const sub of this.subscriptions) {
      if (reconnect && sub.onReset) sub.onReset();
      this.sendSubscription(sub);
    }
    this.setState("connected");
  }

  /** @param {Message} message  a result or a pong */
  settle(message) {
    const id = /** @type {number} */ (message.id);
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (message.type === "pong" || message.success) {
      waiter.resolve(message.result ?? null);
    } else {
      const error = /** @type {{message?: string, code?: string} | undefined} */ (message.error);
      waiter.reject(new CommandError(error?.message || "command failed", error?.code));
    }
  }

  /** @param {WebSocket} socket */
  closed(socket) {
    if (socket !== this.socket) return;
    for (const waiter of this.pending.values()) waiter.reject(new Error("connection lost"));
    this.pending.clear();
    this.setState("disconnected");
    if (this.authFailed) return;
    setTimeout(() => this.open(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  /** @param {ConnectionState} state */
  setState(state) {
    this.state = state;
    this.dispatchEvent(new Event("statechange"));
  }

  /**
   * Send a command without waiting for its answer; returns its id.
   * @param {Message} message
   */
  send(message) {
    const id = this.nextId++;
    this.socket?.send(JSON.stringify({ ...message, id }));
    return id;
  }

  /**
   * Send a command; resolves with its result, rejects with its error (a CommandError).
   * @param {Message} message
   * @returns {Promise<unknown>}
   */
  command(message) {
    if (this.state !== "connected") return Promise.reject(new Error("not connected"));
    return new Promise((resolve, reject) => {
      const id = this.send(message);
      this.pending.set(id, { resolve, reject });
    });
  }

  /**
   * Subscribe (subscribe_events, subscribe_entities...): `onEvent` gets each event,
   * `onReset` runs before a reconnect re-subscribes. Returns the unsubscribe function.
   * The events are the server's JSON as it is: `E` is what the caller expects of them.
   * @template E
   * @param {Message} message
   * @param {(event: E) => void} onEvent
   * @param {(() => void) | null} [onReset]
   * @returns {() => void}
   */
  subscribe(message, onEvent, onReset = null) {
    /** @type {Subscription} */
    const sub = { message, onEvent: /** @type {(event: unknown) => void} */ (onEvent), onReset, id: null };
    this.subscriptions.add(sub);
    if (this.state === "connected") this.sendSubscription(sub);
    return () => {
      this.subscriptions.delete(sub);
      if (this.state === "connected" && sub.id !== null) {
        this.command({ type: "unsubscribe_events", subscription: sub.id }).catch(() => {});
      }
    };
  }

  /** @param {Subscription} sub */
  sendSubscription(sub) {
    const id = this.send(sub.message);
    sub.id = id;
    this.pending.set(id, { resolve() {}, reject() {} });
  }
}

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/api/websocket`;
}
