"""Device Shadow sync: report selected entities, apply desired state (classic or named).

AWS IoT's Device Shadow is a JSON document per thing (and per named shadow) with a
``desired`` and a ``reported`` section; the service computes ``delta`` (desired values
the device has not reported) and pushes it on ``/update/delta`` ("Device Shadow MQTT
topics"). This module keeps the ``reported`` section equal to what the house shows and
turns desired values into service calls.

What goes into ``reported``:

* every entity the entry's ``include``/``exclude`` filter selects, under its entity id;
* every entity named in ``desired`` (``{shadow key: entity_id}``), under its shadow key.

A value is the entity's state: a JSON number when the state is numeric, ``true``/
``false`` for on/off domains (``"on"``/``"off"`` instead when the desired value of that
key is a string, so a device never reports a shape the cloud did not ask for and the
delta goes away), the state string otherwise; ``unknown``/``unavailable`` and removed
entities are reported as ``null`` (which removes the key from the shadow).

How a desired value becomes a service call (the "documented rule"):

* on/off domains (``switch``, ``input_boolean``, ``light``, ``fan``, ``siren``, and any
  domain with ``turn_on``/``turn_off`` services): ``true``/``"on"``/``1`` →
  ``turn_on``, ``false``/``"off"``/``0`` → ``turn_off``;
* ``number``/``input_number`` (and any domain with ``set_value``) with a JSON number →
  ``set_value {"value": v}``; ``input_text``/``text`` with a string → ``set_value``;
* ``select``/``input_select`` with a string → ``select_option {"option": v}``;
* anything else is refused (logged once per burst, counted in ``stats``), never guessed.

The same desired value (same value and same metadata timestamp) is applied once: an
entity that cannot reach it does not make the device call its service in a loop when
AWS re-sends the delta after every report.

Protocol points (AWS IoT Core Developer Guide, "Device Shadow MQTT topics", "Device
Shadow error messages"): ``get`` on every connect (404 → the shadow is created by the
first update); updates carry the known ``version`` and a ``clientToken``; an answer is
taken only with the token of the request in flight (stale and other clients' answers
only advance the version; a ``/delete/accepted`` from anyone means the next report
re-creates the shadow whole); ``/update/rejected`` codes: 400 and 413 drop that update,
401/403 stop the sync with a ``problem`` (retrying cannot help), 404 re-creates, 409
re-reads (``get``) and retries, 429 and 5xx retry after a backoff. The 8 KB limit on
desired + reported and the nesting limit (6 levels) are checked before sending: keys
that do not fit are left out, counted and logged once per burst.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

import anyio

from gatehouse.core import (
    EVENT_STATE_CHANGED,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    Context,
    Event,
    Host,
    State,
    StateChangedData,
)
from gatehouse.core.helpers import Backoff, BackoffCounter, BurstLog, entity_filter

from .errors import AwsIotConfigError, DeltaRefused
from .link import LinkProtocol, MqttLink

_LOGGER = logging.getLogger(__name__)

JSON = Any

#: "Device Shadow service documents" / "Diagnosing problems with shadows": the desired
#: and reported sections together (metadata not counted), compact UTF-8 JSON.
SHADOW_MAX_BYTES: Final = 8 * 1024
#: "Device Shadow error messages": "JSON contains too many levels of nesting; maximum
#: is 6" (the ``reported`` object itself is the first level).
SHADOW_MAX_DEPTH: Final = 6
#: An answer that does not come within this long is given up: re-read with ``get``.
REQUEST_TIMEOUT: Final = 10.0
#: How long a delta's service call may take before it counts as failed.
SERVICE_TIMEOUT: Final = 10.0
DEFAULT_BACKOFF: Final = Backoff(initial=1.0, maximum=120.0)

ON_OFF_DOMAINS: Final = frozenset({"switch", "input_boolean", "light", "fan", "siren"})
NUMBER_DOMAINS: Final = frozenset({"number", "input_number"})
TEXT_DOMAINS: Final = frozenset({"text", "input_text"})
SELECT_DOMAINS: Final = frozenset({"select", "input_select"})
_TRUE: Final = frozenset({"on", "true", "1"})
_FALSE: Final = frozenset({"off", "false", "0"})
_SHADOW_NAME: Final = re.compile(r"[a-zA-Z0-9:_-]{1,64}")
#: Codes after which the same update is sent again (after the backoff).
RETRY_CODES: Final = frozenset({429, 500, 502, 503, 504})


def compact(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_depth(value: JSON) -> int:
    """Levels of objects and arrays (``{"a": 1}`` is 1, a scalar 0), as AWS counts."""
    if isinstance(value, dict):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    return 0


def json_same(a: JSON, b: JSON) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python's ``True == 1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def merged(base: Mapping[str, JSON], patch: Mapping[str, JSON]) -> dict[str, JSON]:
    """``base`` with an update section applied as the shadow service does (objects
    merge, ``null`` deletes, the rest replaces)."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            current = out.get(key)
            created = not isinstance(current, dict)
            sub = merged(current if isinstance(current, dict) else {}, value)
            if created and value and not sub:
                out.pop(key, None)  # only nulls under a new key: creates nothing
            else:
                out[key] = sub
        else:
            out[key] = value
    return out


