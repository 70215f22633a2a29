"""The real client address behind a reverse proxy (``X-Forwarded-For``), as in HA.

Behind a proxy every request comes from the proxy's address, so the login budget would
count one address for everyone and onboarding would take the proxy (often loopback) for
the client. With ``use_x_forwarded_for: true`` the ``X-Forwarded-For`` of a request whose
peer is in ``trusted_proxies`` is read from the right, skipping trusted proxies; the
first address that is not one is the client (``request.remote`` from then on). An
address that does not parse is refused (400): a proxy we trust does not send that.

From any other peer the header is ignored, since anyone can write it, and that is
logged once (a proxy that should be listed, most likely). Such a request is marked
(``UNVERIFIED_FORWARD_KEY``): onboarding refuses it, as its real client is unknown.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import Final

from aiohttp import hdrs, web

from .errors import Handler, HttpError
from .runtime import UNVERIFIED_FORWARD_KEY, rt

_LOGGER = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: More hops than any real chain of proxies has: a longer header is refused.
_MAX_HOPS: Final = 32


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def parse_address(value: str | None) -> Address | None:
    """An address (IPv4-mapped IPv6 as IPv4; a zone index dropped), or None."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_in(address: Address | None, where: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in where)


def real_client(header_values: Sequence[str], trusted: Sequence[Network]) -> Address:
    """The client named by ``X-Forwarded-For`` values, read from the right."""
    hops = [hop.strip() for value in header_values for hop in value.split(",")]
    if not hops or len(hops) > _MAX_HOPS:
        raise HttpError(400, "invalid X-Forwarded-For")
    addresses = []
    for hop in hops:
        address = parse_address(hop)
        if address is None:
            raise HttpError(400, "invalid X-Forwarded-For")
        addresses.append(address)
    for address in reversed(addresses):
        if not address_in(address, trusted):
            return address
    return addresses[0]  # proxies all the way: the first one is the client


@web.middleware
async def forwarded_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    values = request.headers.getall(hdrs.X_FORWARDED_FOR, [])
    if not values:
        return await handler(request)
    runtime = rt(request)
    peer = parse_address(request.remote)
    if runtime.use_x_forwarded_for and address_in(peer, runtime.trusted_proxies):
        client = real_client(values, runtime.trusted_proxies)
        return await handler(request.clone(remote=str(client)))
    if not runtime.warned_untrusted_forward:
        runtime.warned_untrusted_forward = True
        _LOGGER.warning(
            "Ignoring X-Forwarded-For from %s: it is not in http: trusted_proxies (with "
            "use_x_forwarded_for: true). Logins are counted, and onboarding judged, by "
            "that address instead; list your reverse proxy if it is one (logged once)",
            request.remote,
        )
    request[UNVERIFIED_FORWARD_KEY] = True
    return await handler(request)
