"""The quarantine over the WebSocket API, for admins only (``gatehouse_ws_commands``).

The same queries as the REST routes (``views.py``), for clients that already hold a
socket (Home Assistant's protocol: ``{"id", "type", ...fields}`` → ``result``):

* ``schema_guard/quarantine/list`` ``{topic?, rule?, path?, since?, until?,
  replayed?, limit?, before?}`` → ``{"messages", "next_before"}`` (newest first, no
  payloads);
* ``schema_guard/quarantine/get`` ``{message_id}`` → one message with its payload;
* ``schema_guard/paths`` ``{<filters>, limit?}`` → ``{"paths": [{path, keyword,
  count}]}``;
* ``schema_guard/replay`` ``{dry_run?, filters?}`` → the replay's counts (a dry run
  unless ``dry_run`` is false).

A bad field answers ``invalid_format`` naming it (a ``vol.Invalid``, as the core's own
commands); no loaded entry, or no such message, answers ``home_assistant_error`` with the
reason (a ``SchemaGuardError``).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import Host
from gatehouse.core.http import WsCommand

from . import browse
from .api import guard_for
from .const import DOMAIN
from .errors import GuardUnavailable, SchemaGuardError
from .store import Filters
from .writer import QuarantineWriter

_FILTERS: dict[Any, Any] = {
    vol.Optional("topic"): vol.Any(None, str),
    vol.Optional("rule"): vol.Any(None, str),
    vol.Optional("path"): vol.Any(None, str),
    vol.Optional("since"): vol.Any(None, str, int, float),
    vol.Optional("until"): vol.Any(None, str, int, float),
    vol.Optional("replayed"): vol.Any(None, bool),
}
LIST_SCHEMA: dict[Any, Any] = {
    **_FILTERS,
    vol.Optional("limit", default=browse.PAGE_DEFAULT): vol.All(
        int, vol.Range(min=1, max=browse.PAGE_MAX)),
    vol.Optional("before"): vol.Any(None, vol.All(int, vol.Range(min=1))),
}
GET_SCHEMA: dict[Any, Any] = {vol.Required("message_id"): vol.All(int, vol.Range(min=1))}
PATHS_SCHEMA: dict[Any, Any] = {
    **_FILTERS,
    vol.Optional("limit", default=browse.PATHS_DEFAULT): vol.All(
        int, vol.Range(min=1, max=browse.PATHS_MAX)),
}
REPLAY_SCHEMA: dict[Any, Any] = {
    vol.Optional("dry_run", default=True): bool,
    vol.Optional("filters", default=dict): dict,
}


def _writer(host: Host) -> QuarantineWriter:
    writer = browse.writer_of(host)
    if writer is None:
        raise GuardUnavailable(browse.NOT_LOADED)
    return writer


def _filters(args: dict[str, Any]) -> Filters:
    try:
        return browse.parse_filters({k: v for k, v in args.items() if k in _NAMES})
    except ValueError as err:
        raise vol.Invalid(str(err)) from None


_NAMES = frozenset(str(key) for key in _FILTERS)


def commands(host: Host) -> list[WsCommand]:
    """The commands above, bound to ``host``."""

    async def quarantine_list(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        writer = _writer(host)
        filters = _filters(args)
        found = await browse.page(writer, filters, limit=args["limit"],
                                  before=args.get("before"))
        return found.as_dict()

    async def quarantine_get(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        writer = _writer(host)
        found = await browse.message(writer, args["message_id"])
        if found is None:
            raise SchemaGuardError(f"no quarantined message {args['message_id']}")
        return found

    async def paths(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        writer = _writer(host)
        filters = _filters(args)
        return {"paths": await browse.paths(writer, filters, args["limit"])}

    async def replay(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        _writer(host)
        try:
            dry_run, filters = browse.replay_args(args)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        result = await guard_for(host).replay(
            dry_run=dry_run, rule=filters.rule, topic=filters.topic, path=filters.path,
            since=filters.since, until=filters.until)
        return result.as_dict()

    return [
        WsCommand(f"{DOMAIN}/quarantine/list", quarantine_list, LIST_SCHEMA,
                  require_admin=True),
        WsCommand(f"{DOMAIN}/quarantine/get", quarantine_get, GET_SCHEMA, require_admin=True),
        WsCommand(f"{DOMAIN}/paths", paths, PATHS_SCHEMA, require_admin=True),
        WsCommand(f"{DOMAIN}/replay", replay, REPLAY_SCHEMA, require_admin=True),
    ]
