// @ts-check
// Live MQTT traffic (admins, with an mqtt entry loaded).
//
// Start a monitor on a topic filter: the server subscribes and keeps what arrives,
// rate-limited (messages over the limit are only counted) and bounded; this page polls
// it twice a second over the WebSocket (mqtt/traffic/poll) for what is new. Pause stops
// keeping messages (the server still counts them and the per-topic rates go on);
// the search box filters the messages on the page by topic or payload. The page keeps
// at most KEEP messages. Leaving the page stops the monitor (and an abandoned one ends
// by itself on the server after 30 s).
//
// With several mqtt entries loaded, a chooser by title says which broker to watch: one,
// or all of them (each message then says which broker it came from). The choice is
// kept in the address with the filter (#/traffic?topic=...&entry=<id>; a title works
// there too: the server reads entry_id as an id or a title).
//
// Topics and payloads are device text: they go in as text, never as HTML.

import { api, errorMessage } from "../../public/js/api.js";
import { h, pageHead, uniqueId } from "../../public/js/dom.js";

const POLL_MS = 500;
const KEEP = 500;

/**
 * @typedef {object} TrafficMessage
 * @property {number} seq
 * @property {number} time  seconds since 1970
 * @property {string} topic
 * @property {number} qos
 * @property {boolean} retain
 * @property {number} size
 * @property {string} entry_id  the broker's mqtt entry
 * @property {string | null} payload
 * @property {string} [payload_hex]
 * @property {boolean} cut
 */

/**
 * @typedef {object} Poll
 * @property {string} session_id
 * @property {string} topic_filter
 * @property {string | null} entry_id  the broker watched; null: every broker
 * @property {boolean} paused
 * @property {number} seq
 * @property {TrafficMessage[]} messages
 * @property {boolean} more
 * @property {number} missed
 * @property {number} received
 * @property {number} suppressed
 * @property {number} missed_while_paused
 * @property {number} rate_limit
 * @property {{topic: string, rate: number, count: number}[]} topics
 * @property {number} topic_count
 * @property {number} other_topics
 */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 * @param {URLSearchParams} params
 */
