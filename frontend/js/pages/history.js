// @ts-check
// History: time-series charts of several entities from the recorder
// (history/history_during_period), drawn as our own SVG: numbers as a line with its
// min/max axis, other states as a timeline of labelled bands. A range picker (last
// hour ... 7 days, or a custom start and end), zoom by dragging across a chart or with
// the Zoom in/out buttons (every chart follows), Reset zoom. The chosen entities and
// range live in the URL (#/history?entity_id=a,b&hours=24), so a view can be shared.

import { h, pageHead, uniqueId } from "../../public/js/dom.js";
import { numeric } from "../store.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 800;
const HEIGHT = 180;
const LEFT = 56;
const BOTTOM = 22;
const TOP = 8;
const RANGES = [[1, "Last hour"], [6, "Last 6 hours"], [24, "Last 24 hours"], [168, "Last 7 days"]];
const COLOURS = ["#2b7bb9", "#d1495b", "#66a182", "#edae49", "#8d6a9f", "#00798c"];

/** @typedef {{s: string, lu: number, a?: Record<string, unknown>}} Compressed */
/** @typedef {{t: number, s: string}} Sample */

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 * @param {URLSearchParams} params
 */
export function render(root, { store, connection }, params) {
  /** @type {string[]} */
  const chosen = (params.get("entity_id") || "").split(",").map((s) => s.trim()).filter(Boolean);
  if (chosen.length === 0) {
    chosen.push(...store.all().filter((s) => numeric(s.state) !== null).slice(0, 3)
      .map((s) => s.entity_id));
  }
  const listId = uniqueId("entities");
  const picker = h("input", { type: "text", list: listId, placeholder: "sensor.tank_level",
    "aria-label": "Entity to add" });
  const options = h("datalist", { id: listId },
    store.all().map((s) => h("option", { value: s.entity_id })));
  const rangeSelect = h("select", { "aria-label": "Range" },
    RANGES.map(([hours, label]) => h("option", { value: String(hours) }, String(label))),
    h("option", { value: "custom" }, "Custom"));
  rangeSelect.value = params.get("hours") || "24";
  const startInput = h("input", { type: "datetime-local", "aria-label": "Start" });
  const endInput = h("input", { type: "datetime-local", "aria-label": "End" });
  const custom = h("span", { class: "custom-range", hidden: true }, startInput, endInput);
  const zoomIn = h("button", { type: "button", class: "small" }, "Zoom in");
  const zoomOut = h("button", { type: "button", class: "small" }, "Zoom out");
  const reset = h("button", { type: "button", class: "small", hidden: true }, "Reset zoom");
  const chips = h("ul", { class: "chips", "aria-label": "Chosen entities" });
  const status = h("p", { class: "notice", role: "status", hidden: true });
  /** @param {string} text */
  const say = (text) => { status.textContent = text; status.hidden = text === ""; };
  const charts = h("div", { class: "charts" });
  const add = h("button", { type: "button", class: "small" }, "Add");
  for (const control of [picker, rangeSelect, startInput, endInput]) {
    control.style.width = "auto"; // the stylesheet makes inputs full width
  }
  picker.classList.add("search");
  root.append(pageHead("History"),
    h("div", { class: "inline-form" }, picker, options, add, rangeSelect, custom, zoomIn, zoomOut, reset),
    chips, status, charts);

  /** @type {Map<string, Sample[]>} */
  let data = new Map();
  /** The fetched period and the shown (zoomed) window, epoch seconds. */
  let period = { start: 0, end: 0 };
  let view = { start: 0, end: 0 };
  let alive = true;

  function periodFromControls() {
    const now = Date.now() / 1000;
    if (rangeSelect.value === "custom") {
      const start = Date.parse(startInput.value) / 1000;
      const end = Date.parse(endInput.value) / 1000;
      if (Number.isFinite(start) && Number.isFinite(end) && end > start) return { start, end };
    }
    const hours = Number(rangeSelect.value) || 24;
    return { start: now - hours * 3600, end: now };
  }

  async function load() {
    custom.hidden = rangeSelect.value !== "custom";
    period = periodFromControls();
    view = { ...period };
    reset.hidden = true;
    drawChips();
    if (chosen.length === 0) {
      say("Choose an entity to see its history.");
      charts.replaceChildren();
      return;
    }
    say("Loading…");
    try {
      const result = /** @type {Record<string, Compressed[]>} */ (await connection.command({
        type: "history/history_during_period",
        start_time: new Date(period.start * 1000).toISOString(),
        end_time: new Date(period.end * 1000).toISOString(),
        entity_ids: chosen, minimal_response: true, no_attributes: true,
        significant_changes_only: false,
      }));
      if (!alive) return;
      data = new Map(Object.entries(result || {}).map(([id, states]) =>
        [id, states.map((c) => ({ t: c.lu, s: c.s }))]));
      say("");
      draw();
    } catch (err) {
      say(`History is not available: ${err instanceof Error ? err.message : err}`);
      charts.replaceChildren();
    }
  }

  function drawChips() {
    chips.replaceChildren(...chosen.map((id) => h("li", {}, id, h("button", {
      type: "button", class: "small", "aria-label": `Remove ${id}`,
      onclick: () => { chosen.splice(chosen.indexOf(id), 1); remember(); load(); },
    }, "×"))));
  }

  function remember() {
    const query = new URLSearchParams({ entity_id: chosen.join(","), hours: rangeSelect.value });
    history.replaceState(null, "", `#/history?${query}`);
  }

  function draw() {
    charts.replaceChildren(...chosen.map((id, index) => {
      const samples = data.get(id) || [];
      const state = store.get(id);
      const name = String(state?.attributes.friendly_name || id);
      const unit = String(state?.attributes.unit_of_measurement || "");
      const headingId = uniqueId("chart");
      const chart = samples.every((x) => numeric(x.s) !== null) && samples.length > 0
        ? lineChart(samples, view, name, unit, COLOURS[index % COLOURS.length] || "#2b7bb9")
        : timeline(samples, view, name);
      enableDragZoom(chart);
      return h("section", { class: "panel chart", "aria-labelledby": headingId, dataset: { entityId: id } },
        h("h2", { id: headingId }, name), chart,
        samples.length === 0 ? h("p", { class: "empty" }, "Nothing recorded in this period.") : null);
    }));
  }

  /** @param {{start: number, end: number}} next */
  function zoomTo(next) {
    const span = Math.max(1, next.end - next.start);
    const start = Math.max(period.start, next.start);
    view = { start, end: Math.min(period.end, start + span) };
    reset.hidden = view.start === period.start && view.end === period.end;
    draw();
  }

  /** @param {SVGSVGElement} chart */
  function enableDragZoom(chart) {
    /** @type {number | null} */
    let from = null;
    const band = document.createElementNS(SVG, "rect");
    band.setAttribute("fill", "rgba(43,123,185,0.2)");
    band.setAttribute("y", String(TOP));
    band.setAttribute("height", String(HEIGHT - TOP - BOTTOM));
    /** @param {PointerEvent} event */
    const toX = (event) => {
      const box = chart.getBoundingClientRect();
      return ((event.clientX - box.left) / box.width) * WIDTH;
    };
    /** @param {number} x */
    const toT = (x) => view.start + ((Math.min(WIDTH, Math.max(LEFT, x)) - LEFT) / (WIDTH - LEFT))
      * (view.end - view.start);
    chart.addEventListener("pointerdown", (event) => {
      from = toX(event);
      band.setAttribute("x", String(from));
      band.setAttribute("width", "0");
      chart.append(band);
      chart.setPointerCapture(event.pointerId);
    });
    chart.addEventListener("pointermove", (event) => {
      if (from === null) return;
      const x = toX(event);
      band.setAttribute("x", String(Math.min(from, x)));
      band.setAttribute("width", String(Math.abs(x - from)));
    });
    chart.addEventListener("pointerup", (event) => {
      if (from === null) return;
      const x = toX(event);
      const [a, b] = [toT(Math.min(from, x)), toT(Math.max(from, x))];
      from = null;
      band.remove();
      if (b - a > 1) zoomTo({ start: a, end: b });
    });
  }

  zoomIn.addEventListener("click", () => {
    const quarter = (view.end - view.start) / 4;
    zoomTo({ start: view.start + quarter, end: view.end - quarter });
  });
  zoomOut.addEventListener("click", () => {
    const half = (view.end - view.start) / 2;
    zoomTo({ start: view.start - half, end: view.end + half });
  });
  reset.addEventListener("click", () => zoomTo(period));
  rangeSelect.addEventListener("change", () => {
    if (rangeSelect.value === "custom" && !startInput.value) {
      startInput.value = localInput(period.start);
      endInput.value = localInput(period.end);
    }
    remember();
    load();
  });
  startInput.addEventListener("change", load);
  endInput.addEventListener("change", load);
  const addChosen = () => {
    const id = picker.value.trim().toLowerCase();
    if (id && !chosen.includes(id)) chosen.push(id);
    picker.value = "";
    remember();
    load();
  };
  add.addEventListener("click", addChosen);
  picker.addEventListener("keydown", (event) => { if (event.key === "Enter") addChosen(); });
  load();
  return () => { alive = false; };
}

