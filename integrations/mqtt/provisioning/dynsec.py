"""A client for Mosquitto's dynamic security plugin, over the entry's own connection.

The plugin is administered by publishing ``{"commands": [...]}`` to
``$CONTROL/dynamic-security/v1``; it answers every request with one message on
``$CONTROL/dynamic-security/v1/response``: ``{"responses": [{"command", "error"?,
"data"?, "correlationData"?}]}``. Every admin connection subscribed there receives
every answer, so each command carries a ``correlationData`` of our own and an answer
is matched by it, never by arrival order. Command and field names follow the plugin's
README (Mosquitto 2.0, ``plugins/dynamic-security/README.md``); the plugin's error
strings (``Client already exists``, ``Role not found``...) are passed on verbatim in
``DynsecError``.

Requests go out at QoS 0 and only while connected: a QoS 1 request kept by paho across
an outage would run *after* we reported a timeout (a client created behind the
admin's back). Nothing here logs a request: ``createClient`` and
``setClientPassword`` carry passwords.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anyio

from ..api import MqttMessage
from .errors import DynsecError, DynsecTimeout, ProvisioningError

_LOGGER = logging.getLogger(__name__)

CONTROL_TOPIC: Final = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC: Final = "$CONTROL/dynamic-security/v1/response"
#: An answer larger than this is not parsed (listClients of a huge broker: page it).
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024

#: ACL types of Mosquitto 2.0's plugin.
ACL_TYPES: Final = frozenset({
    "publishClientSend", "publishClientReceive", "subscribeLiteral", "subscribePattern",
    "unsubscribeLiteral", "unsubscribePattern",
})


class ControlChannel(Protocol):
    """What the client needs of an MQTT connection (the mqtt entry's, see
    ``provisioning.entry_channel``)."""

    @property
    def connected(self) -> bool: ...

    def subscribe(self, topic_filter: str, callback: Callable[[MqttMessage], None],
                  qos: int) -> Callable[[], None]: ...

    def publish_now(self, topic: str, payload: bytes) -> None: ...

    async def wait_subscribed(self, timeout: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class Response:
    """One answer: ``error`` is None on success; ``data`` for get/list commands."""

    command: str
    error: str | None
    data: Mapping[str, Any] | None


def acl(acltype: str, topic: str, *, allow: bool = True, priority: int = 0) -> dict[str, Any]:
    """One ACL entry as ``createRole``/``addRoleACL`` take it."""
    if acltype not in ACL_TYPES:
        raise ValueError(f"unknown ACL type {acltype!r}; one of {sorted(ACL_TYPES)}")
    return {"acltype": acltype, "topic": topic, "allow": allow, "priority": priority}


class _Waiter:
    __slots__ = ("done", "response")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.response: Response | None = None


class DynsecClient:
    """Sends commands, waits for their answers (matched by ``correlationData``)."""

    def __init__(self, channel: ControlChannel, timeout: float) -> None:
        self._channel = channel
        self.timeout = timeout
        self._waiting: dict[str, _Waiter] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self.unmatched = 0  # answers nobody here waited for (another admin's, or late)

    def start(self) -> Callable[[], None]:
        """Subscribe to the answers; returns the undo."""
        self._unsubscribe = self._channel.subscribe(RESPONSE_TOPIC, self._on_response, 0)

        def stop() -> None:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            for waiter in self._waiting.values():
                waiter.done.set()  # wakes them; no response: they raise a timeout
            self._waiting.clear()

        return stop

    # -- the transport ------------------------------------------------------------------

    def _on_response(self, message: MqttMessage) -> None:
        if len(message.payload) > MAX_RESPONSE_BYTES:
            _LOGGER.warning("Ignored a dynamic security answer of %d bytes",
                            len(message.payload))
            return
        try:
            answers = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError, RecursionError):
            _LOGGER.warning("Ignored a dynamic security answer that is not "
                            '{"responses": [...]}')
            return
        if not isinstance(answers, list):
            return
        for answer in answers:
            if not isinstance(answer, dict):
                continue
            waiter = self._waiting.get(str(answer.get("correlationData")))
            if waiter is None:
                self.unmatched += 1
                if "correlationData" not in answer and answer.get("error"):
                    # The plugin could not read a request at all (not JSON, no
                    # "commands"): it cannot say whose, so say it here.
                    _LOGGER.warning("The dynamic security plugin refused a request: %s",
                                    answer.get("error"))
                continue
            data = answer.get("data")
            error = answer.get("error")
            waiter.response = Response(str(answer.get("command", "")),
                                       None if error is None else str(error),
                                       data if isinstance(data, dict) else None)
            waiter.done.set()

    async def run(self, commands: Iterable[Mapping[str, Any]], *,
                  timeout: float | None = None) -> list[Response]:
        """Send ``commands`` as one request; their answers, in the same order.

        Raises ``DynsecTimeout`` naming the commands left unanswered, and
        ``ProvisioningError`` when the connection is down or not subscribed yet.
        """
        if self._unsubscribe is None:
            raise ProvisioningError("the dynamic security client is not started")
        if not self._channel.connected:
            raise ProvisioningError("the mqtt entry is not connected to its broker")
        limit = self.timeout if timeout is None else timeout
        if not await self._channel.wait_subscribed(limit):
            raise DynsecTimeout(
                f"the broker did not acknowledge the subscription to {RESPONSE_TOPIC} "
                f"within {limit:g}s")
        token = secrets.token_hex(8)
        sent: list[dict[str, Any]] = []
        waiters: list[tuple[str, _Waiter]] = []
        for index, command in enumerate(commands):
            key = f"gatehouse-{token}-{index}"
            sent.append({**command, "correlationData": key})
            waiter = self._waiting[key] = _Waiter()
            waiters.append((key, waiter))
        if not sent:
            return []
        try:
            self._channel.publish_now(CONTROL_TOPIC,
                                      json.dumps({"commands": sent}).encode("utf-8"))
            with anyio.move_on_after(limit):
                for _key, waiter in waiters:
                    await waiter.done.wait()
        finally:
            for key, _waiter in waiters:
                self._waiting.pop(key, None)
        missing = [str(c["command"]) for c, (_k, w) in zip(sent, waiters, strict=True)
                   if w.response is None]
        if missing:
            raise DynsecTimeout(
                f"no answer to {', '.join(missing)} from the dynamic security plugin within "
                f"{limit:g}s: is mosquitto_dynamic_security.so loaded, and may this entry's "
                f"user publish to {CONTROL_TOPIC} and subscribe to {RESPONSE_TOPIC}?")
        return [w.response for _k, w in waiters if w.response is not None]

    async def call(self, command: str, *, ignore: Iterable[str] = (), **fields: Any
                   ) -> Response:
        """One command; raises ``DynsecError`` unless it succeeded or its error is one of
        ``ignore`` (``"Group already exists"``: making sure is enough)."""
        (response,) = await self.run([{"command": command, **fields}])
        if response.error is not None and response.error not in set(ignore):
            raise DynsecError(command, response.error)
        return response

    # -- clients ---------------------------------------------------------------------------

    async def create_client(
        self, username: str, password: str | None = None, *, textname: str = "",
        textdescription: str = "", roles: Iterable[str] = (), groups: Iterable[str] = (),
        clientid: str | None = None,
    ) -> None:
        """``createClient``; without a password the client can only be a certificate
        identity (``use_identity_as_username``): the plugin never accepts it by password."""
        fields: dict[str, Any] = {
            "username": username, "textname": textname, "textdescription": textdescription,
            "roles": [{"rolename": r, "priority": -1} for r in roles],
            "groups": [{"groupname": g, "priority": -1} for g in groups],
        }
        if password is not None:
            fields["password"] = password
        if clientid is not None:
            fields["clientid"] = clientid
        await self.call("createClient", **fields)

    async def delete_client(self, username: str, *, missing_ok: bool = False) -> None:
        await self.call("deleteClient", ignore=_missing(missing_ok, "Client"),
                        username=username)

    async def disable_client(self, username: str) -> None:
        """Refuses the client's logins and kicks its connected sessions."""
        await self.call("disableClient", username=username)

    async def enable_client(self, username: str) -> None:
        await self.call("enableClient", username=username)

    async def set_client_password(self, username: str, password: str) -> None:
        await self.call("setClientPassword", username=username, password=password)

    async def add_client_role(self, username: str, rolename: str, priority: int = -1) -> None:
        await self.call("addClientRole", username=username, rolename=rolename,
                        priority=priority)

    async def remove_client_role(self, username: str, rolename: str) -> None:
        await self.call("removeClientRole", username=username, rolename=rolename)

    async def get_client(self, username: str) -> dict[str, Any]:
        """The plugin's view of a client (``username``, ``roles``, ``groups``,
        ``disabled`` when it is); never a password."""
        response = await self.call("getClient", username=username)
        client = (response.data or {}).get("client")
        return dict(client) if isinstance(client, dict) else {}

    async def list_clients(self, *, verbose: bool = False, count: int = -1, offset: int = 0
                           ) -> list[Any]:
        """Usernames (or, ``verbose``, client objects)."""
        response = await self.call("listClients", verbose=verbose, count=count,
                                   offset=offset)
        clients = (response.data or {}).get("clients")
        return list(clients) if isinstance(clients, list) else []

    # -- roles -----------------------------------------------------------------------------

    async def create_role(self, rolename: str, acls: Iterable[Mapping[str, Any]] = (), *,
                          textname: str = "", exist_ok: bool = False) -> None:
        await self.call("createRole", ignore=_exists(exist_ok, "Role"), rolename=rolename,
                        textname=textname, acls=[dict(a) for a in acls])

    async def delete_role(self, rolename: str, *, missing_ok: bool = False) -> None:
        await self.call("deleteRole", ignore=_missing(missing_ok, "Role"), rolename=rolename)

    async def add_role_acl(self, rolename: str, acltype: str, topic: str, *,
                           allow: bool = True, priority: int = 0) -> None:
        await self.call("addRoleACL", rolename=rolename,
                        **acl(acltype, topic, allow=allow, priority=priority))

    async def get_role(self, rolename: str) -> dict[str, Any]:
        response = await self.call("getRole", rolename=rolename)
        role = (response.data or {}).get("role")
        return dict(role) if isinstance(role, dict) else {}

    # -- groups ----------------------------------------------------------------------------

    async def create_group(self, groupname: str, *, roles: Iterable[str] = (),
                           textname: str = "", exist_ok: bool = False) -> None:
        await self.call("createGroup", ignore=_exists(exist_ok, "Group"), groupname=groupname,
                        textname=textname,
                        roles=[{"rolename": r, "priority": -1} for r in roles])

    async def add_group_role(self, groupname: str, rolename: str, *, priority: int = -1,
                             exist_ok: bool = False) -> None:
        await self.call("addGroupRole",
                        ignore=("Group is already in this role",) if exist_ok else (),
                        groupname=groupname, rolename=rolename, priority=priority)

    async def add_group_client(self, groupname: str, username: str, *, priority: int = -1
                               ) -> None:
        await self.call("addGroupClient", groupname=groupname, username=username,
                        priority=priority)


def _exists(ok: bool, what: str) -> tuple[str, ...]:
    return (f"{what} already exists",) if ok else ()


def _missing(ok: bool, what: str) -> tuple[str, ...]:
    return (f"{what} not found",) if ok else ()
