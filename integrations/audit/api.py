"""The audit surface for the rest of Gatehouse: the events it records and the query.

**The web server's events** (``core/http/security_events.py`` fires them). One event
type, ``audit_security``, fired on the host's bus with this data::

    {"action": "auth.login",            # see SECURITY_ACTIONS
     "result": "ok" | "failed" | "denied" | "locked",
     "user_id": "abc123" | None,        # who acted (or logged in); None: unknown
     "name": "alice" | None,            # the user name given (also on failures)
     "ip": "192.0.2.7" | None,          # the client address
     "target": "user:bob" | None,       # what was changed (user, token, group)
     "details": {...}}                  # optional, small, never secrets/tokens

and the context of the event carries the user who did it (``context.user_id``) where
that differs from ``user_id``; it is recorded as ``details.by_user_id``. The web
server refuses ``audit_security``, ``service_call_result`` and ``audit_checkpoint`` in
``POST /api/events`` and the WebSocket ``fire_event``, so nobody can write made-up
records. Actions:
``auth.login`` (result ok/failed), ``auth.lockout`` (an account or address locked
out), ``auth.logout``, ``user.password`` (ok/failed: a password change),
``token.create``, ``token.revoke``, ``user.create``, ``user.update``, ``user.remove``,
``permission.change``. Other components name their own actions in three families,
``cert.<verb>``, ``key.<verb>`` and ``device.<verb>`` (one lower-case word), e.g. the
certificate authority and the keyring (``gatehouse certs`` / ``gatehouse keys``)::

    {"action": "cert.issue", "result": "ok", "name": "<OS user or UI user>",
     "target": "cert:<serial>", "details": {"kind": "device", "cn": "pump-7",
                                           "not_after": "2029-03-09T00:00:00Z"}}
    cert.init_ca, cert.issue, cert.revoke (target cert:<serial>), cert.crl;
    key.create, key.rotate (target key:<kid>, details {"purpose": "tag"}), key.delete;
    device.provision, device.revoke (target device:<name>)

Never a private key, a passphrase or a certificate's PEM in ``details``. A CLI with a
host running sends the same dict through the control socket to the service
``audit.record`` (``services.py``; system calls only); with no host running it calls
``append_offline(config_dir, data)`` (``offline.py``)::

    try:
        control.request(config_dir, {"cmd": "call_service", "domain": "audit",
                                     "service": "record", "data": data})
    except HostNotRunning:
        append_offline(config_dir, data)   # AuditLogBusy: a host started meanwhile

(a ``ServiceNotFound`` answer: the host has no audit log). An action outside the list
and the families is still recorded (as ``security.other``, the action kept in
details) rather than lost.

**Events the core fires that are recorded** (see ``listeners.py``): ``host_started``,
``host_stopping``, ``config_entry_changed`` (added, removed, updated: which of title,
data, options, disabled changed), ``service_call_result`` (core/services.py, calls
with a user only: who, ``domain.service``, target entities, result ``ok``, ``denied``,
``invalid``, ``not_found``, ``error``; the field names of the data, not the values,
which may be secrets), and schema_guard's rejection counters summarised per interval.

**Query** (for the REST/WS API and the UI page, admin only: the caller checks):
``await query(host, actor=..., action=..., since=..., until=..., text=..., before=...,
limit=...)``, newest first (``browse.py`` pages it for ``views.py``/``wscommands.py``).

**Writing** from another integration: ``record(host, action, ...)`` (False when no
audit entry is loaded or the queue is full).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Collection
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread

from gatehouse.core import Host

from .const import (
    EVENT_AUDIT_SECURITY,
    SECURITY_ACTIONS,
    SECURITY_FAMILIES,
    is_security_action,
)
from .offline import append_offline
from .services import LOADED
from .writer import log_files

_LOGGER = logging.getLogger(__name__)

__all__ = ["EVENT_AUDIT_SECURITY", "SECURITY_ACTIONS", "SECURITY_FAMILIES",
           "append_offline", "is_security_action", "query", "query_files", "record"]

def record(
    host: Host, action: str, *, actor: dict[str, str | None] | None = None,
    target: str | None = None, result: str = "ok", details: dict[str, Any] | None = None,
) -> bool:
    """Append one record to the loaded audit log (non-blocking)."""
    for runtime in LOADED.runtimes(host).values():
        return runtime.log.append(action, actor=actor, target=target, result=result,
                                  details=details)
    return False


def _stamp(value: dt.datetime | str | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = dt.datetime.fromtimestamp(float(value), dt.UTC)
    elif isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a time: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _haystack(rec: dict[str, Any]) -> str:
    """What ``text`` searches: the values people read (not the field names, which every
    record has, nor ``prev``)."""
    who = rec.get("actor") or {}
    parts = [rec.get("action"), rec.get("target"), rec.get("result"),
             *(who.get(k) for k in ("user_id", "name", "ip")),
             json.dumps(rec.get("details"), sort_keys=True)]
    return "\n".join(str(p) for p in parts if p is not None).casefold()


def _first_seq(path: Path) -> int:
    """The seq of a file's first record (0 if unreadable): read one line only."""
    with path.open("rb") as f:
        first = f.readline()
    try:
        seq = json.loads(first).get("seq", 0)
    except (ValueError, AttributeError):
        return 0
    return seq if isinstance(seq, int) else 0