/** @param {number} seconds */
function localInput(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 */
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** @param {number} seconds @param {number} span */
function timeLabel(seconds, span) {
  const d = new Date(seconds * 1000);
  return span > 2 * 86400 ? d.toLocaleDateString([], { month: "short", day: "numeric" })
    : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** @param {{start: number, end: number}} view @returns {SVGSVGElement} */
function frame(view) {
  const chart = /** @type {SVGSVGElement} */ (svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "history-chart", role: "img", width: "100%",
  }));
  chart.append(svg("line", { x1: LEFT, x2: WIDTH, y1: HEIGHT - BOTTOM, y2: HEIGHT - BOTTOM,
    stroke: "#888", "stroke-width": 1 }));
  const span = view.end - view.start;
  for (let i = 0; i <= 4; i += 1) {
    const x = LEFT + (i / 4) * (WIDTH - LEFT);
    chart.append(svg("text", { x, y: HEIGHT - 6, "font-size": 11, fill: "#888",
      "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" },
    timeLabel(view.start + (i / 4) * span, span)));
  }
  return chart;
}

/**
 * A line of numeric samples within `view`, with its min and max on the axis; the
 * last value before the window starts the line, the last one is carried to the end.
 * @param {Sample[]} samples
 * @param {{start: number, end: number}} view
 * @param {string} name
 * @param {string} unit
 * @param {string} colour
 */
