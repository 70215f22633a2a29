"""Never send a secret back: config entry data and flow results are masked first.

A field is secret if the integration's schema marks it (``schema_json.secret_fields``,
found in the integration's ``config_schema`` and in an optional ``secret_fields``
attribute of the integration) or if its name says so (password, token, api_key...).
Masking is by key, recursively, so a secret nested in a list of devices is caught too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..secrets import is_secret_name, secret_keys

__all__ = ["MASK", "is_secret_name", "mask", "secret_keys"]

MASK: Final = "**********"
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
