"""Bus events → audit records. Every listener is synchronous and only calls
``AuditLog.append`` (no I/O, no await), so auditing adds a dictionary and a list append
to the event's path and can never hold up the one who fires.

What is recorded and how (the payloads are documented in ``api.py``):

* ``host_started`` / ``host_stopping`` → ``host.start`` / ``host.stop``;
* ``config_entry_changed`` (added, removed, updated; ``state`` changes are not
  audited) → ``config_entry.add`` / ``.remove`` / ``.update`` with which of title, data,
  options, disabled changed (compared with what the entry was: the event does not say);
* ``service_call_result`` → ``service.call``, only for calls made by a user (the core
  fires it only for those): ``target`` the entity/device/area ids, ``details`` the
  service and the *names* of its data fields (values may be passwords); a call on a
  sensitive entity also records the values, sealed with the tag cipher (``sealed.py``);
* ``audit_security`` (core/http) → its action, result and actor;
* schema_guard's rejection counters (its ``quarantined``, ``dropped`` and
  ``shadow_rejected`` sensors) → one ``schema_guard.rejections`` record per interval
  with the increase of each, when anything was rejected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from gatehouse.core import ConfigEntry, Event, Host, Unsubscribe

from .committer import AuditLog
from .const import (
    EVENT_AUDIT_SECURITY,
    EVENT_CONFIG_ENTRY_CHANGED,
    EVENT_HOST_STARTED,
    EVENT_HOST_STOPPING,
    EVENT_SERVICE_CALL_RESULT,
    EVENT_STATE_CHANGED,
    is_security_action,
)
from .sealed import SEALED_KEY, cipher_of, seal

_LOGGER = logging.getLogger(__name__)
_SHORT = re.compile(r"[a-z][a-z0-9_]{0,31}(\.[a-z0-9_]{1,32}){0,3}")
_REJECTION_SUFFIXES = ("_quarantined", "_dropped", "_shadow_rejected")
_TARGET_KEYS = ("entity_id", "device_id", "area_id")
#: Bytes of JSON an ``audit_security`` event may bring as details (more: only the size).
MAX_DETAILS = 4096


def _text(value: Any, limit: int = 200) -> str | None:
    """A value as bounded text (events may come from code we do not control)."""
    if value is None:
        return None
    return str(value)[:limit]


def actor_of(event: Event[Any], user_id: Any = None, name: Any = None,
             ip: Any = None) -> dict[str, str | None]:
    return {"user_id": _text(user_id if user_id is not None else event.context.user_id),
            "name": _text(name), "ip": _text(ip)}


def _fingerprint(entry: ConfigEntry[Any]) -> dict[str, str]:
    def digest(value: Any) -> str:
        raw = json.dumps(value, sort_keys=True, default=str).encode()
        return hashlib.sha256(raw).hexdigest()

    return {"title": digest(entry.title), "data": digest(dict(entry.data)),
            "options": digest(dict(entry.options)), "disabled": digest(entry.disabled)}


def _target_list(data: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for key in _TARGET_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list | tuple):
            found.extend(str(v) for v in value)
    return found


def _targets(found: list[str]) -> str | None:
    return _text(",".join(found), 500) if found else None


def security_record(
    data: Mapping[str, Any], *, by: str | None,
) -> tuple[str, dict[str, str | None], str | None, str, dict[str, Any]]:
    """``audit_security`` data → (action, actor, target, result, details), bounded.

    ``by``: the user of the event's context (recorded as ``details.by_user_id`` when it
    is not the ``user_id`` the event names). Also used by ``append_offline``.
    """
    action = data.get("action")
    details = data.get("details")
    details = dict(details) if isinstance(details, Mapping) else {}
    try:
        size = len(json.dumps(details, allow_nan=False))
    except (TypeError, ValueError):
        details = {"unserializable": _text(repr(details), 500)}
    else:
        if size > MAX_DETAILS:
            details = {"too_large": size}
    if not is_security_action(action):
        details["action"] = _text(action, 64)
        action = "security.other"
    if by is not None and by != data.get("user_id"):
        details["by_user_id"] = _text(by)
    actor = {"user_id": _text(data.get("user_id")), "name": _text(data.get("name")),
             "ip": _text(data.get("ip"))}
    return (str(action), actor, _text(data.get("target")),
            _text(data.get("result"), 32) or "ok", details)


class AuditListeners:
    """Subscribes the log to the bus; ``start`` returns the undo."""

    def __init__(self, host: Host, log: AuditLog, own_entry_id: str) -> None:
        self._host = host
        self._log = log
        self._own = own_entry_id
        self._entries: dict[str, dict[str, str]] = {}
        self._counters: dict[str, float] = {}
        self._rejections: dict[str, int] = {}

    def start(self) -> list[Unsubscribe]:
        for entry in self._host.config_entries.entries():
            self._entries[entry.entry_id] = _fingerprint(entry)
        bus = self._host.bus
        return [
            bus.listen(EVENT_HOST_STARTED, self._host_started),
            bus.listen(EVENT_HOST_STOPPING, self._host_stopping),
            bus.listen(EVENT_CONFIG_ENTRY_CHANGED, self._entry_changed,
                       lambda data: data.get("change") != "state"),
            bus.listen(EVENT_SERVICE_CALL_RESULT, self._service_result),
            bus.listen(EVENT_AUDIT_SECURITY, self._security),
            bus.listen(EVENT_STATE_CHANGED, self._counter_changed, self._is_rejection_counter),
        ]

    def _host_started(self, event: Event[Any]) -> None:
        self._log.append("host.start", details={"config_dir": str(self._host.config_dir)})

    def _host_stopping(self, event: Event[Any]) -> None:
        self._log.append("host.stop")

    def _entry_changed(self, event: Event[Any]) -> None:
        data = event.data
        entry_id, change = str(data.get("entry_id")), str(data.get("change"))
        details: dict[str, Any] = {"domain": _text(data.get("domain"))}
        if change == "removed":
            self._entries.pop(entry_id, None)
        else:
            try:
                entry = self._host.config_entries.get(entry_id)
            except Exception:  # noqa: BLE001 - gone already: record what the event says
                entry = None
            if entry is not None:
                now = _fingerprint(entry)
                before = self._entries.get(entry_id)
                self._entries[entry_id] = now
                details["title"] = _text(entry.title)
                if change == "updated" and before is not None:
                    details["changed"] = sorted(k for k in now if now[k] != before.get(k))
        action = {"added": "config_entry.add", "removed": "config_entry.remove"}.get(
            change, "config_entry.update")
        self._log.append(action, actor=actor_of(event), target=entry_id, details=details)

    def _service_result(self, event: Event[Any]) -> None:
        data = event.data
        service_data = data.get("service_data") or {}
        details: dict[str, Any] = {
            "service": f"{_text(data.get('domain'), 64)}.{_text(data.get('service'), 64)}",
            "fields": sorted(str(k)[:64] for k in service_data)[:50],
        }
        if data.get("error"):
            details["error"] = _text(data.get("error"))
        targets = _target_list(service_data)
        if targets and isinstance(service_data, Mapping):
            cipher = cipher_of(self._host)
            if cipher is not None:
                sealed = seal(cipher, targets, service_data)
                if sealed is not None:
                    details[SEALED_KEY] = sealed
        self._log.append(
            "service.call", actor=actor_of(event), target=_targets(targets),
            result=_text(data.get("result"), 32) or "ok", details=details,
        )

    def _security(self, event: Event[Any]) -> None:
        action, actor, target, result, details = security_record(
            event.data, by=event.context.user_id)
        self._log.append(action, actor=actor, target=target, result=result, details=details)

    # -- schema_guard summaries -------------------------------------------------------

    def _is_rejection_counter(self, data: Mapping[str, Any]) -> bool:
        entity_id = data.get("entity_id")
        if not isinstance(entity_id, str) or not entity_id.endswith(_REJECTION_SUFFIXES):
            return False
        entry = self._host.entity_registry.get(entity_id)
        return entry is not None and entry.platform == "schema_guard"

    def _counter_changed(self, event: Event[Any]) -> None:
        new = event.data.get("new_state")
        entity_id = str(event.data.get("entity_id"))
        try:
            value = float(new.state) if new is not None else None
        except (TypeError, ValueError):
            value = None
        if value is None:
            return
        before = self._counters.get(entity_id)
        self._counters[entity_id] = value
        if before is None:
            old = event.data.get("old_state")
            try:
                before = float(old.state) if old is not None else 0.0
            except (TypeError, ValueError):
                before = 0.0
        increase = value - before if value >= before else value  # reset on reload
        if increase > 0:
            self._rejections[entity_id] = self._rejections.get(entity_id, 0) + int(increase)

    def summarise(self) -> bool:
        """Record the rejections counted since the last summary (None: nothing to say)."""
        if not self._rejections:
            return False
        counts, self._rejections = self._rejections, {}
        self._log.append("schema_guard.rejections",
                         details={"total": sum(counts.values()), "by_entity": counts})
        return True
