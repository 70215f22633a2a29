// @ts-check
// Entities and devices: search both registries, rename, change entity ids, disable.

import { api } from "../../public/js/api.js";
import { h, pageHead, table, uniqueId } from "../../public/js/dom.js";
import { formDialog } from "../forms.js";

/** @typedef {import("../types.js").EntityRegistryEntry} EntityRegistryEntry */
/** @typedef {import("../types.js").DeviceRegistryEntry} DeviceRegistryEntry */

const BASE = "/api/config";

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 */
export async function render(root, { store }) {
  const search = h("input", {
    type: "search", class: "search", placeholder: "Search", "aria-label": "Search entities and devices",
  });
  const status = h("p", { class: "notice", role: "status", hidden: true });
  const entityBody = h("div");
  const deviceBody = h("div");
  const entitiesId = uniqueId("entities");
  const devicesId = uniqueId("devices");
  root.append(pageHead("Entities & devices", search), status,
    h("section", { class: "panel", "aria-labelledby": entitiesId },
      h("h2", { id: entitiesId }, "Entities"), entityBody),
    h("section", { class: "panel", "aria-labelledby": devicesId },
      h("h2", { id: devicesId }, "Devices"), deviceBody));

  /** @type {EntityRegistryEntry[]} */
  let entities = [];
  /** @type {DeviceRegistryEntry[]} */
  let devices = [];
  /** @type {Map<string, HTMLTableCellElement>} entity_id → the cell showing its live state */
  const stateCells = new Map();

  async function load() {
    const [entityList, deviceList] = await Promise.all([
      api.get(`${BASE}/entity_registry`), api.get(`${BASE}/device_registry`),
    ]);
    entities = /** @type {EntityRegistryEntry[]} */ (entityList);
    devices = /** @type {DeviceRegistryEntry[]} */ (deviceList);
    draw();
  }

  function draw() {
    const wanted = search.value.trim().toLowerCase();
    /** @param {...(string | null | undefined)} texts */
    const match = (...texts) => !wanted || texts.some((t) => (t || "").toLowerCase().includes(wanted));
    const deviceById = new Map(devices.map((d) => [d.id, d]));
    /** @param {EntityRegistryEntry} e */
    const deviceOf = (e) => (e.device_id ? deviceById.get(e.device_id) : undefined);
    const shownEntities = entities.filter((e) => match(e.entity_id, entityName(e), e.platform,
      deviceName(deviceOf(e))));
    stateCells.clear();
    entityBody.replaceChildren(shownEntities.length
      ? table(["Name", "Entity ID", "Integration", "Device", "State", "Status", ""],
        shownEntities.map((e) => entityRow(e, deviceOf(e))))
      : h("p", { class: "empty" }, "No entity matches."));
    const shownDevices = devices.filter((d) => match(deviceName(d), d.manufacturer, d.model));
    deviceBody.replaceChildren(shownDevices.length
      ? table(["Name", "Manufacturer", "Model", "Entities", "Status", ""], shownDevices.map(deviceRow))
      : h("p", { class: "empty" }, "No device matches."));
  }

  /**
   * @param {EntityRegistryEntry} entry
   * @param {DeviceRegistryEntry | undefined} device
   */
  function entityRow(entry, device) {
    const stateCell = h("td", { class: "mono" }, store.get(entry.entity_id)?.state ?? "—");
    stateCells.set(entry.entity_id, stateCell);
    const name = entityName(entry);
    return h("tr", { dataset: { entityId: entry.entity_id } },
      h("td", {}, name), h("td", { class: "mono" }, entry.entity_id),
      h("td", {}, entry.platform), h("td", {}, deviceName(device) || "—"), stateCell,
      h("td", {}, statusBadge(entry.disabled_by)),
      h("td", {}, h("button", {
        type: "button", class: "small", "aria-label": `Edit ${name}`, onclick: () => editEntity(entry),
      }, "Edit")));
  }

  /** @param {DeviceRegistryEntry} device */
  function deviceRow(device) {
    const count = entities.filter((e) => e.device_id === device.id).length;
    return h("tr", { dataset: { deviceId: device.id } },
      h("td", {}, deviceName(device)), h("td", {}, device.manufacturer || "—"),
      h("td", {}, device.model || "—"), h("td", {}, String(count)),
      h("td", {}, statusBadge(device.disabled_by)),
      h("td", {}, h("button", {
        type: "button", class: "small", "aria-label": `Edit ${deviceName(device)}`,
        onclick: () => editDevice(device),
      }, "Edit")));
  }

  /** @param {EntityRegistryEntry} entry */
  async function editEntity(entry) {
    const saved = await formDialog({
      title: `Edit ${entityName(entry)}`,
      fields: [
        { name: "name", label: "Name", type: "string", example: entry.original_name,
          description: "Leave empty to use the integration's name." },
        { name: "new_entity_id", label: "Entity ID", type: "string", required: true },
        { name: "disabled", label: "Disabled", type: "boolean",
          description: "A disabled entity is removed; to bring it back, enable it and "
            + "reload its integration." },
      ],
      values: { name: entry.name, new_entity_id: entry.entity_id, disabled: Boolean(entry.disabled_by) },
      onSubmit: (data) => {
        /** @type {Record<string, unknown>} */
        const body = { name: data.name ?? null };
        if (data.new_entity_id !== entry.entity_id) body.new_entity_id = data.new_entity_id;
        if (data.disabled !== Boolean(entry.disabled_by)) body.disabled = data.disabled;
        return api.post(`${BASE}/entity_registry/${entry.entity_id}`, body);
      },
    });
    if (saved) await reportSaved(`Saved ${entityName(entry)}.`);
  }

  /** @param {DeviceRegistryEntry} device */
  async function editDevice(device) {
    const saved = await formDialog({
      title: `Edit ${deviceName(device)}`,
      fields: [
        { name: "name_by_user", label: "Name", type: "string", example: device.name,
          description: "Leave empty to use the integration's name." },
        { name: "disabled", label: "Disabled", type: "boolean" },
      ],
      values: { name_by_user: device.name_by_user, disabled: Boolean(device.disabled_by) },
      onSubmit: (data) => {
        /** @type {Record<string, unknown>} */
        const body = { name_by_user: data.name_by_user ?? null };
        if (data.disabled !== Boolean(device.disabled_by)) body.disabled = data.disabled;
        return api.post(`${BASE}/device_registry/${device.id}`, body);
      },
    });
    if (saved) await reportSaved(`Saved ${deviceName(device)}.`);
  }

  /** @param {string} message */
  async function reportSaved(message) {
    status.textContent = message;
    status.hidden = false;
    await load();
  }

  /** @param {Event} event */
  const onChange = (event) => {
    const { changed } = /** @type {CustomEvent<import("../store.js").ChangeDetail>} */ (event).detail;
    for (const id of changed) {
      const cell = stateCells.get(id);
      const state = store.get(id);
      if (cell && state) cell.textContent = state.state;
    }
  };
  store.addEventListener("change", onChange);
  search.addEventListener("input", draw);
  await load();
  return () => store.removeEventListener("change", onChange);
}

/** @param {EntityRegistryEntry} entry */
function entityName(entry) {
  return entry.name || entry.original_name || entry.entity_id;
}

/** @param {DeviceRegistryEntry | undefined} device */
function deviceName(device) {
  return device ? device.name_by_user || device.name || device.id : "";
}

/** @param {string | null} disabledBy */
function statusBadge(disabledBy) {
  return disabledBy
    ? h("span", { class: "badge warn" }, `Disabled (${disabledBy})`)
    : h("span", { class: "badge ok" }, "Enabled");
}
