// @ts-check
// The shapes of the server's JSON, for the type checker only (tsc --noEmit, see
// tsconfig.json). No code: modules import these with `import("./types.js").Name`.
// `api` answers `unknown`; a page casts an answer to one of these where it reads it.

/** @typedef {import("../public/js/api.js").FieldErrors} FieldErrors */

/**
 * One field of a serialised voluptuous schema (core/schema_json.py).
 * @typedef {object} SchemaField
 * @property {string} name
 * @property {string} [type]  string | integer | float | boolean | select | list | object
 * @property {string} [label]  the UI's own forms name their fields
 * @property {boolean} [required]
 * @property {unknown} [default]
 * @property {unknown[]} [options]  a select's choices
 * @property {string[]} [option_labels]  the UI's own forms name a select's choices
 * @property {number} [min]
 * @property {number} [max]
 * @property {number} [min_length]
 * @property {number} [max_length]
 * @property {boolean} [secret]
 * @property {unknown} [description]
 * @property {unknown} [example]
 * @property {{type?: string}} [items]  a list's item type
 */

/**
 * A config or options flow's answer (form, create_entry or abort).
 * @typedef {object} FlowResult
 * @property {string} type
 * @property {string} [flow_id]
 * @property {string} [step_id]
 * @property {SchemaField[]} [data_schema]
 * @property {FieldErrors} [errors]
 * @property {Record<string, unknown>} [description_placeholders]
 * @property {string} [reason]
 * @property {string} [title]
 * @property {string} [entry_state]
 */

/**
 * What a user or read-only user may touch (core/permissions.py): entity-id globs to
 * read and control (control left out: the same as read), `domain.service` globs to call.
 * @typedef {object} Policy
 * @property {string[]} read
 * @property {string[]} [control]
 * @property {string[]} services
 */

/**
 * @typedef {object} User
 * @property {string} id
 * @property {string} name
 * @property {string} username
 * @property {string} role  owner | admin | user | read_only
 * @property {Policy} policy
 * @property {boolean} is_owner  derived from the role (Home Assistant's clients read it)
 * @property {boolean} is_admin  derived from the role
 */

/**
 * A plugin panel (GET /api/panels).
 * @typedef {object} Panel
 * @property {string} name
 * @property {string} title
 * @property {string} kind  html | module
 * @property {string} url
 */

/**
 * An entity's state as the store keeps it (expanded from subscribe_entities).
 * @typedef {object} EntityState
 * @property {string} entity_id
 * @property {string} state
 * @property {Record<string, unknown>} attributes
 * @property {number} last_changed
 * @property {number} last_updated
 */

/**
 * A config entry as the API lists it.
 * @typedef {object} ConfigEntryInfo
 * @property {string} entry_id
 * @property {string} domain
 * @property {string} title
 * @property {string} state
 * @property {boolean} disabled
 * @property {boolean} supports_options
 * @property {string | null} [reason]
 * @property {number | null} [next_retry_at]
 * @property {EntryHealth | null} [health]  while loaded, if the integration reports it
 */

/**
 * A loaded entry's link to its peer (core/config_entry.py EntryHealth): connected or
 * not since `since`, and the last error with when it happened (kept after a reconnect).
 * @typedef {object} EntryHealth
 * @property {boolean} connected
 * @property {number} since
 * @property {string | null} last_error
 * @property {number | null} last_error_at
 */

/**
 * An integration that can be added from the UI.
 * @typedef {object} FlowHandler
 * @property {string} domain
 * @property {string} name
 */

/**
 * @typedef {object} EntityRegistryEntry
 * @property {string} entity_id
 * @property {string | null} name
 * @property {string | null} original_name
 * @property {string} platform
 * @property {string | null} device_id
 * @property {string | null} disabled_by
 */

/**
 * @typedef {object} DeviceRegistryEntry
 * @property {string} id
 * @property {string | null} name
 * @property {string | null} name_by_user
 * @property {string | null} manufacturer
 * @property {string | null} model
 * @property {string | null} disabled_by
 */

/**
 * A service as GET /api/services describes it.
 * @typedef {object} ServiceInfo
 * @property {string} name
 * @property {string} [description]
 * @property {SchemaField[]} form
 * @property {string} supports_response  none | optional | only
 * @property {boolean} [admin_only]  refused to non-admins whatever their policy
 */

/**
 * @typedef {object} ServiceDomain
 * @property {string} domain
 * @property {Record<string, ServiceInfo>} services
 */

/**
 * A long-lived access token (the secret itself only in the answer that made it).
 * @typedef {object} Token
 * @property {string} id
 * @property {string} name
 * @property {number | null} created_at
 * @property {number | null} last_used_at
 * @property {string | null} [scope]  "metrics": reads /metrics and nothing else
 * @property {string} [token]
 */

/**
 * What each page (and each module panel) gets.
 * @typedef {object} Context
 * @property {import("../public/js/api.js").Api} api
 * @property {import("./ws.js").Connection} connection
 * @property {import("./store.js").EntityStore} store
 * @property {User} user
 * @property {unknown} config  GET /api/config, as the server sends it
 */

export {};
