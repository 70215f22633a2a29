// The REST API: JSON in, JSON out, errors as ApiError (message + per-field errors).
// The session cookie goes along by itself; the browser adds the Origin header that the
// server requires on requests that change something.

export class ApiError extends Error {
  constructor(status, message, errors = {}) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

/** Go to the login page and come back here afterwards. */
export function toLogin() {
  const here = location.pathname + location.search + location.hash;
  location.assign(`/login.html?next=${encodeURIComponent(here)}`);
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (response.status === 401 && !path.startsWith("/auth/")) {
    toLogin();
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.message || response.statusText, data?.errors);
  }
  return data;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  del: (path) => request("DELETE", path),
};
