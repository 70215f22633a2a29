// @ts-check
// One entity's card on the overview: name, value and unit, a sparkline for numbers,
// and the control its domain offers (switch: toggle; button: press; number: slider or
// box; select: a choice). Updated in place by `update(state)`.
//
// An unavailable entity is greyed, shows no unit and its controls are disabled: a
// "Turn on" that cannot reach the device would only fail. A control the user is
// holding (a dragged slider, a focused box) is not overwritten by live updates.

import { h, uniqueId } from "../public/js/dom.js";
import { rangeText, sparkline, updateSparkline } from "./sparkline.js";
import { numeric } from "./store.js";

/** @typedef {import("./types.js").EntityState} EntityState */
/** @typedef {import("./store.js").EntityStore} EntityStore */
/** @typedef {import("./ws.js").Connection} Connection */
/** @typedef {{element: HTMLElement, update(state: EntityState): void}} Card */

/** States that mean "no value": shown as words, never with a unit. */
const NO_VALUE = new Set(["unavailable", "unknown"]);

/**
 * "sensor.demo_sine" → "sensor".
 * @param {string} entityId
 */
export function domainOf(entityId) {
  const dot = entityId.indexOf("."); // not split(): called for each of 10,000 per rebuild
  return dot < 0 ? entityId : entityId.slice(0, dot);
}

/** @param {EntityState} state */
export function displayName(state) {
  return String(state.attributes.friendly_name || state.entity_id);
}

/**
 * @param {EntityState} state
 * @param {EntityStore} store
 * @param {Connection} connection
 * @param {string} [deviceName]  left off the front of the entity's name on its card
 * @returns {Card}
 */
export function entityCard(state, store, connection, deviceName = "") {
  const id = state.entity_id;
  const domain = domainOf(id);
  const nameId = uniqueId("card-name");
  const name = h("h3", { class: "name", id: nameId });
  const valueText = h("span", { class: "state" });
  const unit = h("span", { class: "unit" });
  const graph = sparkline([]);
  graph.toggleAttribute("hidden", true); // an SVG element has no `hidden` property
  const range = h("div", { class: "entity-id range" });
  const error = h("p", { class: "reason", role: "alert", hidden: true });
  const controls = h("div", { class: "controls" });
  const element = h("article", { class: "card", dataset: { entityId: id }, "aria-labelledby": nameId },
    name, h("div", { class: "entity-id" }, id), h("div", { class: "value" }, valueText, unit),
    graph, range, controls, error);

  /**
   * @param {string} service
   * @param {Record<string, unknown>} [data]
   */
  const call = (service, data = {}) => connection
    .command({ type: "call_service", domain, service, service_data: { entity_id: id, ...data } })
    .then(() => { error.hidden = true; })
    .catch((err) => { error.textContent = err.message; error.hidden = false; });
  const control = makeControl(domain, state, call, nameId);
  if (control) controls.append(control.element);

  /** @param {EntityState} current */
  function update(current) {
    name.textContent = shortName(displayName(current), deviceName);
    const noValue = NO_VALUE.has(current.state);
    const unavailable = current.state === "unavailable";
    element.classList.toggle("unavailable", unavailable);
    element.dataset.state = current.state;
    const number = numeric(current.state);
    valueText.textContent = noValue ? capitalise(current.state)
      : ["on", "off"].includes(current.state) ? current.state.toUpperCase() : current.state;
    unit.textContent = noValue ? "" : String(current.attributes.unit_of_measurement || "");
    if (number !== null) {
      const points = store.history.get(id) || [];
      updateSparkline(graph, points);
      graph.toggleAttribute("hidden", false);
      range.textContent = rangeText(points);
    }
    if (control) control.update(current, unavailable);
  }

  update(state);
  return { element, update };
}

/**
 * "Pump Running" on the "Pump" device's card reads "Running".
 * @param {string} name
 * @param {string} deviceName
 */