def document_size(desired: Mapping[str, JSON] | None, reported: Mapping[str, JSON]) -> int:
    """The bytes AWS holds against the 8 KB limit: desired and reported, compact."""
    sections: dict[str, JSON] = {"reported": reported}
    if desired is not None:
        sections["desired"] = desired
    return len(compact(sections).encode())


def _entry_size(key: str, value: JSON) -> int:
    """Bytes ``"key":value,`` takes in compact JSON (the comma is the object's
    separator, one per entry: at most a byte off, which the final check absorbs)."""
    return len(compact(key).encode()) + len(compact(value).encode()) + 2


def fit_update(
    desired: Mapping[str, JSON] | None,
    reported: Mapping[str, JSON],
    update: Mapping[str, JSON],
    *,
    max_bytes: int = SHADOW_MAX_BYTES,
    max_depth: int = SHADOW_MAX_DEPTH,
) -> tuple[dict[str, JSON], list[str]]:
    """The part of ``update`` (a ``reported`` patch) AWS would accept, and the keys left
    out: first values nested deeper than the limit, then, while the resulting document
    is over ``max_bytes``, the keys that grow it most (removals never are: they only
    shrink it).

    Each key's growth is computed once (its entry in the merged document minus its
    entry before), so a patch of a thousand long states costs a sort, not a thousand
    serialisations of the document (1.3 s before, on this machine)."""
    kept = {k: v for k, v in update.items() if 1 + json_depth(v) <= max_depth}
    left_out = [k for k in update if k not in kept]
    after = merged(reported, kept)
    size = document_size(desired, after)
    if size <= max_bytes:
        return kept, left_out

    def growth(key: str) -> int:
        before = _entry_size(key, reported[key]) if key in reported else 0
        return (_entry_size(key, after[key]) if key in after else 0) - before

    growing = sorted((k for k, v in kept.items() if v is not None), key=growth, reverse=True)
    for key in growing:
        if size <= max_bytes:
            break
        size -= growth(key)
        del kept[key]
        left_out.append(key)
    # Exact check (the estimate may be a comma off); rarely drops one more.
    while kept and document_size(desired, merged(reported, kept)) > max_bytes:
        rest = [k for k, v in kept.items() if v is not None]
        if not rest:
            break
        biggest = max(rest, key=lambda k: _entry_size(k, kept[k]))
        del kept[biggest]
        left_out.append(biggest)
    return kept, left_out


