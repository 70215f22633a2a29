"""AWS IoT Jobs: run fleet jobs that name a Gatehouse service, one at a time.

A job document this runner executes (any other shape is REJECTED with the reason)::

    {
      "operation": "gatehouse.service",
      "service": "switch.turn_on",          # domain.service
      "data": {"entity_id": "switch.porch"} # optional: the service data
    }

Only services on the entry's admin-approved ``allowed_services`` list run; any other is
REJECTED with ``statusDetails.reason`` naming it. The call runs with a system context
(no user, so no admin rights are borrowed from anyone; the list is the authority).

Protocol ("Jobs device MQTT API operations"): ``notify-next`` (and every connect) wakes
the runner, which asks ``start-next`` (AWS moves the next execution to IN_PROGRESS with
``statusDetails.step = "started"``), reports ``IN_PROGRESS`` with ``step = "running"``
right before the call, then ``SUCCEEDED`` or ``FAILED`` (``step = "done"``, ``service``
and, when it failed, ``reason``; AWS replaces ``statusDetails`` on each update).
Every update carries ``expectedVersion``; a ``VersionMismatch`` takes the version AWS
reports (re-reading the execution when the rejection does not carry it) and retries,
unless the execution has meanwhile ended (cancelled: ``InvalidStateTransition``), then
the runner moves on. ``RequestThrottled``/``ServiceUnavailable``/``InternalError``/no
answer are retried after a backoff.

An execution found IN_PROGRESS with ``step = "running"`` was interrupted during its
service call (restart, crash): it is reported FAILED ("interrupted"), never run twice,
because a service call acts on the world and may not be repeatable.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import anyio

from gatehouse.core import Context, Host
from gatehouse.core.helpers import Backoff, BackoffCounter

from .errors import JobDocumentError
from .link import LinkProtocol, MqttLink

_LOGGER = logging.getLogger(__name__)

OPERATION: Final = "gatehouse.service"
REQUEST_TIMEOUT: Final = 10.0
SERVICE_TIMEOUT: Final = 300.0
DEFAULT_BACKOFF: Final = Backoff(initial=1.0, maximum=120.0)
#: Error codes after which the same request is sent again (after the backoff).
TRANSIENT: Final = frozenset({"RequestThrottled", "ServiceUnavailable", "InternalError", "timeout"})
TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "REMOVED", "TIMED_OUT"})
#: statusDetails values are strings; keep them short (AWS limits the whole map).
DETAIL_MAX: Final = 200


def parse_document(document: Any, allowed: frozenset[str]) -> tuple[str, str, dict[str, Any]]:
    """(domain, service, data) of a job document, or JobDocumentError with the reason."""
    if not isinstance(document, dict):
        raise JobDocumentError("job document is not a JSON object")
    if document.get("operation") != OPERATION:
        raise JobDocumentError(f"operation must be {OPERATION!r}")
    service = document.get("service")
    if not isinstance(service, str) or service.count(".") != 1:
        raise JobDocumentError("service must be 'domain.service'")
    data = document.get("data", {})
    if not isinstance(data, dict):
        raise JobDocumentError("data must be a JSON object")
    if service not in allowed:
        raise JobDocumentError(f"service {service} is not on the allowed list")
    domain, _, name = service.partition(".")
    return domain, name, data


def _detail(text: str) -> str:
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


@dataclass(frozen=True)
class _Answer:
    """How a request ended: ``accepted``/``rejected`` (with AWS's body), ``timeout``
    (no answer in time) or ``offline`` (the link could not send it)."""

    kind: str
    body: Mapping[str, Any]

    @property
    def code(self) -> str:
        """AWS's error code of a rejection; ``timeout``/``offline`` otherwise."""
        return str(self.body.get("code")) if self.kind == "rejected" else self.kind


class JobRunner(LinkProtocol):
    """Runs the thing's job executions one after the other (see the module docstring)."""

    def __init__(
        self,
        link: MqttLink,
        host: Host,
        thing_name: str,
        allowed_services: Iterable[str],
        *,
        backoff: Backoff = DEFAULT_BACKOFF,
        request_timeout: float = REQUEST_TIMEOUT,
        service_timeout: float = SERVICE_TIMEOUT,
    ) -> None:
        super().__init__()
        self._link = link
        self._host = host
        self.thing_name = thing_name
        self.allowed = frozenset(allowed_services)
        self.prefix = f"$aws/things/{thing_name}/jobs"
        self._pacing: BackoffCounter = backoff.counter()
        self._request_timeout = request_timeout
        self._service_timeout = service_timeout
        self._answers: dict[str, tuple[anyio.Event, list[tuple[str, Any]]]] = {}
        self._wake = anyio.Event()
        self._connected = anyio.Event()
        #: Set (and replaced) on each connect: answers to requests sent before it are
        #: lost with the old session, so those requests are sent again.
        self._reconnected = anyio.Event()
        #: job id of the execution running now (None: idle).
        self.current: str | None = None
        self.stats: dict[str, int] = {
            "succeeded": 0,
            "failed": 0,
            "rejected": 0,
            "interrupted": 0,
            "given_up": 0,
        }

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        await self._link.subscribe(f"{self.prefix}/notify-next", self._on_notify)
        for topic in (
            "start-next/accepted",
            "start-next/rejected",
            "+/update/accepted",
            "+/update/rejected",
            "+/get/accepted",
            "+/get/rejected",
        ):
            await self._link.subscribe(f"{self.prefix}/{topic}", self._on_answer)
        self._unsubs.append(self._link.on_connect(self._on_connect))
        self._connected.set()  # optimistic: a failed publish says otherwise
        self._wake.set()
        self._spawn_run(self._host, f"aws_iot jobs {self.thing_name}")

    # -- inputs ----------------------------------------------------------------------
    async def _on_connect(self) -> None:
        self._connected.set()
        self._reconnected.set()
        self._reconnected = anyio.Event()
        self._wake.set()

    def _on_notify(self, topic: str, payload: bytes) -> None:
        if not self._stopped:
            self._wake.set()

    def _on_answer(self, topic: str, payload: bytes) -> None:
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError):
            return
        if not isinstance(body, dict):
            return
        waiting = self._answers.get(str(body.get("clientToken")))
        if waiting is None:
            return  # another client's answer, or one we stopped waiting for
        event, slot = waiting
        if not event.is_set():
            slot.append((topic.rsplit("/", 1)[1], body))
            event.set()

    # -- requests --------------------------------------------------------------------
    async def _request(self, topic: str, body: dict[str, Any]) -> _Answer:
        """Send and await the answer that carries our clientToken."""
        token = uuid.uuid4().hex
        event = anyio.Event()
        slot: list[tuple[str, Any]] = []
        self._answers[token] = (event, slot)
        reconnected = self._reconnected
        try:
            try:
                await self._link.publish(topic, json.dumps({**body, "clientToken": token}).encode())
            except Exception as exc:  # noqa: BLE001 - any link failure: offline
                _LOGGER.debug("%s not sent: %s", topic, exc)
                self._connected = anyio.Event()
                return _Answer("offline", {})
            with anyio.move_on_after(self._request_timeout):
                async with anyio.create_task_group() as tg:

                    async def cancel_on_reconnect() -> None:
                        await reconnected.wait()
                        tg.cancel_scope.cancel()

                    tg.start_soon(cancel_on_reconnect)
                    await event.wait()
                    tg.cancel_scope.cancel()
        finally:
            del self._answers[token]
        if not slot:
            return _Answer("offline" if reconnected.is_set() else "timeout", {})
        kind, answer = slot[0]
        return _Answer(kind, answer)

    async def _retrying(self, topic: str, body: dict[str, Any]) -> _Answer:
        """``_request`` until AWS accepts it or refuses it for good (transient errors
        wait for the backoff, offline waits for the next connect)."""
        while True:
            answer = await self._request(topic, body)
            if answer.kind == "offline":
                await self._connected.wait()
                continue
            if answer.code in TRANSIENT:
                delay = self._pacing.failed()
                _LOGGER.warning("%s: %s (retrying in %.1f s)", topic, answer.code, delay)
                await anyio.sleep(delay)
                continue
            self._pacing.succeeded()
            return answer

    # -- the loop ----------------------------------------------------------------------
    async def _run(self, scope: anyio.CancelScope) -> None:
        with scope:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                await self._connected.wait()
                while (execution := await self._start_next()) is not None:
                    await self._execute(execution)

    async def _start_next(self) -> dict[str, Any] | None:
        answer = await self._retrying(
            f"{self.prefix}/start-next", {"statusDetails": {"step": "started"}}
        )
        if answer.kind != "accepted":
            _LOGGER.warning("%s: start-next refused: %s", self.prefix, dict(answer.body))
            return None
        execution = answer.body.get("execution")
        return execution if isinstance(execution, dict) else None

    async def _execute(self, execution: dict[str, Any]) -> None:
        job_id = str(execution.get("jobId"))
        version = execution.get("versionNumber")
        details = execution.get("statusDetails") or {}
        self.current = job_id
        try:
            if isinstance(details, dict) and details.get("step") == "running":
                self.stats["interrupted"] += 1
                reason = "interrupted during the service call (restart); not run again"
                await self._finish(job_id, version, "FAILED", {"reason": reason})
                return
            try:
                domain, service, data = parse_document(execution.get("jobDocument"), self.allowed)
            except JobDocumentError as exc:
                self.stats["rejected"] += 1
                _LOGGER.warning("%s: job %s rejected: %s", self.prefix, job_id, exc)
                await self._finish(job_id, version, "REJECTED", {"reason": _detail(str(exc))})
                return
            name = f"{domain}.{service}"
            version = await self._update(
                job_id, version, "IN_PROGRESS", {"step": "running", "service": name}
            )
            if version is None:
                return  # cancelled or gone meanwhile: do not run it
            try:
                with anyio.fail_after(self._service_timeout):
                    await self._host.services.call(
                        domain, service, data, blocking=True, context=Context()
                    )
            except Exception as exc:  # noqa: BLE001 - the job fails, the runner goes on
                self.stats["failed"] += 1
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                await self._finish(
                    job_id, version, "FAILED", {"service": name, "reason": _detail(reason)}
                )
                return
            self.stats["succeeded"] += 1
            await self._finish(job_id, version, "SUCCEEDED", {"service": name})
        finally:
            self.current = None

    async def _finish(
        self, job_id: str, version: Any, status: str, details: dict[str, str]
    ) -> None:
        if await self._update(job_id, version, status, {"step": "done", **details}) is None:
            self.stats["given_up"] += 1

    async def _update(
        self, job_id: str, version: Any, status: str, details: dict[str, str]
    ) -> int | None:
        """Report ``status``; returns the execution's new version, None when AWS says the
        execution cannot take it (ended, cancelled, removed)."""
        for _ in range(5):
            body: dict[str, Any] = {
                "status": status,
                "statusDetails": details,
                "includeJobExecutionState": True,
            }
            if isinstance(version, int):
                body["expectedVersion"] = version
            answer = await self._retrying(f"{self.prefix}/{job_id}/update", body)
            if answer.code == "VersionMismatch":
                state = answer.body.get("executionState")
                if not isinstance(state, dict):
                    state = await self._describe(job_id)
                if (
                    state is not None
                    and state.get("status") == status
                    and state.get("statusDetails") == details
                ):
                    # our own update, sent again after a reconnect: it did arrive
                    new = state.get("versionNumber")
                    return new if isinstance(new, int) else 0
                if state is None or state.get("status") in TERMINAL:
                    return None
                version = state.get("versionNumber")
                continue
            if answer.kind != "accepted":
                _LOGGER.warning(
                    "%s: job %s not updated to %s: %s",
                    self.prefix,
                    job_id,
                    status,
                    dict(answer.body),
                )
                return None
            state = answer.body.get("executionState") or {}
            new = state.get("versionNumber") if isinstance(state, dict) else None
            return new if isinstance(new, int) else (version + 1 if isinstance(version, int) else 0)
        return None

    async def _describe(self, job_id: str) -> dict[str, Any] | None:
        answer = await self._retrying(f"{self.prefix}/{job_id}/get", {"includeJobDocument": False})
        if answer.kind != "accepted":
            return None
        execution = answer.body.get("execution")
        return execution if isinstance(execution, dict) else None
