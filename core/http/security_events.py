"""Security events for the audit log: who logged in, failed, was locked out, and who
changed users, roles, policies and tokens.

The web server fires ``audit_security`` on the host's bus; the ``audit`` integration
(when loaded) records each one in its tamper-evident log. The server knows nothing of
the audit integration: without it the events cost one dictionary and no listener.
Payload (documented in ``integrations/audit/api.py``)::

    {"action": "auth.login", "result": "ok"|"failed"|"denied"|"locked",
     "user_id": ..., "name": ..., "ip": ..., "target": "user:bob", "details": {...}}

Never a password, token value or session id: ``details`` holds names and roles only.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from ..bus import EventType
from ..context import Context

EVENT_AUDIT_SECURITY: Final[EventType[dict[str, Any]]] = EventType("audit_security")

#: Events only the core fires: faking them through the API would forge audit records.
AUDIT_EVENTS: Final = frozenset({"audit_security", "service_call_result", "audit_checkpoint"})


def fire_security_event(
    request: web.Request,
    action: str,
    result: str,
    *,
    user_id: str | None = None,
    name: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Fire one ``audit_security`` event for ``request`` (its client address, and the
    acting user, if known, as the event's context)."""
    from .runtime import rt

    data = {
        "action": action,
        "result": result,
        "user_id": user_id,
        "name": name,
        "ip": request.remote,
        "target": target,
        "details": details or {},
    }
    rt(request).host.bus.fire(EVENT_AUDIT_SECURITY, data, Context(user_id=user_id))
