// @ts-check
// Entities and devices: search both registries, rename, change entity ids, disable.
// Both tables are paged (js/pager.js): 10,000 entities render as one page of rows, and
// live states update only the rows on the page.

import { api, errorMessage } from "../../public/js/api.js";
import { h, pageHead, table, uniqueId } from "../../public/js/dom.js";
import { formDialog } from "../forms.js";
import { pager } from "../pager.js";

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
  /** @type {Map<string, DeviceRegistryEntry>} */
  let deviceById = new Map();
  /** @type {Map<string, number>} device id → how many entities it has */
  let entityCount = new Map();
  const entityPager = pager("entities",
    (/** @type {EntityRegistryEntry[]} */ page) => {
      stateCells.clear();
      return table(["Name", "Entity ID", "Integration", "Device", "State", "Status", ""],
        page.map((e) => entityRow(e, e.device_id ? deviceById.get(e.device_id) : undefined)));
    },
    () => h("p", { class: "empty" }, "No entity matches."));
  const devicePager = pager("devices",
    (/** @type {DeviceRegistryEntry[]} */ page) =>
      table(["Name", "Manufacturer", "Model", "Entities", "Status", ""], page.map(deviceRow)),
    () => h("p", { class: "empty" }, "No device matches."));
  const entityBody = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading entities…"));
  const deviceBody = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading devices…"));
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
    deviceById = new Map(devices.map((d) => [d.id, d]));
    entityCount = new Map();
    for (const e of entities) {
      if (e.device_id) entityCount.set(e.device_id, (entityCount.get(e.device_id) || 0) + 1);
    }
    entityBody.replaceChildren(entityPager.element);
    deviceBody.replaceChildren(devicePager.element);
    draw(false);
  }

  /** @param {boolean} [firstPage]  a new search starts at its first page */
  function draw(firstPage = true) {
    const wanted = search.value.trim().toLowerCase();
    /** @param {...(string | null | undefined)} texts */
    const match = (...texts) => !wanted || texts.some((t) => (t || "").toLowerCase().includes(wanted));
    /** @param {EntityRegistryEntry} e */
    const deviceOf = (e) => (e.device_id ? deviceById.get(e.device_id) : undefined);
    const shownEntities = entities.filter((e) => match(e.entity_id, entityName(e), e.platform,
      deviceName(deviceOf(e))));
    entityPager.show(shownEntities, firstPage);
    devicePager.show(devices.filter((d) => match(deviceName(d), d.manufacturer, d.model)), firstPage);
  }

  /**
   * @param {EntityRegistryEntry} entry
   * @param {DeviceRegistryEntry | undefined} device
   */
  function entityRow(entry, device) {
    const stateCell = h("td", { class: "mono" });
    showState(stateCell, store.get(entry.entity_id)?.state);
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
    const count = entityCount.get(device.id) || 0;
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
      if (cell && state) showState(cell, state.state);
    }
  };
  store.addEventListener("change", onChange);
  search.addEventListener("input", () => draw());
  try {
    await load();
  } catch (err) {
    const failed = () => h("p", { class: "notice", role: "alert" },
      `The registries could not be read: ${errorMessage(err)}`);
    entityBody.replaceChildren(failed());
    deviceBody.replaceChildren(failed());
  }
  return () => store.removeEventListener("change", onChange);
}

/**
 * A state cell: the state, greyed when the entity is unavailable ("—" without a state).
 * @param {HTMLTableCellElement} cell
 * @param {string | undefined} state
 */
function showState(cell, state) {
  cell.textContent = state ?? "—";
  cell.classList.toggle("muted", state === undefined || state === "unavailable");
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