function lineChart(samples, view, name, unit, colour) {
  const chart = frame(view);
  const before = samples.filter((x) => x.t <= view.start).at(-1);
  const inside = samples.filter((x) => x.t > view.start && x.t <= view.end);
  const shown = [...(before ? [{ t: view.start, s: before.s }] : []), ...inside];
  const last = shown.at(-1);
  if (last && last.t < view.end) shown.push({ t: Math.min(view.end, Date.now() / 1000), s: last.s });
  const values = shown.map((x) => Number(x.s));
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const tSpan = view.end - view.start || 1;
  const plotH = HEIGHT - TOP - BOTTOM;
  const points = shown.map((x) => {
    const px = LEFT + ((x.t - view.start) / tSpan) * (WIDTH - LEFT);
    const py = max === min ? TOP + plotH / 2 : TOP + plotH - ((Number(x.s) - min) / span) * plotH;
    return `${px.toFixed(1)},${py.toFixed(1)}`;
  });
  const suffix = unit ? ` ${unit}` : "";
  chart.append(
    svg("text", { x: LEFT - 4, y: TOP + 10, "font-size": 11, fill: "#888", "text-anchor": "end" },
      `${round(max)}${suffix}`),
    svg("text", { x: LEFT - 4, y: TOP + plotH, "font-size": 11, fill: "#888", "text-anchor": "end" },
      `${round(min)}${suffix}`),
    svg("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2,
      "vector-effect": "non-scaling-stroke" }),
  );
  chart.setAttribute("aria-label", shown.length
    ? `${name}: ${inside.length} values, min ${round(min)}${suffix}, max ${round(max)}${suffix}`
    : `${name}: no values`);
  chart.dataset.min = String(min);
  chart.dataset.max = String(max);
  chart.dataset.values = String(inside.length);
  return chart;
}

/**
 * Non-numeric states as bands along the time axis, each labelled with its state.
 * @param {Sample[]} samples
 * @param {{start: number, end: number}} view
 * @param {string} name
 */
function timeline(samples, view, name) {
  const chart = frame(view);
  const tSpan = view.end - view.start || 1;
  const now = Date.now() / 1000;
  const colours = new Map();
  let shownCount = 0;
  samples.forEach((sample, index) => {
    const next = samples[index + 1];
    const from = Math.max(view.start, sample.t);
    const to = Math.min(view.end, next ? next.t : Math.min(view.end, now));
    if (to <= from) return;
    if (!colours.has(sample.s)) colours.set(sample.s, COLOURS[colours.size % COLOURS.length]);
    const x = LEFT + ((from - view.start) / tSpan) * (WIDTH - LEFT);
    const w = Math.max(1, ((to - from) / tSpan) * (WIDTH - LEFT));
    const band = svg("rect", { x, y: TOP + 20, width: w, height: 60, fill: colours.get(sample.s) });
    band.append(svg("title", {}, sample.s));
    chart.append(band);
    if (w > 30) {
      chart.append(svg("text", { x: x + 4, y: TOP + 54, "font-size": 12, fill: "#fff" }, sample.s));
    }
    shownCount += 1;
  });
  chart.setAttribute("aria-label", `${name}: ${shownCount} periods (${[...colours.keys()].join(", ") || "no values"})`);
  chart.dataset.values = String(shownCount);
  return chart;
}

/** @param {number} value */
function round(value) {
  return String(Math.round(value * 100) / 100);
}
