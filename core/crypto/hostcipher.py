"""The host's tag cipher, from the core ``gatehouse: encryption:`` block.

::

    gatehouse:
      encryption:
        sensitive:                 # the house's entity filter (ENTITY_FILTER_FIELDS)
          include:
            entities: [sensor.recipe_setpoint]
            entity_globs: ["sensor.batch_*"]
            devices: [<device id>]
        publish: true              # exporters publish envelopes, not values

``sensitive`` chooses entities by id, glob, domain, device and area with the filter's
precedence; attribute conditions are refused, because whether a value is secret must
not change with the value's own state. Nothing chosen (no block, or an empty one)
means no sensitive entity: ``tag_cipher`` returns None and nothing is encrypted.
Sensitive values are encrypted at rest (the outbox) always, and on the wire (mqtt
statestream, nats fleet) with ``publish: true``. The state machine, the REST and
WebSocket API and the UI keep plaintext: they are in memory and behind login.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from ..const import CORE_DOMAIN
from ..keys import HostKey
from ..util.entityfilter import CONF_EXCLUDE, CONF_INCLUDE, ENTITY_FILTER_SCHEMA
from .cipher import TagCipher
from .keyring import Keyring, keyring_path

if TYPE_CHECKING:
    from ..host import Host


def _no_attribute_conditions(value: Mapping[str, Any]) -> Mapping[str, Any]:
    for side in (CONF_INCLUDE, CONF_EXCLUDE):
        if (value.get(side) or {}).get("attributes"):
            raise vol.Invalid(
                "attribute conditions cannot choose sensitive entities: whether a value "
                "is secret must not depend on its state", path=[side, "attributes"],
            )
    return value


ENCRYPTION_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("sensitive", default=dict): vol.All(
            ENTITY_FILTER_SCHEMA, _no_attribute_conditions
        ),
        vol.Optional("publish", default=False): bool,
    }
)
"""``gatehouse: encryption:`` (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class _Ciphers:
    configured: TagCipher | None
    always: TagCipher


_CIPHERS: Final[HostKey[_Ciphers]] = HostKey("core.tag_cipher")


def host_keyring(host: Host) -> Keyring:
    """The keyring of ``host``'s config directory."""
    return Keyring(keyring_path(host.config_dir))


def _ciphers(host: Host) -> _Ciphers:
    found = host.data.get(_CIPHERS)
    if found is None:
        core = host.config.get(CORE_DOMAIN) or {}
        block = core.get("encryption") if isinstance(core, Mapping) else None
        found = _build(host, ENCRYPTION_SCHEMA(dict(block)) if block else None)
        host.data[_CIPHERS] = found
    return found


def _build(host: Host, settings: Mapping[str, Any] | None) -> _Ciphers:
    # Imported here: helpers import the outbox, whose host module imports this one.
    from ..helpers.entityfilter import EntityFilter

    keyring = host_keyring(host)
    if settings is None:
        return _Ciphers(None, TagCipher(keyring))
    chosen = EntityFilter(host, settings["sensitive"])
    if chosen.empty:
        return _Ciphers(None, TagCipher(keyring))
    cipher = TagCipher(keyring, sensitive=chosen.selects, publish=bool(settings["publish"]))
    return _Ciphers(cipher, cipher)


def encryption_from_raw(host: Host, block: Any) -> str | None:
    """Set the host's encryption from the raw ``encryption:`` block of a ``gatehouse:``
    section that failed validation as a whole (the loader then drops the section).

    Fail closed: a block that validates on its own is used as written (another key's
    mistake must not switch encryption off); one that does not makes every entity
    sensitive and published as envelopes, because which values were meant to be
    secret is unknown. Returns why it failed closed, or None.
    """
    if block is None:
        return None
    try:
        settings = ENCRYPTION_SCHEMA(dict(block) if isinstance(block, Mapping) else block)
    except (vol.Invalid, TypeError, ValueError) as err:
        cipher = TagCipher(host_keyring(host), sensitive=lambda _entity_id: True, publish=True)
        host.data[_CIPHERS] = _Ciphers(cipher, cipher)
        return str(err)
    host.data[_CIPHERS] = _build(host, settings)
    return None


def tag_cipher(host: Host) -> TagCipher | None:
    """The host's cipher, or None when no entity is configured sensitive."""
    return _ciphers(host).configured


def decrypting_cipher(host: Host) -> TagCipher:
    """A cipher that can always decrypt: ``tag_cipher(host)``, or a decrypt-only one
    on the host's keyring (data encrypted before the configuration changed)."""
    return _ciphers(host).always


def configure_encryption(host: Host, settings: Mapping[str, Any] | None) -> TagCipher | None:
    """Replace the host's encryption settings (a validated-or-not ``encryption:`` block;
    None: nothing sensitive). For tests and tools; takes effect for callers that ask
    ``tag_cipher`` afterwards."""
    built = _build(host, ENCRYPTION_SCHEMA(dict(settings)) if settings else None)
    host.data[_CIPHERS] = built
    return built.configured
