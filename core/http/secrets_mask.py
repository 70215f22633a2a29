"""Never send a secret back: config entry data and flow results are masked first.

A field is secret if the integration's schema marks it (``schema_json.secret_fields``,
found in the integration's ``config_schema`` and in an optional ``secret_fields``
attribute of the integration) or if its name says so (password, token, api_key...).
Masking is by key, recursively, so a secret nested in a list of devices is caught too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from ..schema_json import SECRET_KEY_NAMES, secret_fields

if TYPE_CHECKING:
    from ..host import Host

MASK: Final = "**********"
_SECRET_PARTS: Final = (
    "password", "passwd", "token", "secret", "api_key", "apikey", "passphrase",
    "private_key", "credential", "auth_key",
)


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return name in SECRET_KEY_NAMES or any(part in lowered for part in _SECRET_PARTS)


def _schemas_in(schema: Any, depth: int = 0) -> Iterable[Any]:
    """Every dict-like schema reachable through Any/All/list wrappers."""
    if depth > 8 or schema is None:
        return
    if isinstance(schema, vol.Schema):
        yield from _schemas_in(schema.schema, depth + 1)
    elif isinstance(schema, Mapping):
        yield schema
        for value in schema.values():
            yield from _schemas_in(value, depth + 1)
    elif isinstance(schema, list | tuple):
        for item in schema:
            yield from _schemas_in(item, depth + 1)
    else:
        for inner in getattr(schema, "validators", ()) or ():
            yield from _schemas_in(inner, depth + 1)


def secret_keys(host: Host, domain: str) -> set[str]:
    """Field names the integration of ``domain`` declares secret."""
    loaded = host.plugins.loaded().get(domain)
    if loaded is None:
        return set()
    found: set[str] = set()
    for schema in _schemas_in(loaded.config_schema):
        found |= secret_fields(schema)
    extra = getattr(loaded.integration, "secret_fields", ())
    found |= {str(name) for name in extra or ()}
    return found


def mask(value: Any, keys: set[str] | frozenset[str] = frozenset()) -> Any:
    """A copy of ``value`` with every secret field's value replaced by ``MASK``."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if (name in keys or is_secret_name(name)) and item not in (None, ""):
                out[name] = MASK
            else:
                out[name] = mask(item, keys)
        return out
    if isinstance(value, list | tuple):
        return [mask(item, keys) for item in value]
    return value
