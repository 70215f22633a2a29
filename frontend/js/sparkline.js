// @ts-check
// A small SVG trend line of recent values ({t, v} points, oldest first).

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 100;
const HEIGHT = 30;

/** @typedef {{t: number, v: number}} Point  a value and when it came (epoch seconds) */

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
 * Redraw `svg` (made by sparkline()) with `points`.
 * @param {SVGSVGElement} svg
 * @param {Point[]} points
 */
export function updateSparkline(svg, points) {
  const line = /** @type {SVGPolylineElement} */ (svg.firstChild);
  const first = points[0];
  const last = points[points.length - 1];
  if (points.length < 2 || !first || !last) {
    line.setAttribute("points", "");
    svg.setAttribute("aria-label", "Trend: not enough values yet");
    return;
  }
  const values = points.map((p) => p.v);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const t0 = first.t;
  const tSpan = last.t - t0 || 1;
  const coords = points.map((p) => {
    const x = ((p.t - t0) / tSpan) * WIDTH;
    const y = HEIGHT - 2 - ((p.v - min) / span) * (HEIGHT - 4);
    return `${x.toFixed(2)},${y.toFixed(2)}`;
  });
  line.setAttribute("points", coords.join(" "));
  svg.setAttribute("aria-label", `Trend of the last ${points.length} values: ${min} to ${max}`);
  svg.dataset.points = String(points.length);
}
