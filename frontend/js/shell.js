// @ts-check
// The shell's own controls, apart from routing (app.js): the menu button that opens and
// closes the navigation on narrow screens, and the light/dark toggle.
//
// Navigation: below the CSS breakpoint the sidebar is hidden until the menu button
// opens it (body.nav-open); choosing a page, Escape, or a click outside closes it again.
// On wide screens the button is hidden by CSS and the sidebar always shows.
//
// Theme: the stylesheet follows `prefers-color-scheme`; the toggle overrides it with
// <html data-theme="dark|light">, remembered in localStorage, so the choice survives
// reloads. Loaded as its own module from index.html, so it works before app.js has
// talked to the server. (The login page follows the system's scheme only: it may load
// nothing outside public/.)

export const THEME_KEY = "gatehouse.theme";

/** The stored choice, or null: follow the system. */
export function storedTheme() {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return value === "dark" || value === "light" ? value : null;
  } catch {
    return null; // storage refused (privacy mode): follow the system
  }
}

/** Put the stored choice (if any) on <html>. */
export function applyStoredTheme() {
  const theme = storedTheme();
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

/** Whether the page shows dark now: the stored choice, else the system's. */
function isDark() {
  const theme = storedTheme();
  if (theme) return theme === "dark";
  return window.matchMedia("(prefers-color-scheme: dark)").matches;
}

/** @param {HTMLButtonElement} button */
function setupThemeToggle(button) {
  const show = () => {
    const dark = isDark();
    button.setAttribute("aria-pressed", String(dark));
    button.title = dark ? "Switch to light mode" : "Switch to dark mode";
  };
  button.addEventListener("click", () => {
    const next = isDark() ? "light" : "dark";
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      // not stored: the choice lasts until the page reloads
    }
    document.documentElement.dataset.theme = next;
    show();
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", show);
  show();
}

/**
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} sidebar
 */
function setupMenu(button, sidebar) {
  /** @param {boolean} open */
  const setOpen = (open) => {
    document.body.classList.toggle("nav-open", open);
    button.setAttribute("aria-expanded", String(open));
  };
  button.addEventListener("click", () => {
    const open = !document.body.classList.contains("nav-open");
    setOpen(open);
    if (open) sidebar.querySelector("a")?.focus();
  });
  sidebar.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("a")) setOpen(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
      setOpen(false);
      button.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!document.body.classList.contains("nav-open")) return;
    const target = event.target;
    if (target instanceof Node && !sidebar.contains(target) && !button.contains(target)) setOpen(false);
  });
  window.addEventListener("hashchange", () => setOpen(false));
}

applyStoredTheme();
const themeButton = document.getElementById("theme");
if (themeButton instanceof HTMLButtonElement) setupThemeToggle(themeButton);
const menuButton = document.getElementById("menu");
const sidebar = document.getElementById("sidebar");
if (menuButton instanceof HTMLButtonElement && sidebar) setupMenu(menuButton, sidebar);
