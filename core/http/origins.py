"""Which names and origins are this server's: the defence against DNS rebinding.

A page of ``evil.example`` whose name the attacker rebinds to this server's address is,
for the browser, same-origin with itself: it sends ``Host: evil.example`` and
``Origin: http://evil.example``. Comparing the Origin with the Host header therefore
proves nothing. An Origin is this server's only if

* it is configured: one of ``trusted_origins``, or the origin of ``external_url``; or
* it names this server as the request reached it (scheme, host and port equal to the
  request's) *and* by a name an attacker cannot hold: an IP address, ``localhost``,
  this machine's own name (and ``<name>.local``), ``allowed_hosts``, or the host of
  ``external_url``. The port matters: another service on the same address is another
  origin.

Kept free of aiohttp (pure functions over strings), so the rule is easy to read whole.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .config import normalize_origin


def machine_names() -> set[str]:
    """This machine's own name, bare and with ``.local`` (mDNS); no DNS lookup."""
    name = socket.gethostname().strip().lower().rstrip(".")
    if not name:
        return set()
    names = {name}
    if "." not in name:
        names.add(f"{name}.local")
    return names


def allowed_hosts(settings: dict[str, Any]) -> frozenset[str]:
    """The names (besides IP addresses and localhost) this server may be reached by."""
    names = set(settings.get("allowed_hosts") or ()) | machine_names()
    if settings.get("external_url"):
        host = urlsplit(settings["external_url"]).hostname
        if host:
            names.add(host.lower())
    return frozenset(names)


def trusted_origins(settings: dict[str, Any]) -> frozenset[str]:
    """``trusted_origins`` and the origin of ``external_url``, normalised."""
    origins = {normalize_origin(o) for o in settings.get("trusted_origins") or ()}
    if settings.get("external_url"):
        origins.add(normalize_origin(settings["external_url"]))
    return frozenset(origins)


def host_of(authority: str) -> str | None:
    """The host name of ``host[:port]`` (a Host header), lower-case, brackets removed."""
    try:
        return urlsplit(f"//{authority}").hostname
    except ValueError:
        return None


def host_allowed(allowed: Iterable[str], name: str | None) -> bool:
    """Whether ``name`` can only be this server: an IP literal, localhost, or listed."""
    if not name:
        return False
    name = name.lower().rstrip(".")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name == "localhost" or name in allowed
    return True


def origin_allowed(
    origin: str, own: str, *, trusted: frozenset[str], allowed: frozenset[str]
) -> bool:
    """``origin`` (from the browser) against ``own`` (``scheme://Host`` of the request)."""
    try:
        wanted = normalize_origin(origin)
        reached = normalize_origin(own)
    except ValueError:
        return False
    if wanted in trusted:
        return True
    return wanted == reached and host_allowed(allowed, urlsplit(wanted).hostname)
