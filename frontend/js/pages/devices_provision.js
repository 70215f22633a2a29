// @ts-check
// Provision devices (admins, with an mqtt entry that has a provisioning: block).
//
// A three-step wizard: 1. name, device type, site and credentials (password or a
// certificate from the house CA); 2. review: the broker client, its topics and limits,
// and what the broker itself enforces; 3. the result, shown once: broker address,
// username, password (or certificate), topics, a QR code (an SVG the server drew, shown
// as an image) and the zip bundle to download. Below, the provisioned devices with a
// one-click Revoke (broker client disabled, certificate revoked) and Delete.
//
// Which broker: with several mqtt entries that have a provisioning: block, a chooser by
// title (pre-selected when there is one) says which, and every call carries its
// entry_id; the choice is kept in the address (#/devices_provision?entry=<id>; a title
// works there too: the server reads entry_id as an id or a title). Until one is chosen
// the page shows nothing to act on: the server refuses to guess, and so does the page.
//
// Names and topics come back from the server as text and go in as text (h() children),
// never as HTML.

import { api, errorMessage } from "../../public/js/api.js";
import { append, formatTime, h, pageHead, uniqueId } from "../../public/js/dom.js";
import { confirmDialog } from "../dialog.js";

const BASE = "/api/mqtt/provisioning";

/**
 * @typedef {object} DeviceType
 * @property {string} name
 * @property {string} description
 * @property {string} topic_root  with {site}, {type}, {device}
 * @property {string[]} publish  relative to the root
 * @property {string[]} subscribe
 * @property {number} max_qos
 * @property {boolean} retain
 */

/**
 * @typedef {object} Device
 * @property {string} name
 * @property {string} site
 * @property {string} type
 * @property {string} username
 * @property {"password" | "certificate"} auth
 * @property {string} topic_root
 * @property {number} created
 * @property {"active" | "revoked"} status
 * @property {number | null} serial
 * @property {number | null} revoked
 * @property {string[]} notes
 */

/** @typedef {{entry_id: string, title: string}} Choice  an entry with a provisioning: block */

/**
 * @typedef {object} Overview
 * @property {string} entry_id  the entry shown (resolved from an id or a title)
 * @property {string} title
 * @property {Choice[]} entries  every entry with a provisioning: block, by title
 * @property {{host: string, port: number, tls_port: number}} broker
 * @property {DeviceType[]} device_types
 * @property {{mosquitto_conf: string, not_enforced_by_plugin: string[]}} enforcement
 * @property {Device[]} devices
 */

/**
 * @typedef {object} ProvisionResult
 * @property {Device} device
 * @property {{host: string, port: number, tls: boolean}} broker
 * @property {string} username
 * @property {string | null} password
 * @property {{serial: number, not_after: string, cert_pem: string, key_pem: string} | null} certificate
 * @property {{root: string, publish: string[], subscribe: string[], command: string}} topics
 * @property {{max_qos: number, retain: boolean, note: string}} limits
 * @property {string} qr_svg
 * @property {{filename: string, base64: string}} bundle
 */

/**
 * The topics a template gives a device, as the server will compute them.
 * @param {DeviceType} type
 * @param {string} site
 * @param {string} name
 */
function topicsOf(type, site, name) {
  const root = type.topic_root.replaceAll("{site}", site).replaceAll("{type}", type.name)
    .replaceAll("{device}", name);
  /** @param {string} rel */
  const under = (rel) => (rel ? `${root}/${rel}` : root);
  return { root, publish: type.publish.map(under), subscribe: type.subscribe.map(under) };
}

/**
 * Base64 → a downloadable Blob URL.
 * @param {string} base64
 * @param {string} mime
 */
function blobUrl(base64, mime) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: mime }));
}

/**
 * The chooser's labels: titles, with the id where two entries share a title.
 * @param {Choice[]} entries
 */
function labelled(entries) {
  /** @type {Map<string, number>} */
  const seen = new Map();
  for (const e of entries) seen.set(e.title, (seen.get(e.title) ?? 0) + 1);
  return entries.map((e) => ({ ...e, label: (seen.get(e.title) ?? 0) > 1
    ? `${e.title} (${e.entry_id})` : e.title }));
}

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} _ctx
 * @param {URLSearchParams} params
 */
