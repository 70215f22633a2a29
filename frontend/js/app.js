// The application shell: who is logged in, the live connection, navigation and routing.
//
// Routes are hashes: #/overview, #/integrations, #/entities, #/services?service=d.s,
// #/settings and #/panel/<name> for plugin panels. Each page is a module with
// `render(main, ctx, params)`, which may return a cleanup function for when the user
// leaves the page. ctx = {api, connection, store, user, config}.

import { api } from "./api.js";
import { h } from "./dom.js";
import { EntityStore } from "./store.js";
import { Connection } from "./ws.js";

const PAGES = [
  { path: "overview", title: "Overview", module: "./pages/overview.js" },
  { path: "integrations", title: "Integrations", module: "./pages/integrations.js", admin: true },
  { path: "entities", title: "Entities & devices", module: "./pages/entities.js", admin: true },
  { path: "services", title: "Services", module: "./pages/services.js" },
  { path: "settings", title: "Settings", module: "./pages/settings.js" },
];

const main = document.getElementById("main");
let cleanup = null;
let panels = [];

async function start() {
  const [user, config, panelList] = await Promise.all([
    api.get("/api/auth/current_user"),
    api.get("/api/config"),
    api.get("/api/panels"),
  ]);
  panels = panelList;
  document.getElementById("user").textContent = user.name;
  document.getElementById("logout").addEventListener("click", logout);

  const connection = new Connection();
  const store = new EntityStore();
  showLiveState(connection);
  await connection.connect();
  await store.start(connection);

  const ctx = { api, connection, store, user, config };
  buildNav(user);
  window.addEventListener("hashchange", () => route(ctx));
  await route(ctx);
}

function showLiveState(connection) {
  const live = document.getElementById("live");
  const labels = { connecting: "Connecting…", connected: "Live", disconnected: "Reconnecting…" };
  connection.addEventListener("statechange", () => {
    live.dataset.state = connection.state;
    live.textContent = labels[connection.state];
  });
}

function buildNav(user) {
  const nav = document.getElementById("nav");
  for (const page of PAGES) {
    if (page.admin && !user.is_admin) continue;
    nav.append(h("li", {}, h("a", { href: `#/${page.path}`, dataset: { route: page.path } },
      page.title)));
  }
  const panelNav = document.getElementById("panel-nav");
  document.getElementById("panels-heading").hidden = panels.length === 0;
  for (const panel of panels) {
    panelNav.append(h("li", {}, h("a", {
      href: `#/panel/${panel.name}`, dataset: { route: `panel/${panel.name}` },
    }, panel.title)));
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "") || "overview";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}

let routeCount = 0;

async function route(ctx) {
  const count = ++routeCount;
  const { path, params } = parseHash();
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.route === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Each visit renders into a fresh view: a slow page that finishes after the user
  // moved on writes into a detached element and is cleaned up at once.
  const view = h("div", { class: "view" });
  main.replaceChildren(view);
  let done = null;
  try {
    done = await renderPage(view, ctx, path, params);
  } catch (err) {
    view.append(h("p", { class: "notice", role: "alert" }, `This page failed: ${err.message}`));
  }
  if (count !== routeCount) {
    if (done) done();
    return;
  }
  cleanup = done;
  main.focus({ preventScroll: true });
}

async function renderPage(view, ctx, path, params) {
  const page = PAGES.find((p) => p.path === path);
  if (page) {
    document.title = `${page.title} · Gatehouse`;
    const module = await import(page.module);
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
  main.append(h("p", { class: "notice", role: "alert" }, `Gatehouse failed to start: ${err.message}`));
});
