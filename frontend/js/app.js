// @ts-check
// The application shell: who is logged in, the live connection, navigation and routing.
//
// Routes are hashes: #/overview, #/integrations, #/entities, #/services?service=d.s,
// #/users, #/settings and #/panel/<name> for plugin panels. Each page is a module with
// `render(main, ctx, params)`, which may return a cleanup function for when the user
// leaves the page. ctx = {api, connection, store, user, config}.
//
// Pages for admins are left out of the navigation for other users, and say so instead
// of loading if such a user goes there anyway (the server refuses their calls with 403
// whatever the UI shows).

import { api, errorMessage } from "../public/js/api.js";
import { h } from "../public/js/dom.js";
import { prefetchPlacement } from "./grouping.js";
import { EntityStore } from "./store.js";
import { Connection } from "./ws.js";

/** @typedef {import("./types.js").Context} Context */
/** @typedef {import("./types.js").Panel} Panel */
/** @typedef {import("./types.js").User} User */
/** @typedef {(() => void) | null} Cleanup */

/**
 * A page module: renders into `view`, may return what to do when the user leaves.
 * @typedef {{render(view: HTMLElement, ctx: Context, params: URLSearchParams):
 *   Cleanup | void | Promise<Cleanup | void>}} PageModule
 */

/**
 * `component`: shown only while that integration is loaded (GET /api/config components).
 * @type {{path: string, title: string, module: string, admin?: boolean, component?: string}[]}
 */
const PAGES = [
  { path: "overview", title: "Overview", module: "./pages/overview.js" },
  { path: "integrations", title: "Integrations", module: "./pages/integrations.js", admin: true },
  { path: "entities", title: "Entities & devices", module: "./pages/entities.js", admin: true },
  { path: "services", title: "Services", module: "./pages/services.js" },
  { path: "automations", title: "Automations", module: "./pages/automations.js", admin: true,
    component: "automation" },
  { path: "users", title: "Users", module: "./pages/users.js", admin: true },
  { path: "quarantine", title: "Quarantine", module: "./pages/quarantine.js", admin: true,
    component: "schema_guard" },
  { path: "audit", title: "Audit log", module: "./pages/audit.js", admin: true,
    component: "audit" },
  { path: "devices_provision", title: "Provision devices", module: "./pages/devices_provision.js",
    admin: true, component: "mqtt" },
  { path: "traffic", title: "Live traffic", module: "./pages/traffic.js", admin: true,
    component: "mqtt" },
  { path: "history", title: "History", module: "./pages/history.js", component: "recorder" },
  { path: "logbook", title: "Logbook", module: "./pages/logbook.js", component: "recorder" },
  { path: "settings", title: "Settings", module: "./pages/settings.js" },
];

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
/** @type {Cleanup} */
let cleanup = null;
/** @type {Panel[]} */
let panels = [];

/**
 * The element with `id`, which the shell (index.html) always has.
 * @param {string} id
 */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

async function start() {
  // Everything the first page needs is asked for at once: the socket (and through it
  // the states snapshot, and the overview's registry lists) does not wait for the
  // REST answers, nor the first page's module for either.
  const connection = new Connection();
  const store = new EntityStore();
  showLiveState(connection);
  const first = parseHash().path;
  const firstPage = PAGES.find((p) => p.path === first);
  if (firstPage) import(firstPage.module).catch(() => {}); // route() reports a failure
  const live = connection.connect().then(() => {
    // The snapshot first: the server takes longest over it, and the page parses it
    // while the server encodes the registry lists (the other way round, the bigger
    // parse came last).
    const snapshot = store.start(connection);
    if (first === "overview") prefetchPlacement(connection); // beside the snapshot
    return snapshot;
  });
  const [user, config, panelList] = await Promise.all([
    api.get("/api/auth/current_user"),
    api.get("/api/config"),
    api.get("/api/panels"),
  ]);
  panels = /** @type {Panel[]} */ (panelList);
  const me = /** @type {User} */ (user);
  byId("user").textContent = me.name;
  byId("logout").addEventListener("click", logout);
  await live;
  showCertificateWarning(store);

  /** @type {Context} */
  const ctx = { api, connection, store, user: me, config };
  buildNav(me, config);
  window.addEventListener("hashchange", () => route(ctx));
  await route(ctx);
}

/** @param {Connection} connection */
function showLiveState(connection) {
  const live = byId("live");
  const labels = { connecting: "Connecting…", connected: "Live", disconnected: "Reconnecting…" };
  connection.addEventListener("statechange", () => {
    live.dataset.state = connection.state;
    live.textContent = labels[connection.state];
  });
}

/**
 * A banner in the top bar while a certificate (or the CRL) expires within the pki
 * integration's warn_days: its problem sensor is on. The sensor is recognised by its
 * `certificates_expiring` attribute, so a renamed entity still shows the banner.
 * @param {EntityStore} store
 */