export async function render(root, _ctx, params) {
  const problem = h("p", { class: "form-error", role: "alert" });
  const choose = h("p", { class: "notice", role: "status", hidden: true });
  const brokerPick = h("select", { class: "broker-pick", "aria-label": "Broker", hidden: true });
  brokerPick.style.width = "auto"; // the stylesheet makes selects full width
  const wizard = h("section", { class: "panel", "aria-label": "Provision a device" });
  const rows = h("tbody");
  const enforcement = h("div", { class: "hint" });
  const templates = h("tbody");
  /** @type {string[]} */
  const urls = [];
  /** @type {Overview | null} */
  let overview = null;
  /** What the address or the chooser names (an id or a title); "" = not chosen yet. */
  let wanted = params.get("entry") || "";
  /** The entry shown, as the server resolved `wanted`: every call names it. */
  let entryId = "";
  /** Answers to an older load (another broker chosen since) are dropped. */
  let generation = 0;
  const onEntry = () => `?entry_id=${encodeURIComponent(entryId)}`;

  const body = h("div", { class: "provisioning" }, wizard,
    h("section", { class: "panel", "aria-labelledby": "devices-heading" },
      h("h2", { id: "devices-heading" }, "Provisioned devices"),
      h("table", {}, h("thead", {}, h("tr", {},
        ["Name", "Site", "Type", "Credentials", "Status", "Provisioned"].map((t) => h("th", {}, t)),
        h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))), rows)),
    h("section", { class: "panel", "aria-labelledby": "types-heading" },
      h("h2", { id: "types-heading" }, "Device types"),
      h("p", { class: "hint muted" }, "Templates from the mqtt entry's provisioning: block."),
      h("table", {}, h("thead", {}, h("tr", {},
        ["Type", "Publishes under", "Subscribes to", "Max QoS", "Retain"].map((t) => h("th", {}, t)))),
      templates)),
    h("section", { class: "panel", "aria-labelledby": "enforce-heading" },
      h("h2", { id: "enforce-heading" }, "What the broker enforces"), enforcement));
  root.append(pageHead("Provision devices", brokerPick), problem, choose, body);

  brokerPick.addEventListener("change", () => {
    wanted = brokerPick.value;
    entryId = "";
    wizard.replaceChildren(); // the device types are the new broker's
    void load();
  });

  /**
   * The chooser: every entry with a block by title; a "Choose" placeholder while
   * several are loaded and none is chosen.
   * @param {Choice[]} entries
   * @param {string} chosen  an entry id, or ""
   */
  function showChoices(entries, chosen) {
    brokerPick.replaceChildren();
    append(brokerPick, [
      chosen ? null : h("option", { value: "", disabled: true }, "Choose a broker…"),
      labelled(entries).map((e) => h("option", { value: e.entry_id }, e.label))]);
    brokerPick.value = chosen;
    brokerPick.hidden = !entries.length;
  }

  /** @param {string} [message] why there is nothing to show */
  function nothing(message = "") {
    overview = null;
    body.hidden = true;
    problem.textContent = message;
  }

  async function load() {
    const mine = ++generation;
    problem.textContent = "";
    choose.hidden = true;
    /** @type {Choice[]} */
    let entries;
    try {
      entries = /** @type {{entries: Choice[]}} */ (await api.get(`${BASE}/entries`)).entries;
    } catch (err) {
      if (mine === generation) nothing(errorMessage(err));
      return;
    }
    if (mine !== generation) return;
    if (!entries.length) {
      showChoices(entries, "");
      nothing("No mqtt entry has a provisioning: block. Add one to an mqtt entry whose broker "
        + "runs the dynamic security plugin.");
      return;
    }
    if (!wanted && entries.length > 1) {
      showChoices(entries, "");
      nothing();
      choose.hidden = false;
      choose.textContent = `${entries.length} brokers can provision devices: choose one above.`;
      return;
    }
    /** @type {Overview} */
    let shown;
    try {
      shown = /** @type {Overview} */ (await api.get(
        wanted ? `${BASE}?entry_id=${encodeURIComponent(wanted)}` : BASE));
    } catch (err) {
      if (mine !== generation) return;
      showChoices(entries, "");
      nothing(errorMessage(err)); // an address naming no such broker: the server says which
      return;
    }
    if (mine !== generation) return;
    overview = shown;
    entryId = shown.entry_id;
    showChoices(shown.entries, entryId);
    if (wanted || shown.entries.length > 1) {
      wanted = entryId;
      history.replaceState(null, "", `#/devices_provision?entry=${encodeURIComponent(entryId)}`);
    }
    body.hidden = false;
    showDevices(overview.devices);
    templates.replaceChildren(...overview.device_types.map((t) => {
      const topics = topicsOf(t, "{site}", "{device}");
      return h("tr", { dataset: { type: t.name } },
        h("td", {}, t.name, t.description ? h("div", { class: "muted" }, t.description) : null),
        h("td", { class: "mono wrap" }, topics.publish.join(", ")),
        h("td", { class: "mono wrap" }, topics.subscribe.join(", ") || "nothing"),
        h("td", {}, String(t.max_qos)), h("td", {}, t.retain ? "allowed" : "no"));
    }));
    enforcement.replaceChildren(
      h("p", {}, "The dynamic security plugin limits each device to its topics. It does not "
        + `limit ${overview.enforcement.not_enforced_by_plugin.join(" or ")}: those are `
        + "broker listener settings (for every client of that listener) and the device's "
        + "own configuration (in its bundle). For these templates, in mosquitto.conf:"),
      h("pre", { class: "mono" }, overview.enforcement.mosquitto_conf));
    if (!wizard.childElementCount) stepOne();
  }

  /** @param {Device[]} devices */
  function showDevices(devices) {
    rows.replaceChildren(...devices.map((d) => h("tr", { dataset: { device: d.name } },
      h("td", { class: "mono" }, d.name), h("td", {}, d.site), h("td", {}, d.type),
      h("td", {}, d.auth === "certificate" ? `certificate ${d.serial?.toString(16) ?? ""}` : "password"),
      h("td", {}, h("span", { class: d.status === "active" ? "badge ok" : "badge error" }, d.status)),
      h("td", { class: "nowrap" }, formatTime(d.created)),
      h("td", { class: "row-actions" },
        d.status === "active" ? h("button", {
          type: "button", class: "small", "aria-label": `Revoke ${d.name}`,
          onclick: () => void revoke(d),
        }, "Revoke") : null,
        h("button", {
          type: "button", class: "small", "aria-label": `Delete ${d.name}`,
          onclick: () => void remove(d),
        }, "Delete")))));
    if (!devices.length) {
      rows.append(h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No device yet.")));
    }
  }

  /** @param {Device} d */
  async function revoke(d) {
    const sure = await confirmDialog(`Revoke ${d.name}?`,
      "The device's broker client is disabled at once (its connection is closed)"
      + (d.auth === "certificate" ? " and its certificate is revoked" : "")
      + ". This cannot be undone; provision it again to bring it back.", { confirmLabel: "Revoke" });
    if (!sure) return;
    try {
      await api.post(`${BASE}/devices/${encodeURIComponent(d.name)}/revoke${onEntry()}`);
    } catch (err) {
      problem.textContent = errorMessage(err);
    }
    await load();
  }

  /** @param {Device} d */
  async function remove(d) {
    const sure = await confirmDialog(`Delete ${d.name}?`,
      "The broker client and its role are removed and Gatehouse forgets the device"
      + (d.status === "active" ? " (it is revoked first)." : "."), { confirmLabel: "Delete" });
    if (!sure) return;
    try {
      await api.del(`${BASE}/devices/${encodeURIComponent(d.name)}${onEntry()}`);
    } catch (err) {
      problem.textContent = errorMessage(err);
    }
    await load();
  }

  /** @param {string} label @param {HTMLElement} control @param {string} [hint] */
  function field(label, control, hint) {
    const id = uniqueId("prov");
    control.id = id;
    return h("div", { class: "field" }, h("label", { for: id }, label), control,
      hint ? h("p", { class: "hint muted" }, hint) : null);
  }

  /** @param {{name?: string, type?: string, site?: string, auth?: string}} [previous] */
  function stepOne(previous = {}) {
    if (!overview) return;
    const types = overview.device_types;
    const name = h("input", { name: "name", required: true, autocomplete: "off",
      pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}", value: previous.name ?? "" });
    const site = h("input", { name: "site", required: true, autocomplete: "off",
      pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}", value: previous.site ?? "" });
    const type = h("select", { name: "device_type" }, types.map((t) =>
      h("option", { value: t.name, selected: t.name === previous.type },
        t.description ? `${t.name} — ${t.description}` : t.name)));
    const auth = h("select", { name: "auth" },
      h("option", { value: "password" }, "Password (generated, shown once)"),
      h("option", { value: "certificate", selected: previous.auth === "certificate" },
        "Certificate from the house CA"));
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h("form", {
      novalidate: true,
      onsubmit: (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        if (!form.checkValidity()) {
          error.textContent = "Name and site: 1-64 letters, digits, _ . or -, starting with a "
            + "letter or digit.";
          return;
        }
        const chosen = types.find((t) => t.name === type.value);
        if (chosen) stepTwo(chosen, name.value, site.value, auth.value);
      },
    },
    h("h2", {}, "1. Device"),
    field("Name", name, "The MQTT username (and the certificate's CN)."),
    field("Device type", type), field("Site", site), field("Credentials", auth), error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Next")));
    wizard.replaceChildren(form);
  }

  /**
   * @param {DeviceType} type
   * @param {string} name
   * @param {string} site
   * @param {string} auth
   */
  function stepTwo(type, name, site, auth) {
    if (!overview) return;
    const topics = topicsOf(type, site, name);
    const target = overview.entry_id; // the broker reviewed is the one provisioned on
    const error = h("p", { class: "form-error", role: "alert" });
    const go = h("button", { type: "button", class: "primary" }, "Provision");
    const back = h("button", { type: "button" }, "Back");
    back.addEventListener("click", () => stepOne({ name, type: type.name, site, auth }));
    go.addEventListener("click", async () => {
      go.disabled = true;
      error.textContent = "";
      try {
        const result = /** @type {ProvisionResult} */ (await api.post(`${BASE}/devices`,
          { name, device_type: type.name, site, auth, entry_id: target }));
        stepThree(result);
        void load();
      } catch (err) {
        error.textContent = errorMessage(err);
        go.disabled = false;
      }
    });
    const port = auth === "certificate" ? overview.broker.tls_port : overview.broker.port;
    wizard.replaceChildren(h("h2", {}, "2. Review"),
      h("dl", { class: "account" },
        h("dt", {}, "Entry"), h("dd", {}, overview.title),
        h("dt", {}, "Broker"), h("dd", { class: "mono" }, `${overview.broker.host}:${port}`
          + (auth === "certificate" ? " (TLS, client certificate)" : "")),
        h("dt", {}, "Username"), h("dd", { class: "mono" }, name),
        h("dt", {}, "May publish"), h("dd", { class: "mono" }, topics.publish.join(", ")),
        h("dt", {}, "May subscribe"), h("dd", { class: "mono" },
          topics.subscribe.join(", ") || "nothing"),
        h("dt", {}, "Limits"), h("dd", {}, `QoS ≤ ${type.max_qos}, `
          + (type.retain ? "retained messages allowed" : "no retained messages")
          + " (in the device's configuration; the plugin enforces topics only)")),
      error, h("div", { class: "actions" }, back, go));
  }

  /** @param {ProvisionResult} result */
  function stepThree(result) {
    const zip = blobUrl(result.bundle.base64, "application/zip");
    // A data: URL: the page's Content-Security-Policy lets images come from data:, not blob:.
    const qr = `data:image/svg+xml;base64,${btoa(result.qr_svg)}`;
    urls.push(zip);
    const secret = result.password !== null
      ? [h("dt", {}, "Password"), h("dd", {}, h("code", { class: "secret" }, result.password))]
      : [h("dt", {}, "Certificate"), h("dd", {}, `serial ${result.certificate?.serial.toString(16)}, `
        + `valid until ${result.certificate?.not_after ?? "?"} (key in the bundle)`)];
    wizard.replaceChildren(h("h2", {}, "3. Credentials"),
      h("p", { class: "notice", role: "status" }, `${result.device.name} is provisioned. `
        + "The credentials are shown this once: download the bundle or scan the code now."),
      h("div", { class: "cards" },
        h("dl", { class: "account" },
          h("dt", {}, "Broker"), h("dd", { class: "mono" },
            `${result.broker.host}:${result.broker.port}${result.broker.tls ? " (TLS)" : ""}`),
          h("dt", {}, "Username"), h("dd", { class: "mono" }, result.username), secret,
          h("dt", {}, "Publishes under"), h("dd", { class: "mono" }, result.topics.publish.join(", ")),
          h("dt", {}, "Commands on"), h("dd", { class: "mono" }, result.topics.subscribe.join(", "))),
        h("img", { src: qr, alt: `QR code with the connection settings of ${result.device.name}`,
          width: "240", height: "240" })),
      h("div", { class: "actions" },
        h("a", { class: "button primary", href: zip, download: result.bundle.filename },
          `Download ${result.bundle.filename}`),
        h("button", { type: "button", onclick: () => stepOne() }, "Provision another")));
  }

  await load();
  return () => {
    for (const url of urls) URL.revokeObjectURL(url);
  };
}