function shortName(name, deviceName) {
  if (!deviceName || name.length <= deviceName.length) return name;
  if (!name.toLowerCase().startsWith(`${deviceName.toLowerCase()} `)) return name;
  return capitalise(name.slice(deviceName.length + 1));
}

/** @param {string} text */
function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * @typedef {object} Control
 * @property {HTMLElement} element
 * @property {(state: EntityState, unavailable: boolean) => void} update
 */
/** @typedef {(service: string, data?: Record<string, unknown>) => Promise<void>} Call */

/**
 * The control of a domain's card, or null (sensors have none).
 * @param {string} domain
 * @param {EntityState} state
 * @param {Call} call
 * @param {string} nameId  the card's name, which labels the control
 * @returns {Control | null}
 */
function makeControl(domain, state, call, nameId) {
  switch (domain) {
    case "switch":
    case "input_boolean":
    case "light":
    case "fan": {
      const button = h("button", { type: "button", class: "small", onclick: () => call("toggle") });
      return {
        element: button,
        update(current, unavailable) {
          button.textContent = current.state === "on" ? "Turn off" : "Turn on";
          button.disabled = unavailable;
        },
      };
    }
    case "button": {
      const button = h("button", { type: "button", class: "small", onclick: () => call("press") },
        "Press");
      return { element: button, update(_current, unavailable) { button.disabled = unavailable; } };
    }
    case "number":
      return numberControl(state, call, nameId);
    case "select":
      return selectControl(call, nameId);
    default:
      return null;
  }
}

/**
 * A slider (mode "slider", or "auto" with a range of at most 256 steps) or a number
 * box; the value is sent when the user lets go (change), not on every pixel.
 * @param {EntityState} state
 * @param {Call} call
 * @param {string} nameId
 * @returns {Control}
 */
function numberControl(state, call, nameId) {
  const attrs = state.attributes;
  const min = Number(attrs.min ?? 0);
  const max = Number(attrs.max ?? 100);
  const step = Number(attrs.step ?? 1) || 1;
  const mode = String(attrs.mode || "auto");
  const slider = mode === "slider" || (mode === "auto" && (max - min) / step <= 256);
  const input = h("input", {
    type: slider ? "range" : "number", min, max, step, class: slider ? "slider" : "number-box",
    "aria-labelledby": nameId,
  });
  const send = h("button", { type: "button", class: "small", hidden: slider }, "Set");
  let held = false; // the user is dragging or typing: live updates wait
  input.addEventListener("pointerdown", () => { held = true; });
  input.addEventListener("focus", () => { if (!slider) held = true; });
  input.addEventListener("blur", () => { held = false; });
  const submit = () => {
    held = false;
    const value = Number(input.value);
    if (input.value === "" || !Number.isFinite(value)) return;
    call("set_value", { value });
  };
  if (slider) input.addEventListener("change", submit);
  else {
    send.addEventListener("click", submit);
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") submit(); });
  }
  return {
    element: h("div", { class: "number-control" }, input, send),
    update(current, unavailable) {
      input.disabled = unavailable;
      send.disabled = unavailable;
      const value = numeric(current.state);
      if (!held && value !== null && document.activeElement !== input) input.value = String(value);
    },
  };
}

/**
 * @param {Call} call
 * @param {string} nameId
 * @returns {Control}
 */
function selectControl(call, nameId) {
  const select = h("select", { "aria-labelledby": nameId });
  let shown = "";
  select.addEventListener("change", () => call("select_option", { option: select.value }));
  return {
    element: select,
    update(current, unavailable) {
      const options = Array.isArray(current.attributes.options)
        ? current.attributes.options.map(String) : [];
      const key = options.join("\u0000");
      if (key !== shown) {
        shown = key;
        select.replaceChildren(...options.map((option) => h("option", { value: option }, option)));
      }
      if (document.activeElement !== select) select.value = current.state;
      select.disabled = unavailable;
    },
  };
}
