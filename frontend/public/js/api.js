// @ts-check
// The REST API: JSON in, JSON out, errors as ApiError (message + per-field errors).
// The session cookie goes along by itself; the browser adds the Origin header that the
// server requires on requests that change something.
//
// Public (under public/) because the login page uses it too: the onboarding and login
// calls are API calls like any other.

/**
 * `{field: message}`; the key `base` is about the data as a whole, not one field.
 * @typedef {Record<string, string>} FieldErrors
 */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {FieldErrors} [errors]
   */
  constructor(status, message, errors = {}) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

/**
 * The message of anything thrown (an Error's message, else the thing as text).
 * @param {unknown} err
 */
export function errorMessage(err) {
  return err instanceof Error ? err.message : String(err);
}

/** Go to the login page and come back here afterwards. */
export function toLogin() {
  const here = location.pathname + location.search + location.hash;
  location.assign(`/login.html?next=${encodeURIComponent(here)}`);
}

/**
 * The JSON answer. It is `unknown` on purpose: the server's data is not checked here,
 * so each caller states the shape it expects with a type cast, in one visible place.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<unknown>}
 */
async function request(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  /** @type {RequestInit} */
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  /** @type {unknown} */
  const data = type.includes("json") ? await response.json() : null;
  if (response.status === 401 && !path.startsWith("/auth/")) {
    toLogin();
  }
  if (!response.ok) {
    const problem = /** @type {{message?: string, errors?: FieldErrors} | null} */ (data);
    throw new ApiError(response.status,
      problem?.message || response.statusText || `Request failed (${response.status})`,
      problem?.errors);
  }
  return data;
}

export const api = {
  /** @param {string} path */
  get: (path) => request("GET", path),
  /** @param {string} path @param {unknown} [body] */
  post: (path, body = {}) => request("POST", path, body),
  /** @param {string} path */
  del: (path) => request("DELETE", path),
};

/**
 * What `api` offers, for modules that get it passed in (page contexts, panels).
 * @typedef {typeof api} Api
 */
