// The WebSocket API (Home Assistant's protocol) with the browser's session cookie.
//
// auth: the server asks ("auth_required"), we answer {"type": "auth", "session": true}:
// the cookie went along with the upgrade request, and the browser's Origin header
// proves the page is ours. Commands get increasing ids and answer with a promise.
// Subscriptions survive reconnects: they are sent again once the socket is back.

import { toLogin } from "./api.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

export class Connection extends EventTarget {
  constructor(url = defaultUrl()) {
    super();
    this.url = url;
    this.state = "connecting"; // connecting | connected | disconnected
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject}
    this.subscriptions = new Set(); // {message, onEvent, onReset, id}
    this.retryMs = RETRY_MIN_MS;
    this.socket = null;
    this.everConnected = false;
    this.authFailed = false; // the session is gone: stop retrying, go to the login page
  }

  /** Connect; resolves once authenticated (the first time). */
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

  receive(message) {
    switch (message.type) {
      case "auth_required":
        this.socket.send(JSON.stringify({ type: "auth", session: true }));
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

  settle(message) {
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.type === "pong" || message.success) {
      waiter.resolve(message.result ?? null);
    } else {
      const error = new Error(message.error?.message || "command failed");
      error.code = message.error?.code;
      waiter.reject(error);
    }
  }

  closed(socket) {
    if (socket !== this.socket) return;
    for (const waiter of this.pending.values()) waiter.reject(new Error("connection lost"));
    this.pending.clear();
    this.setState("disconnected");
    if (this.authFailed) return;
    setTimeout(() => this.open(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new Event("statechange"));
  }

  /** Send a command without waiting for its answer; returns its id. */
  send(message) {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ ...message, id }));
    return id;
  }

  /** Send a command; resolves with its result, rejects with its error. */
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
   */
  subscribe(message, onEvent, onReset = null) {
    const sub = { message, onEvent, onReset, id: null };
    this.subscriptions.add(sub);
    if (this.state === "connected") this.sendSubscription(sub);
    return () => {
      this.subscriptions.delete(sub);
      if (this.state === "connected" && sub.id !== null) {
        this.command({ type: "unsubscribe_events", subscription: sub.id }).catch(() => {});
      }
    };
  }

  sendSubscription(sub) {
    sub.id = this.send(sub.message);
    this.pending.set(sub.id, { resolve() {}, reject() {} });
  }
}

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/api/websocket`;
}
