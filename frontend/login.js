// The public login page: onboarding on first start (no user yet), login otherwise.
// Both answers set the session cookie; then we go back to ?next= (a local path only).

const onboarding = document.getElementById("onboarding");
const login = document.getElementById("login");

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // Only a local path: "//evil.example" or "https://..." would be an open redirect.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.ok) return null;
  const data = await response.json().catch(() => ({}));
  return data.message || `Request failed (${response.status})`;
}

function handle(form, submit) {
  const error = form.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const problem = await submit(Object.fromEntries(new FormData(form)));
      if (problem === null) {
        location.assign(nextPath());
        return;
      }
      error.textContent = problem;
    } catch (err) {
      error.textContent = `Cannot reach the server: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
}

handle(onboarding, async ({ name, username, password, confirm }) => {
  if (password !== confirm) return "The passwords do not match.";
  const body = { username, password };
  if (name.trim()) body.name = name.trim();
  return post("/api/onboarding/users", body);
});

handle(login, ({ username, password }) => post("/auth/login", { username, password }));

async function start() {
  let done = true;
  try {
    const response = await fetch("/api/onboarding");
    done = (await response.json()).done;
  } catch {
    // Show the login form; its submit reports the connection problem.
  }
  const form = done ? login : onboarding;
  form.hidden = false;
  form.querySelector("input").focus();
}

start();
