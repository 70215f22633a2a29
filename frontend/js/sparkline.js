// @ts-check
// A small SVG trend line of recent values ({t, v} points, oldest first), its min/max
// text, and the history that fills it on page load (the recorder's
// history/history_during_period, when the recorder is loaded).

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 100;
const HEIGHT = 30;

/** @typedef {{t: number, v: number}} Point  a value and when it came (epoch seconds) */
/** @typedef {{s: string, lu: number}} HistoryState  a compressed state of the recorder */

/**
 * A new trend line of `points`.
 * @param {Point[]} points
 * @returns {SVGSVGElement}
 */
export function sparkline(points) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.append(document.createElementNS(SVG, "polyline"));
  updateSparkline(svg, points);
  return svg;
}

/**
 * Redraw `svg` (made by sparkline()) with `points`. One point (a value that has not
 * changed) is a flat line up to now.
 * @param {SVGSVGElement} svg
 * @param {Point[]} points
 */
export function updateSparkline(svg, points) {
  const line = /** @type {SVGPolylineElement} */ (svg.firstChild);
  const first = points[0];
  if (!first) {
    line.setAttribute("points", "");
    svg.setAttribute("aria-label", "Trend: no values yet");
    return;
  }
  const drawn = points.length === 1 ? [first, { t: Math.max(first.t + 1, Date.now() / 1000), v: first.v }] : points;
  const last = /** @type {Point} */ (drawn[drawn.length - 1]);
  const { min, max } = range(points);
  const span = max - min || 1;
  const t0 = first.t;
  const tSpan = last.t - t0 || 1;
  const coords = drawn.map((p) => {
    const x = ((p.t - t0) / tSpan) * WIDTH;
    const y = max === min ? HEIGHT / 2 : HEIGHT - 2 - ((p.v - min) / span) * (HEIGHT - 4);
    return `${x.toFixed(2)},${y.toFixed(2)}`;
  });
  line.setAttribute("points", coords.join(" "));
  svg.setAttribute("aria-label", `Trend of the last ${points.length} values: ${min} to ${max}`);
  svg.dataset.points = String(points.length);
}

/**
 * The lowest and highest value of `points` (0, 0 for none).
 * @param {Point[]} points
 */
export function range(points) {
  if (points.length === 0) return { min: 0, max: 0 };
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) {
    if (p.v < min) min = p.v;
    if (p.v > max) max = p.v;
  }
  return { min, max };
}

/**
 * "min 1.5 · max 7" for a card, or "" with no values.
 * @param {Point[]} points
 */
export function rangeText(points) {
  if (points.length === 0) return "";
  const { min, max } = range(points);
  return `min ${round(min)} · max ${round(max)}`;
}

/** @param {number} value */
function round(value) {
  return String(Math.round(value * 100) / 100);
}

/**
 * The recorded numeric values of `entityIds` over the last `seconds`, oldest first.
 * @param {{command(message: Record<string, unknown>): Promise<unknown>}} connection
 * @param {string[]} entityIds
 * @param {number} seconds
 * @returns {Promise<Map<string, Point[]>>}
 */
export async function loadHistory(connection, entityIds, seconds) {
  /** @type {Map<string, Point[]>} */
  const found = new Map();
  if (entityIds.length === 0) return found;
  const start = new Date(Date.now() - seconds * 1000).toISOString();
  const result = /** @type {Record<string, HistoryState[]>} */ (await connection.command({
    type: "history/history_during_period", start_time: start, entity_ids: entityIds,
    minimal_response: true, no_attributes: true,
  }));
  for (const [id, states] of Object.entries(result || {})) {
    /** @type {Point[]} */
    const points = [];
    for (const state of states) {
      const value = Number(state.s);
      if (state.s !== "" && Number.isFinite(value)) points.push({ t: state.lu, v: value });
    }
    found.set(id, points);
  }
  return found;
}