export async function render(root, ctx, params) {
  const connection = ctx.connection;
  const problem = h("p", { class: "form-error", role: "alert" });
  const status = h("p", { class: "muted", role: "status", "aria-label": "Monitor status" },
    "Not monitoring.");
  const rows = h("tbody");
  const rates = h("tbody");
  /** @type {TrafficMessage[]} */
  let kept = [];
  /** @type {string | null} */
  let session = null;
  let after = 0;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let gone = false;

  const filterId = uniqueId("traffic-filter");
  const rateId = uniqueId("traffic-rate");
  const searchId = uniqueId("traffic-search");
  const filter = h("input", { id: filterId, name: "topic_filter", value: params.get("topic") || "#",
    autocomplete: "off", required: true });
  const rate = h("input", { id: rateId, name: "rate", type: "number", min: "1", max: "500",
    value: "20" });
  const qosId = uniqueId("traffic-qos");
  const qos = h("select", { id: qosId, name: "qos" },
    h("option", { value: "0" }, "0 (cheapest)"), h("option", { value: "1" }, "1"),
    h("option", { value: "2" }, "2 (shows every publisher's QoS)"));
  const search = h("input", { id: searchId, type: "search", placeholder: "topic or payload",
    autocomplete: "off" });
  const startButton = h("button", { type: "submit", class: "primary" }, "Start");
  const pauseButton = h("button", { type: "button", disabled: true, "aria-pressed": "false" },
    "Pause");
  search.addEventListener("input", () => showMessages());
  const brokerId = uniqueId("traffic-broker");
  const brokerPick = h("select", { id: brokerId, name: "entry_id" },
    h("option", { value: "" }, "All brokers"));
  const brokerField = h("div", { class: "field", hidden: true },
    h("label", { for: brokerId }, "Broker"), brokerPick);
  /** Titles of the loaded mqtt entries by id (admins may list them). */
  /** @type {Map<string, string>} */
  const titles = new Map();
  /** The broker the address names (an id or a title), until a monitor starts. */
  let wanted = params.get("entry") || "";
  const brokerHead = h("th", { hidden: true }, "Broker");

  /** @param {Record<string, unknown>} message */
  const command = (message) => connection.command(message);

  async function start() {
    problem.textContent = "";
    await stop();
    try {
      const first = /** @type {Poll} */ (await command({ type: "mqtt/traffic/start",
        topic_filter: filter.value.trim(), rate: Number(rate.value) || 20,
        qos: Number(qos.value), entry_id: wanted || null }));
      session = first.session_id;
      after = 0;
      kept = [];
      startButton.textContent = "Restart";
      pauseButton.disabled = false;
      setPaused(false);
      wanted = first.entry_id ?? "";
      brokerPick.value = wanted;
      const address = new URLSearchParams({ topic: filter.value.trim() });
      if (wanted) address.set("entry", wanted);
      history.replaceState(null, "", `#/traffic?${address}`);
      receive(first);
      schedule();
    } catch (err) {
      problem.textContent = errorMessage(err);
    }
  }

  async function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    const id = session;
    session = null;
    if (id) {
      try {
        await command({ type: "mqtt/traffic/stop", session_id: id });
      } catch {
        // already ended on the server: nothing to stop
      }
    }
  }

  function schedule() {
    if (gone || !session) return;
    timer = setTimeout(() => void poll(), POLL_MS);
  }

  async function poll() {
    if (!session) return;
    try {
      const got = /** @type {Poll} */ (await command({ type: "mqtt/traffic/poll",
        session_id: session, after }));
      receive(got);
      if (got.more) {
        void poll();
        return;
      }
    } catch (err) {
      problem.textContent = errorMessage(err);
      session = null;
      pauseButton.disabled = true;
      return;
    }
    schedule();
  }

  /** @param {Poll} got */
  function receive(got) {
    if (got.messages.length) {
      after = got.messages[got.messages.length - 1]?.seq ?? after;
      kept = kept.concat(got.messages).slice(-KEEP);
      showMessages();
    }
    status.textContent = `Monitoring ${got.topic_filter}: ${got.received} received, `
      + `${got.suppressed} over the limit of ${got.rate_limit}/s`
      + (got.missed_while_paused ? `, ${got.missed_while_paused} while paused` : "")
      + (got.missed ? `, ${got.missed} not fetched in time` : "")
      + (got.paused ? " — paused" : "") + ".";
    rates.replaceChildren(...got.topics.map((t) => h("tr", {},
      h("td", { class: "mono wrap" }, t.topic), h("td", {}, t.rate.toFixed(2)),
      h("td", {}, String(t.count)))));
    if (got.other_topics) {
      rates.append(h("tr", {}, h("td", { class: "muted" },
        `(${got.other_topics} messages on topics past the first ${got.topic_count})`),
      h("td", {}), h("td", {})));
    }
  }

  function showMessages() {
    const needle = search.value.trim().toLowerCase();
    const shown = needle
      ? kept.filter((m) => m.topic.toLowerCase().includes(needle)
        || (m.payload ?? m.payload_hex ?? "").toLowerCase().includes(needle))
      : kept;
    rows.replaceChildren(...shown.slice().reverse().map((m) => h("tr", {
      dataset: { seq: String(m.seq) } },
    h("td", { class: "nowrap" }, new Date(m.time * 1000).toLocaleTimeString()),
    h("td", { class: "mono wrap" }, m.topic),
    brokerHead.hidden ? null : h("td", {}, titles.get(m.entry_id) ?? m.entry_id),
    h("td", {}, `${m.qos}${m.retain ? " R" : ""}`),
    h("td", {}, String(m.size)),
    h("td", { class: "mono wrap payload" }, m.payload !== null
      ? m.payload + (m.cut ? " …" : "")
      : h("span", { class: "muted" }, `hex ${m.payload_hex ?? ""}${m.cut ? " …" : ""}`)))));
  }

  /** @param {boolean} paused */
  function setPaused(paused) {
    pauseButton.textContent = paused ? "Resume" : "Pause";
    pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
  }

  pauseButton.addEventListener("click", async () => {
    if (!session) return;
    const paused = pauseButton.getAttribute("aria-pressed") !== "true";
    try {
      const answer = /** @type {{paused: boolean}} */ (await command({
        type: "mqtt/traffic/pause", session_id: session, paused }));
      setPaused(answer.paused);
    } catch (err) {
      problem.textContent = errorMessage(err);
    }
  });

  const form = h("form", {
    class: "search-form", "aria-label": "Monitor topics", novalidate: true,
    onsubmit: (/** @type {SubmitEvent} */ event) => {
      event.preventDefault();
      void start();
    },
  },
  h("div", { class: "field" }, h("label", { for: filterId }, "Topic filter"), filter),
  h("div", { class: "field" }, h("label", { for: rateId }, "Messages per second"), rate),
  h("div", { class: "field" }, h("label", { for: qosId }, "Subscription QoS"), qos),
  brokerField,
  h("div", { class: "search-buttons" }, startButton, pauseButton));

  root.append(pageHead("Live traffic"), form, problem, status,
    h("div", { class: "field" }, h("label", { for: searchId }, "Search"), search),
    h("section", { class: "panel", "aria-labelledby": "traffic-rates" },
      h("h2", { id: "traffic-rates" }, "Topics by rate"),
      h("table", {}, h("thead", {}, h("tr", {},
        ["Topic", "Messages/s", "Count"].map((t) => h("th", {}, t)))), rates)),
    h("section", { class: "panel", "aria-labelledby": "traffic-messages" },
      h("h2", { id: "traffic-messages" }, "Messages"),
      h("table", {}, h("thead", {}, h("tr", {},
        h("th", {}, "Time"), h("th", {}, "Topic"), brokerHead,
        ["QoS", "Bytes", "Payload"].map((t) => h("th", {}, t)))), rows),
      h("p", { class: "hint muted" }, "QoS as delivered: at most the subscription's. "
        + "R: a retained message (sent when the monitor subscribed).")));

  brokerPick.addEventListener("change", () => {
    wanted = brokerPick.value;
    brokerHead.hidden = Boolean(wanted) || titles.size < 2;
    if (session) void start(); // watch the broker chosen now
  });

  try {
    const entries = /** @type {{entry_id: string, title: string}[]} */ (
      await api.get("/api/config/config_entries/entry?domain=mqtt"));
    for (const e of entries) titles.set(e.entry_id, e.title);
    brokerPick.append(...entries.map((e) => h("option", { value: e.entry_id }, e.title)));
  } catch {
    // Not listed: the monitor watches every broker, as the server does without entry_id.
  }
  brokerField.hidden = titles.size < 2;
  if (titles.has(wanted)) brokerPick.value = wanted;
  brokerHead.hidden = Boolean(wanted) || titles.size < 2;

  return () => {
    gone = true;
    void stop();
  };
}