function showCertificateWarning(store) {
  const banner = h("a", { class: "notice", role: "alert", href: "#/entities", hidden: true,
    dataset: { banner: "certificates" } });
  // Through the CSSOM: the Content-Security-Policy refuses style attributes.
  Object.assign(banner.style, { padding: ".3rem .7rem", color: "#5c4400" });
  byId("live").before(banner);
  const update = () => {
    /** @type {string[]} */
    const soon = [];
    for (const state of store.states.values()) {
      const expiring = state.attributes["certificates_expiring"];
      if (state.state !== "on" || !Array.isArray(expiring)) continue;
      for (const item of expiring) {
        const { name, days_left: days } = /** @type {{name?: unknown, days_left?: unknown}} */ (item);
        soon.push(`${String(name)} (${String(days)} d)`);
      }
    }
    banner.hidden = soon.length === 0;
    const more = soon.length > 2 ? ` and ${soon.length - 2} more` : "";
    banner.textContent = `Certificates expire soon: ${soon.slice(0, 2).join(", ")}${more}`;
  };
  store.addEventListener("change", update);
  update();
}

/**
 * Whether an integration is loaded, by GET /api/config.
 * @param {unknown} config
 * @param {string | undefined} component
 */
function hasComponent(config, component) {
  if (component === undefined) return true;
  const components = /** @type {{components?: unknown}} */ (config).components;
  return Array.isArray(components) && components.includes(component);
}

/**
 * @param {User} user
 * @param {unknown} config
 */
function buildNav(user, config) {
  const nav = byId("nav");
  for (const page of PAGES) {
    if (page.admin && !user.is_admin) continue;
    if (!hasComponent(config, page.component)) continue;
    nav.append(h("li", {}, h("a", { href: `#/${page.path}`, dataset: { route: page.path } },
      page.title)));
  }
  const panelNav = byId("panel-nav");
  byId("panels-heading").hidden = panels.length === 0;
  for (const panel of panels) {
    panelNav.append(h("li", {}, h("a", {
      href: `#/panel/${panel.name}`, dataset: { route: `panel/${panel.name}` },
    }, panel.title)));
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "") || "overview";
  const [path = "", query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}

let routeCount = 0;

/** @param {Context} ctx */
async function route(ctx) {
  const count = ++routeCount;
  const { path, params } = parseHash();
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (!(link instanceof HTMLElement)) continue;
    if (link.dataset.route === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Each visit renders into a fresh view: a slow page that finishes after the user
  // moved on writes into a detached element and is cleaned up at once.
  const view = h("div", { class: "view" });
  // Below whatever the page has drawn so far, until its render() settles (module
  // loading, first data): every page shows that it is loading, none needs code for it.
  const loading = h("p", { class: "loading page-loading", role: "status" }, "Loading…");
  main.replaceChildren(view, loading);
  /** @type {Cleanup} */
  let done = null;
  try {
    done = await renderPage(view, ctx, path, params);
  } catch (err) {
    view.append(h("p", { class: "notice", role: "alert" }, `This page failed: ${errorMessage(err)}`));
  } finally {
    loading.remove();
  }
  if (count !== routeCount) {
    if (done) done();
    return;
  }
  cleanup = done;
  main.focus({ preventScroll: true });
}

/**
 * @param {HTMLElement} view
 * @param {Context} ctx
 * @param {string} path
 * @param {URLSearchParams} params
 * @returns {Promise<Cleanup>}
 */
async function renderPage(view, ctx, path, params) {
  const page = PAGES.find((p) => p.path === path);
  if (page) {
    document.title = `${page.title} · Gatehouse`;
    if (page.admin && !ctx.user.is_admin) {
      view.append(h("h1", {}, page.title),
        h("p", { class: "notice", role: "status" }, "This page is for administrators."));
      return null;
    }
    if (!hasComponent(ctx.config, page.component)) {
      view.append(h("h1", {}, page.title),
        h("p", { class: "notice", role: "status" }, `This page needs the ${page.component} integration.`));
      return null;
    }
    const module = /** @type {PageModule} */ (await import(page.module));
    return (await module.render(view, ctx, params)) || null;
  }
  const panel = panels.find((p) => `panel/${p.name}` === path);
  if (panel) {
    document.title = `${panel.title} · Gatehouse`;
    const module = await import("./pages/panel.js");
    return (await module.render(view, ctx, panel)) || null;
  }
  document.title = "Not found · Gatehouse";
  view.append(h("h1", {}, "Not found"), h("p", {}, "There is no page here. ",
    h("a", { href: "#/overview" }, "Go to the overview"), "."));
  return null;
}

async function logout() {
  try {
    await api.post("/auth/logout");
  } finally {
    location.assign("/login.html");
  }
}

start().catch((err) => {
  main.append(h("p", { class: "notice", role: "alert" }, `Gatehouse failed to start: ${errorMessage(err)}`));
});
