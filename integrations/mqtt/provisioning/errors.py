"""Errors of device provisioning, each an ``MqttError`` (so a ``GatehouseError``).

The web API answers a ``GatehouseError`` with its message, so every message here is
written for the person at the wizard: what failed and, where we know it, what to do.
"""

from __future__ import annotations

from ..errors import MqttError


class ProvisioningError(MqttError):
    """Base of the provisioning errors; also a bad request (unknown device type...)."""


class DynsecError(ProvisioningError):
    """The dynamic security plugin answered a command with an error string.

    ``command`` is the plugin's command name (``createClient``), ``error`` its own
    words (``Client already exists``), kept verbatim so they can be looked up in
    Mosquitto's documentation.
    """

    def __init__(self, command: str, error: str) -> None:
        super().__init__(f"the broker refused {command}: {error}")
        self.command = command
        self.error = error


class DynsecTimeout(ProvisioningError):
    """No answer from the plugin in time: not loaded, or the entry's user may not use
    ``$CONTROL/dynamic-security/v1`` (with MQTT 3.1.1 a refused publish is silent)."""


class DeviceNotFound(ProvisioningError):
    """No provisioned device of that name on this entry."""


class EntryNotChosen(ProvisioningError):
    """Which broker: no ``entry_id`` among several entries with a ``provisioning:``
    block, or one that is none of them. The message is the mqtt domain's rule's reason
    (``LoadedEntries.pick_entry_id``), ending with the choices as 'Title' (id)."""


class CertificatesUnavailable(ProvisioningError):
    """The certificate path was asked for but the certificate authority is missing."""


class TrafficError(MqttError):
    """A traffic monitor request that cannot be served (bad filter, unknown session)."""