def query_files(
    directory: Path, *, actor: str | Collection[str] | None = None,
    action: str | None = None,
    since: dt.datetime | str | float | None = None,
    until: dt.datetime | str | float | None = None,
    text: str | None = None, before: int | None = None, limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first, at most ``limit`` records matching every filter given (blocking).

    ``actor`` matches ``user_id`` or ``name`` (one, or any of several: the UI sends a
    name with the user id it belongs to, since service calls carry only the id);
    ``action`` an exact action or a prefix
    ending in ``.`` (``"auth."``); ``since``/``until`` are inclusive (datetime, ISO
    text or seconds since 1970; UTC when naive); ``text`` a case-insensitive substring
    of the action, target, result, actor or details (ciphertext stays ciphertext);
    ``before`` only records with a smaller ``seq`` (the next page: pass the last seq
    of this one). Checkpoint records are left out. A partly written last line is
    skipped.
    """
    low, high = _stamp(since), _stamp(until)
    actors = None if actor is None else (
        frozenset((actor,)) if isinstance(actor, str) else frozenset(actor))
    needle = text.casefold() if text else None
    found: list[dict[str, Any]] = []
    if limit <= 0:
        return found
    for path in reversed(log_files(directory)):
        if before is not None and _first_seq(path) >= before:
            continue  # the whole file is newer than the page asked for: not read
        lines = path.read_bytes().split(b"\n")[:-1]
        for line in reversed(lines):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict) or "time" not in rec:
                continue
            if before is not None and rec.get("seq", 0) >= before:
                continue
            if high is not None and rec["time"] > high:
                continue
            if low is not None and rec["time"] < low:
                continue  # not a stop: the clock may have been set back
            if action is not None and not (
                rec["action"] == action or (action.endswith(".")
                                            and rec["action"].startswith(action))
            ):
                continue
            who = rec.get("actor") or {}
            if actors is not None and who.get("user_id") not in actors \
                    and who.get("name") not in actors:
                continue
            if needle is not None and needle not in _haystack(rec):
                continue
            found.append(rec)
            if len(found) >= limit:
                return found
    return found


async def query(
    host: Host, *, actor: str | Collection[str] | None = None, action: str | None = None,
    since: dt.datetime | str | float | None = None,
    until: dt.datetime | str | float | None = None,
    text: str | None = None, before: int | None = None, limit: int = 100,
) -> list[dict[str, Any]]:
    """``query_files`` on the loaded log, in a worker thread (after a flush)."""
    runtimes = list(LOADED.runtimes(host).values())
    if not runtimes:
        return []
    try:
        await runtimes[0].log.flush()
    except Exception as err:  # noqa: BLE001 - a failed round: read what is on disk
        _LOGGER.warning("Audit log: querying without the last round (%s)", err)
    search = partial(query_files, runtimes[0].directory, actor=actor, action=action,
                     since=since, until=until, text=text, before=before, limit=limit)
    return await anyio.to_thread.run_sync(search)
