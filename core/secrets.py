"""Which config fields are secrets, and what their values are.

One answer for every place that must keep secrets out of sight: the API masks them
(``core/http/secrets_mask.py``) and logging redacts their values (``logging_setup``).
A field is secret if the integration's schema marks it
(``vol.Required("password", description={"secret": True})``, found through
``Any``/``All``/list wrappers), if the integration lists it in a ``secret_fields``
attribute, or if its name says so (password, token, api_key...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from .schema_json import SECRET_KEY_NAMES, secret_fields

if TYPE_CHECKING:
    from .host import Host

_SECRET_PARTS: Final = (
    "password", "passwd", "token", "secret", "api_key", "apikey", "passphrase",
    "private_key", "credential", "auth_key", "seed",
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


def secret_values(value: Any, keys: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Every string stored under a secret field of ``value``, recursively."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            if name in keys or is_secret_name(name):
                if isinstance(item, str) and item:
                    found.append(item)
            else:
                found.extend(secret_values(item, keys))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(secret_values(item, keys))
    return found
