"""Checks on what a person types into ``gatehouse certs``: names, hosts, URIs, days.

Refused early with the field named, because a certificate with a malformed SAN is
issued "successfully" and only fails later, in a TLS handshake far away, with a
message that never points back here.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import PkiInputError

MAX_DAYS = 36500
"""A hundred years: long enough for any CA, short enough to stay a real date."""

_DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}")
"""A device name becomes the certificate CN and, through Mosquitto's
``use_identity_as_username``, the MQTT username: no ``/``, ``+``, ``#`` or spaces, which
would break topic templates and ACL patterns built from it."""

_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def check_days(days: int, what: str = "days") -> int:
    """Validity in whole days, 1 to ``MAX_DAYS``."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise PkiInputError(f"{what} must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
    return days


def check_common_name(name: str, what: str = "common name") -> str:
    """A CA common name: 1 to 64 printable characters (X.520's upper bound for CN)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise PkiInputError(f"{what} must be 1 to 64 characters, not {name!r}")
    if any(not ch.isprintable() for ch in name):
        raise PkiInputError(f"{what} {name!r} contains control characters")
    return name


def check_device_name(name: str) -> str:
    """A device name: letters, digits and ``. _ @ : -``, at most 64, starting alphanumeric."""
    if not isinstance(name, str) or _DEVICE_NAME.fullmatch(name) is None:
        raise PkiInputError(
            f"device name {name!r} is not acceptable: use 1 to 64 letters, digits and "
            "'. _ @ : -', starting with a letter or digit (it becomes the MQTT username)"
        )
    return name


def parse_host(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str:
    """An IP address (returned as such) or a DNS name (a ``*.`` wildcard allowed first)."""
    if not isinstance(host, str) or not host:
        raise PkiInputError(f"host {host!r} is empty")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if labels and labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    if (
        not name.isascii()
        or len(name) > 253
        or not all(_DNS_LABEL.fullmatch(label) for label in labels)
    ):
        raise PkiInputError(
            f"host {host!r} is neither an IP address nor a DNS name (ASCII letters, digits "
            "and '-' per label, labels separated by '.'; write IDNs in their xn-- form)"
        )
    return name.lower()


def check_hosts(hosts: list[str]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address | str]:
    """At least one host, each parsed, duplicates refused (a typo, usually)."""
    if not hosts:
        raise PkiInputError("a server certificate needs at least one host name or IP address")
    parsed = [parse_host(h) for h in hosts]
    if len({str(p) for p in parsed}) != len(parsed):
        raise PkiInputError(f"hosts {hosts!r} name the same host twice")
    return parsed


def check_uri(uri: str) -> str:
    """A URI for the SAN (an OPC UA application URI, ``urn:host:app``): scheme required."""
    if not isinstance(uri, str) or not uri or len(uri) > 1024 or any(
        ch.isspace() or not ch.isprintable() for ch in uri
    ):
        raise PkiInputError(f"URI {uri!r} must be 1 to 1024 printable characters, no spaces")
    parts = urlsplit(uri)
    if not parts.scheme or not (parts.netloc or parts.path):
        raise PkiInputError(f"URI {uri!r} has no scheme (e.g. 'urn:gateway:gatehouse')")
    return uri


def parse_serial(text: str) -> int:
    """A serial as ``list`` prints it: hex, optionally with ``0x`` or ``:`` separators."""
    cleaned = text.strip().replace(":", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        value = int(cleaned, 16)
    except ValueError:
        raise PkiInputError(
            f"serial {text!r} is not hexadecimal (copy it from 'gatehouse certs list')"
        ) from None
    if value <= 0:
        raise PkiInputError(f"serial {text!r} must be positive")
    return value