def _number(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if value.is_integer() and "." not in text and "e" not in text.lower():
        return int(value)
    return value


def _on_off(value: JSON) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return None


def _token() -> str:
    return uuid.uuid4().hex


def service_for(host: Host, entity_id: str, value: JSON) -> tuple[str, str, dict[str, JSON]]:
    """(domain, service, data) that brings ``entity_id`` to the desired ``value``."""
    domain = entity_id.partition(".")[0]
    has = host.services.has
    switchable = domain in ON_OFF_DOMAINS or (has(domain, "turn_on") and has(domain, "turn_off"))
    if switchable:
        on = _on_off(value)
        if on is not None:
            return domain, "turn_on" if on else "turn_off", {"entity_id": entity_id}
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and (domain in NUMBER_DOMAINS or has(domain, "set_value")):
        return domain, "set_value", {"entity_id": entity_id, "value": value}
    if isinstance(value, str):
        if domain in SELECT_DOMAINS:
            return domain, "select_option", {"entity_id": entity_id, "option": value}
        if domain in TEXT_DOMAINS:
            return domain, "set_value", {"entity_id": entity_id, "value": value}
    raise DeltaRefused(f"no service sets {entity_id} to {compact(value)[:100]}")


class ShadowSync(LinkProtocol):
    """Keeps one shadow (classic when ``config["name"]`` is None) in step with the house.

    ``config`` is the entry's ``shadow:`` block: ``enabled``, ``name``, ``include``/
    ``exclude`` (the shared entity filter), ``mapping`` (``{shadow key: entity_id}``),
    ``report_delay`` (seconds changes are gathered into one update).
    ``problem`` is set (and the sync stops) when AWS refuses the device (401/403);
    ``stats`` counts what happened, for sensors and diagnostics.
    """

    def __init__(
        self,
        link: MqttLink,
        host: Host,
        thing_name: str,
        config: Mapping[str, Any],
        *,
        backoff: Backoff = DEFAULT_BACKOFF,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        super().__init__()
        self._link = link
        self._host = host
        self.thing_name = thing_name
        self.shadow_name: str | None = config.get("name")
        if self.shadow_name is not None and not _SHADOW_NAME.fullmatch(self.shadow_name):
            # "Device Shadow service": names are [a-zA-Z0-9:_-], up to 64; a "/", "+"
            # or "#" would address other topics (or none).
            raise AwsIotConfigError(
                f"shadow.name: {self.shadow_name!r} is not a shadow name "
                "(letters, digits, ':', '_', '-'; at most 64)"
            )
        self.enabled: bool = bool(config.get("enabled", True))
        self.prefix = (
            f"$aws/things/{thing_name}/shadow"
            if self.shadow_name is None
            else f"$aws/things/{thing_name}/shadow/name/{self.shadow_name}"
        )
        # key -> entity ("mapping" in config.py; "desired" accepted as its first name)
        self._keys: dict[str, str] = dict(config.get("mapping") or config.get("desired") or {})
        self._report_delay = float(config.get("report_delay", 0.0))
        self._first_dirty: float | None = None
        self._key_of: dict[str, str] = {e: k for k, e in self._keys.items()}  # entity -> key
        chosen = entity_filter(host, config)
        # An empty filter passes every state; here it means "only the mapped keys" (a
        # shadow of every entity would not fit AWS's 8 KB anyway).
        self._selected: Callable[[State], bool] = (lambda _state: False) if chosen.empty else chosen
        self._pacing: BackoffCounter = backoff.counter()
        self._request_timeout = request_timeout
        # What AWS holds, as far as we know (get, /update/documents, our accepted updates).
        self.version: int | None = None
        self._desired: dict[str, JSON] = {}
        self._reported: dict[str, JSON] = {}
        # What we want reported, and the keys that changed since their last accepted report.
        self._current: dict[str, JSON] = {}
        self._dirty: set[str] = set()
        self._deltas: dict[str, tuple[JSON, JSON]] = {}  # key -> (value, metadata)
        self._applied: dict[str, str] = {}  # key -> compact (value, metadata) applied
        # The request in flight: (token, "get" | "update", the reported patch sent).
        self._inflight: tuple[str, str, dict[str, JSON]] | None = None
        self._inflight_since = 0.0
        self._need_get = True
        self._synced = False
        self._retry_at = 0.0
        self._connected = True  # optimistic: a publish failure says otherwise
        self.problem: str | None = None
        self.stats: dict[str, int] = {
            "updates_sent": 0,
            "updates_accepted": 0,
            "gets_sent": 0,
            "left_out": 0,
            "deltas_applied": 0,
            "deltas_failed": 0,
            "stale_answers": 0,
            "timeouts": 0,
        }
        self.rejections: dict[int, int] = {}
        self._wake = anyio.Event()
        self._too_big = BurstLog(
            _LOGGER,
            "%(shadow)s: left out of the report (over AWS's 8 KB / 6-level shadow limits): "
            "%(keys)s",
            "%(shadow)s: reports fit the shadow limits again (%(count)d updates trimmed)",
            shadow=self.prefix,
        )
        self._refused = BurstLog(
            _LOGGER,
            "%(shadow)s: desired %(key)s not applied: %(reason)s",
            "%(shadow)s: desired values applied again (%(count)d refused)",
            shadow=self.prefix,
        )

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe to the shadow's response topics and start syncing."""
        if not self.enabled:
            return
        for suffix in (
            "get/accepted",
            "get/rejected",
            "update/accepted",
            "update/rejected",
            "update/delta",
            "update/documents",
            "delete/accepted",
        ):
            await self._link.subscribe(f"{self.prefix}/{suffix}", self._on_message)
        self._unsubs.append(self._link.on_connect(self._on_connect))
        self._unsubs.append(self._host.bus.listen(EVENT_STATE_CHANGED, self._on_state))
        for state in self._host.states.all():
            self._track(state.entity_id, state)
        for key, entity_id in self._keys.items():
            if key not in self._current:
                self._track(entity_id, self._host.states.get(entity_id))
        self._spawn_run(self._host, f"aws_iot shadow {self.prefix}")

    # -- inputs (on the loop) -------------------------------------------------------
    def _kick(self) -> None:
        self._wake.set()

    async def _on_connect(self) -> None:
        self._connected = True
        self._need_get = True
        self._inflight = None  # its answer, if any, is stale now
        self._kick()

    def _on_state(self, event: Event[StateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        if self._track(entity_id, event.data["new_state"]):
            self._kick()

    def _track(self, entity_id: str, state: State | None) -> bool:
        """Note the value to report for ``entity_id``; True if it is reported at all."""
        key = self._key_of.get(entity_id)
        if key is None:
            key = entity_id
            if state is None or not self._selected(state):
                if key not in self._current:
                    return False
                state = None  # removed, or left the selection: null removes the key
        value = self._encode(key, state)
        if key in self._current and json_same(self._current[key], value):
            return False
        self._current[key] = value
        self._dirty.add(key)
        if self._first_dirty is None:
            self._first_dirty = time.monotonic()
        return True

    def _encode(self, key: str, state: State | None) -> JSON:
        if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            return None
        domain = state.domain
        if state.state in ("on", "off") and (
            domain in ON_OFF_DOMAINS or self._host.services.has(domain, "turn_on")
        ):
            on = state.state == "on"
            if isinstance(self._desired.get(key), str):
                return state.state
            return on
        number = _number(state.state)
        return number if number is not None else state.state

    def _on_message(self, topic: str, payload: bytes) -> None:
        """Every answer and push on the shadow's topics; never raises (bad input is
        logged and dropped, as anything a peer sends)."""
        if self._stopped:
            return
        suffix = topic[len(self.prefix) + 1 :]
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError):
            _LOGGER.warning("%s: unreadable message on %s", self.prefix, topic)
            return
        if not isinstance(body, dict):
            return
        try:
            self._handle(suffix, body)
        except (TypeError, ValueError, AttributeError) as exc:
            _LOGGER.warning("%s: unexpected message on %s: %s", self.prefix, topic, exc)
        self._kick()

    def _advance(self, version: JSON) -> bool:
        """Take a newer version; True if it was not older than the known one."""
        if not isinstance(version, int) or isinstance(version, bool):
            return False
        if self.version is None or version >= self.version:
            self.version = version
            return True
        return False

    def _handle(self, suffix: str, body: dict[str, JSON]) -> None:
        token = body.get("clientToken")
        mine = self._inflight is not None and token == self._inflight[0]
        if suffix == "update/delta":
            self._advance(body.get("version"))
            state = body.get("state") or {}
            meta = body.get("metadata") or {}
            for key, value in state.items():
                self._desired[key] = value
                if key in self._keys:
                    self._deltas[key] = (value, meta.get(key))
            return
        if suffix == "delete/accepted":
            # Deleted from the cloud side (whoever asked): the next report re-creates
            # it, whole; a patch of the changed keys only would leave the rest out.
            if self._advance(body.get("version")):
                self._shadow_gone()
            return
        if suffix == "update/documents":
            current = body.get("current") or {}
            if self._advance(current.get("version")):
                state = current.get("state") or {}
                self._desired = dict(state.get("desired") or {})
                self._reported = dict(state.get("reported") or {})
            return
        if not mine:
            if token is not None and suffix.endswith("accepted"):
                self.stats["stale_answers"] += 1
            if suffix == "update/accepted":
                self._advance(body.get("version"))
            return
        assert self._inflight is not None
        _, kind, sent = self._inflight
        self._inflight = None
        if suffix == "get/accepted":
            self._got(body)
        elif suffix == "update/accepted":
            self._advance(body.get("version"))
            self._reported = merged(self._reported, sent)
            self._dirty -= {k for k, v in sent.items() if json_same(self._current.get(k), v)}
            for key, value in sent.items():
                # A removed entity is forgotten once the shadow dropped it (entity churn
                # must not grow memory); a mapped key stays, it may come back.
                if value is None and key not in self._keys and self._current.get(key, 0) is None:
                    del self._current[key]
            self.stats["updates_accepted"] += 1
            self._pacing.succeeded()
        elif suffix in ("get/rejected", "update/rejected"):
            self._rejected(kind, body, sent)

    def _got(self, body: dict[str, JSON]) -> None:
        self._pacing.succeeded()
        self.version = body.get("version") if isinstance(body.get("version"), int) else None
        state = body.get("state") or {}
        self._desired = dict(state.get("desired") or {})
        self._reported = dict(state.get("reported") or {})
        self._synced = True
        self._need_get = False
        self._reencode()
        self._dirty = set(self._current)  # compared with the shadow before sending
        meta = (body.get("metadata") or {}).get("desired") or {}
        for key, value in (state.get("delta") or {}).items():
            if key in self._keys:
                self._deltas[key] = (value, meta.get(key))

    def _shadow_gone(self) -> None:
        """No shadow (never made, or deleted): the next update creates it with every
        key (without a version: there is none to match)."""
        self.version = None
        self._desired, self._reported = {}, {}
        self._synced = True
        self._need_get = False
        self._dirty = set(self._current)
        self._first_dirty = None

    def _reencode(self) -> None:
        """Values whose shape follows the desired value (on/off as bool or string)."""
        for key, entity_id in self._keys.items():
            value = self._encode(key, self._host.states.get(entity_id))
            if not json_same(self._current.get(key), value):
                self._current[key] = value
                self._dirty.add(key)

    def _rejected(self, kind: str, body: dict[str, JSON], sent: dict[str, JSON]) -> None:
        code = body.get("code")
        message = str(body.get("message", ""))[:200]
        if not isinstance(code, int):
            code = 0
        self.rejections[code] = self.rejections.get(code, 0) + 1
        if code in (401, 403):
            self.problem = f"AWS refused the shadow {kind} ({code} {message})"
            _LOGGER.error("%s: %s; shadow sync stopped", self.prefix, self.problem)
            return
        if code == 404:
            self._shadow_gone()
            return
        if code == 409:
            self._need_get = True
            return
        if code in RETRY_CODES:
            delay = self._pacing.failed()
            self._retry_at = time.monotonic() + delay
            _LOGGER.warning(
                "%s: %s rejected (%s %s), retrying in %.1f s",
                self.prefix,
                kind,
                code,
                message,
                delay,
            )
            if kind == "get":
                self._need_get = True
            return
        # 400, 413 and anything undocumented: this update cannot succeed as it is.
        _LOGGER.warning("%s: %s rejected (%s %s), dropped", self.prefix, kind, code, message)
        if kind == "get":
            self._need_get = False
            self._synced = True
        self._dirty -= set(sent)

    # -- the loop --------------------------------------------------------------------
    async def _run(self, scope: anyio.CancelScope) -> None:
        with scope:
            while True:
                delay = await self._step()
                with anyio.move_on_after(delay):
                    await self._wake.wait()
                self._wake = anyio.Event()

    async def _step(self) -> float:
        """Do the next thing; return how long to wait unless woken."""
        if self.problem is not None:
            return math.inf
        now = time.monotonic()
        if self._inflight is not None:
            left = self._inflight_since + self._request_timeout - now
            if left > 0:
                return left
            self.stats["timeouts"] += 1
            self._inflight = None
            self._need_get = True
        if self._deltas:
            await self._apply_deltas()
        if now < self._retry_at:
            return self._retry_at - now
        if not self._connected:
            return math.inf
        if self._need_get:
            await self._send("get", {}, {})
            return self._request_timeout
        if not self._synced:
            return math.inf
        patch = {
            k: self._current.get(k)
            for k in sorted(self._dirty)
            if not json_same(self._reported.get(k), self._current.get(k))
        }
        self._dirty &= set(patch)
        if not patch:
            self._first_dirty = None
            return math.inf
        if self._first_dirty is None:  # dirty from a get or a retry, not a state change
            self._first_dirty = now
        gathered = self._first_dirty + self._report_delay
        if now < gathered:
            return gathered - now  # coalesce: AWS bills (and throttles) per update
        self._first_dirty = None
        fitting, left_out = fit_update(self._desired or None, self._reported, patch)
        if left_out:
            self.stats["left_out"] += len(left_out)
            self._too_big.hit(keys=", ".join(left_out[:10]))
            self._dirty -= set(left_out)
        else:
            self._too_big.calm()
        if not fitting:
            return math.inf
        body: dict[str, JSON] = {"state": {"reported": fitting}}
        if self.version is not None:
            body["version"] = self.version
        await self._send("update", body, fitting)
        return self._request_timeout

    async def _send(self, kind: str, body: dict[str, JSON], sent: dict[str, JSON]) -> None:
        token = _token()
        self._inflight = (token, kind, sent)
        self._inflight_since = time.monotonic()
        try:
            await self._link.publish(
                f"{self.prefix}/{kind}", compact({**body, "clientToken": token}).encode()
            )
        except Exception as exc:  # noqa: BLE001 - any link failure: wait for a connect
            _LOGGER.debug("%s: %s not sent (%s); waiting for a connection", self.prefix, kind, exc)
            if self._inflight is not None and self._inflight[0] == token:
                self._inflight = None
            self._connected = False
            self._need_get = True
            return
        self.stats["gets_sent" if kind == "get" else "updates_sent"] += 1

    async def _apply_deltas(self) -> None:
        deltas, self._deltas = self._deltas, {}
        for key, (value, meta) in deltas.items():
            entity_id = self._keys[key]
            mark = compact([value, meta])
            if self._applied.get(key) == mark:
                continue  # AWS repeats a delta after each report; apply it once
            self._applied[key] = mark
            try:
                domain, service, data = service_for(self._host, entity_id, value)
                with anyio.fail_after(SERVICE_TIMEOUT):
                    await self._host.services.call(
                        domain, service, data, blocking=True, context=Context()
                    )
            except Exception as exc:  # noqa: BLE001 - a bad desired value never stops the sync
                self.stats["deltas_failed"] += 1
                self._refused.hit(key=key, reason=str(exc) or type(exc).__name__)
            else:
                self.stats["deltas_applied"] += 1
                self._refused.calm()
            # Report back what the entity shows now (also when it did not change).
            self._reencode()
            self._dirty.add(key)
