// @ts-check
// Plugin panels (GET /api/panels): the server serves a panel's files at /panels/<name>/.
//
// kind "html":   the page is shown in a frame (the server allows framing by us only).
// kind "module": the ES module is imported; it must define the custom element
//                <gatehouse-panel-NAME>, which gets the property `gatehouse` =
//                {api, connection, store, user, config} before it is connected.

import { h } from "../../public/js/dom.js";

const DEFINE_TIMEOUT_MS = 5000;

/**
 * @param {HTMLElement} root
 * @param {import("../types.js").Context} ctx
 * @param {import("../types.js").Panel} panel
 * @returns {Promise<(() => void) | null>}
 */
export async function render(root, ctx, panel) {
  root.append(h("h1", { class: "visually-hidden" }, panel.title));
  if (panel.kind === "html") {
    root.append(h("iframe", { class: "panel-frame", src: panel.url, title: panel.title }));
    return null;
  }
  await import(panel.url);
  const tag = `gatehouse-panel-${panel.name}`;
  await Promise.race([
    customElements.whenDefined(tag),
    new Promise((_, reject) => setTimeout(
      () => reject(new Error(`the panel did not define <${tag}>`)), DEFINE_TIMEOUT_MS)),
  ]);
  const element = /** @type {HTMLElement & {gatehouse?: import("../types.js").Context}} */ (
    document.createElement(tag));
  element.gatehouse = ctx;
  root.append(element);
  return () => element.remove();
}
