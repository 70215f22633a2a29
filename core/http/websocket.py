"""The WebSocket API at ``/api/websocket``: Home Assistant's protocol, bounded queues.

Protocol (message shapes as in Home Assistant, so HA client libraries work)::

    server: {"type": "auth_required", "ha_version": HA_PROTOCOL_VERSION}
    client: {"type": "auth", "access_token": "<long-lived token>"}
         or {"type": "auth", "session": true}      # the browser UI: see below
    server: {"type": "auth_ok", "ha_version": ...}
         or {"type": "auth_invalid", "message": ...} and the socket is closed

Then every client message is ``{"id": N, "type": "<command>", ...}`` with ids that
increase, answered by ``{"id": N, "type": "result", "success": true, "result": ...}`` or
``{"id": N, "type": "result", "success": false, "error": {"code", "message"}}``.
Subscriptions send ``{"id": N, "type": "event", "event": {...}}`` until
``unsubscribe_events`` names their id. The commands are listed in ``ws_commands``.

Session auth: the browser cannot put its HttpOnly session cookie into a message, but it
sends the cookie with the upgrade request. ``{"type": "auth", "session": true}`` accepts
that cookie, only if the upgrade carried an ``Origin`` of this server (or a trusted
one): that is what stops another site's page from riding on the cookie.

A socket lives no longer than its credential: it is closed (1008, with the reason) as
soon as the token it authenticated with is deleted, its session ends (logout, a password
change, expiry) or its user is removed. The auth store signals revocations
(``close_revoked`` runs at once); the credential is also checked before each command and
every ``ws_recheck_interval`` seconds for a socket that only listens.

Permissions (``core/permissions.py``): a command marked admin answers ``unauthorized``
to other users; what the others get is filtered by their policy (states, entity
subscriptions, ``state_changed`` events per entity they may read; event types other than
``USER_EVENTS`` refused), and their service calls are checked by the service registry
(the call carries their user id). A change of the user's role or policy closes its
sockets (1008, "permissions changed"): a client reconnects and gets a snapshot under its
new rights, instead of keeping subscriptions made under the old ones. A token with the
``metrics`` scope cannot open a socket.

Bounds (what one client can make the host hold): every message to a client goes through
a queue of at most ``ws_max_pending`` messages and ``ws_max_pending_bytes`` bytes (the
``http:`` options; one message bigger than the byte bound on its own still goes out). A
client that lets it fill up, by reading too slowly or not at all, is disconnected with
close code 1013 and the reason, instead of the server buffering without bound for a
phone that went to sleep. A client's message may be ``MAX_MESSAGE`` bytes (1009 beyond);
at most ``MAX_IN_FLIGHT`` of its commands run at once (then its socket is not read until
one ends, so TCP pushes back); and an error never echoes more than ``MAX_ERROR_TEXT``
characters of anything, since error text often quotes what the client sent.

With the HA feature ``coalesce_messages`` (``supported_features`` command), the writer
sends everything waiting as one JSON array frame: with many small events this is what
keeps fan-out cheap. A message of ``ALONE_BYTES`` or more (a plugin's large
``RawJson`` result) goes in a frame of its own, not copied into an array on the loop;
given in parts (``send_parts``), the writer joins it in a worker thread when its turn
comes.

Each message is encoded once for all clients (``jsoncache``): a client's frame is the
shared bytes with its own subscription id spliced in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
import anyio.to_thread
import voluptuous as vol
from aiohttp import WSCloseCode, WSMsgType, hdrs, web
from anyio.abc import TaskGroup

from ..context import acting_as
from ..permissions import Permissions
from .auth import SESSION_COOKIE, allowed_origin, in_band_auth
from .auth_store import Credential, User
from .core_config import HA_PROTOCOL_VERSION
from .errors import HttpError, invalid_details, message_for, status_for
from .jsonutil import NestingError, dumpb, dumps, loads
from .raw import OFF_LOOP_BYTES
from .runtime import HttpRuntime, rt

if TYPE_CHECKING:
    from .ws_commands import CommandDef

#: ``HA_PROTOCOL_VERSION`` (``core_config``): the Home Assistant release whose API this
#: server follows, sent as ``ha_version`` and as ``version`` in ``get_config``;
#: Gatehouse's own version is ``gatehouse_version`` there.

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

AUTH_TIMEOUT: Final = 10.0
CLOSE_TIMEOUT: Final = 5.0
#: Largest message a client may send (aiohttp closes with 1009 beyond): commands are
#: small, the largest being config flow input and service data.
MAX_MESSAGE: Final = 1 << 20
#: Commands of one client running at once; more wait, unread, in the socket.
MAX_IN_FLIGHT: Final = 32
#: Longest error message sent (characters); longer ones are cut. Long enough for a
#: server-written list of choices (the entries a service may use), short enough that an
#: error quoting client input stays small beside the 1 MiB message it answers.
MAX_ERROR_TEXT: Final = 1000
#: A message this large is sent in a frame of its own even with ``coalesce_messages``
#: (``raw.OFF_LOOP_BYTES``: joining it into an array would copy it on the loop).
ALONE_BYTES: Final = OFF_LOOP_BYTES
#: How much of a client's value an error message quotes.
_QUOTE: Final = 40


def quote(value: str) -> str:
    """``value`` for an error message: repr'd, and only its start if it is long."""
    if len(value) <= _QUOTE:
        return repr(value)
    return f"{value[:_QUOTE]!r}... ({len(value)} characters)"


def _clip(message: str) -> str:
    return message if len(message) <= MAX_ERROR_TEXT else message[: MAX_ERROR_TEXT - 3] + "..."


class _Parts:
    """A large message queued in parts (``send_parts``): its ``len`` is its size, so
    it counts towards the byte bound like any message; the writer joins it."""

    __slots__ = ("parts", "size")

    def __init__(self, parts: tuple[bytes, ...], size: int) -> None:
        self.parts = parts
        self.size = size

    def __len__(self) -> int:
        return self.size


class Connection:
    """One authenticated WebSocket client: its queue, writer and subscriptions."""

    def __init__(
        self, runtime: HttpRuntime, request: web.Request, ws: web.WebSocketResponse,
        user: User, credential: Credential,
    ) -> None:
        self.runtime = runtime
        self.host = runtime.host
        self.ws = ws
        self.user = user
        #: What the client authenticated with; checked again on every command, every
        #: ``ws_recheck_interval`` and whenever the auth store revokes something.
        self.credential = credential
        #: The rights the subscriptions were made under: a change closes the socket.
        self._rights = (user.role, user.policy)
        self.remote = request.remote or "unknown"
        self._transport = request.transport
        self.max_pending = runtime.ws_max_pending
        self.max_pending_bytes = runtime.ws_max_pending_bytes
        self.subscriptions: dict[int, Callable[[], None]] = {}
        self.coalesce = False
        self.last_id = 0
        self.sent = 0
        self._queue: deque[bytes | _Parts] = deque()
        self._queued_bytes = 0
        self._in_flight = anyio.Semaphore(MAX_IN_FLIGHT)
        self._wakeup = asyncio.Event()
        self._closing = False
        self._tg: TaskGroup | None = None
        self._writer_scope: anyio.CancelScope | None = None
        #: Set once the connection is over and its subscriptions are gone.
        self.done = anyio.Event()
        self._close_finished: anyio.Event | None = None

    @property
    def permissions(self) -> Permissions:
        """What the user may do now (the filters of its subscriptions ask this)."""
        return self.user.permissions

    # -- sending (sync: called from bus listeners) -----------------------------------

    @property
    def queued_bytes(self) -> int:
        """Bytes of the messages waiting for the writer."""
        return self._queued_bytes

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, payload: bytes | _Parts) -> None:
        """Queue one message; a full queue disconnects the client (it is too slow)."""
        if self._closing:
            return
        queue = self._queue
        size = len(payload)
        if queue and (
            len(queue) >= self.max_pending
            or self._queued_bytes + size > self.max_pending_bytes
        ):
            self._too_slow()
            return
        queue.append(payload)
        self._queued_bytes += size
        self._wakeup.set()

    def send_parts(self, parts: Sequence[bytes]) -> None:
        """Queue one message given in parts (joined in order). A large one is joined
        by the writer, in a worker thread, when its turn comes: in order with the
        other messages, and no copy of megabytes on the loop."""
        size = sum(len(part) for part in parts)
        self.send(b"".join(parts) if size < ALONE_BYTES else _Parts(tuple(parts), size))

    def send_result(self, msg_id: int, result: Any = None) -> None:
        self.send(b'{"id":%d,"type":"result","success":true,"result":%b}' % (
            msg_id, dumpb(result)))

    def send_raw_result(self, msg_id: int, encoded: bytes) -> None:
        """A result already encoded (one JSON value), spliced in as it is."""
        self.send(b'{"id":%d,"type":"result","success":true,"result":%b}' % (msg_id, encoded))

    def send_raw_parts(self, msg_id: int, parts: Sequence[bytes]) -> None:
        """A result already encoded (one JSON value, in parts: a plugin's ``RawJson``),
        spliced in as it is (``send_parts``)."""
        self.send_parts([b'{"id":%d,"type":"result","success":true,"result":' % msg_id,
                         *parts, b"}"])

    def send_raw_event(self, msg_id: int, parts: Sequence[bytes]) -> None:
        """An event already encoded (one JSON value, in parts), spliced in as it is."""
        self.send_parts([b'{"id":%d,"type":"event","event":' % msg_id, *parts, b"}"])

    def send_error(self, msg_id: int | None, code: str, message: str) -> None:
        self.send(dumpb({
            "id": msg_id, "type": "result", "success": False,
            "error": {"code": code, "message": _clip(message)},
        }))

    def send_event(self, msg_id: int, event: bytes) -> None:
        self.send(b'{"id":%d,"type":"event","event":%b}' % (msg_id, event))

    # -- running ---------------------------------------------------------------------

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._writer)
            tg.start_soon(self._recheck)
            try:
                await self._reader()
                if self._close_finished is not None:  # our close is under way: let it end
                    with anyio.move_on_after(CLOSE_TIMEOUT + 1):
                        await self._close_finished.wait()
            finally:
                tg.cancel_scope.cancel()

    async def _writer(self) -> None:
        with anyio.CancelScope() as scope:
            self._writer_scope = scope
            ws, queue = self.ws, self._queue
            try:
                while True:
                    await self._wakeup.wait()
                    self._wakeup.clear()
                    while queue:
                        head = queue.popleft()
                        self._queued_bytes -= len(head)
                        count = 1
                        if isinstance(head, _Parts):
                            # bytes.join lets go of the interpreter lock for a large
                            # copy: the loop runs meanwhile.
                            frame = await anyio.to_thread.run_sync(b"".join, head.parts)
                        elif self.coalesce and queue and len(head) < ALONE_BYTES:
                            # What waits, up to a large message, as one array frame
                            # (that large one goes alone next: not copied into an
                            # array on the loop; HA's clients take both forms).
                            batch = [head]
                            while queue:
                                nxt = queue[0]
                                if not isinstance(nxt, bytes) or len(nxt) >= ALONE_BYTES:
                                    break
                                queue.popleft()
                                self._queued_bytes -= len(nxt)
                                batch.append(nxt)
                            count = len(batch)
                            frame = head if count == 1 else b"[" + b",".join(batch) + b"]"
                        else:
                            frame = head
                        # A large frame as a memoryview (as aiohttp's send_bytes passes
                        # one): what the socket does not take at once is copied into
                        # the transport's buffer once, not first sliced into a copy.
                        # (typed bytes, takes any buffer: its writer only len()s it and
                        # hands it to transport.write).
                        await ws.send_frame(
                            cast(bytes, memoryview(frame)) if len(frame) >= ALONE_BYTES
                            else frame, WSMsgType.TEXT)
                        self.sent += count
                        self.runtime.ws_messages_sent += count
            except (ConnectionError, RuntimeError) as err:
                _LOGGER.debug("WebSocket %s: writer stopped: %s", self.remote, err)
                if self._tg is not None:
                    self._tg.cancel_scope.cancel()

    async def _reader(self) -> None:
        async for msg in self.ws:
            if msg.type is WSMsgType.TEXT:
                # A slot for the command this may start: with MAX_IN_FLIGHT running,
                # stop reading (aiohttp then stops reading the socket: TCP pushes back).
                await self._in_flight.acquire()
                if not self._handle_text(msg.data):
                    self._in_flight.release()
            elif msg.type is WSMsgType.BINARY:
                await self.close(WSCloseCode.UNSUPPORTED_DATA, "binary messages are not supported")
                return
            else:
                return

    async def _recheck(self) -> None:
        """Close the socket once its credential is gone, even if the client sends nothing."""
        while True:
            await anyio.sleep(self.runtime.ws_recheck_interval)
            if not self.check_credential():
                return

    def check_credential(self) -> bool:
        """False (and the socket closing) if the credential was revoked or expired, or
        the user's role or policy changed since the socket authenticated."""
        if self._closing:
            return False
        live = self.runtime.auth.is_live(self.credential)
        if live and (self.user.role, self.user.policy) == self._rights:
            return True
        if live:
            reason = "permissions changed: reconnect"
        elif self.runtime.auth.get_user(self.credential.user_id) is None:
            reason = "credentials revoked: the user was removed"
        elif self.credential.kind == "token":
            reason = "credentials revoked: the access token was deleted"
        else:
            reason = "session ended: log in again"
        _LOGGER.info("WebSocket client %s (%s): %s", self.remote, self.user.username, reason)
        self.close_soon(WSCloseCode.POLICY_VIOLATION, reason)
        return False

    def _handle_text(self, text: str) -> bool:
        """Handle one message; True if it started a command (which holds a slot)."""
        from .ws_commands import COMMANDS

        if not self.check_credential():
            return False
        try:
            msg = loads(text)
        except NestingError as err:
            _LOGGER.info("WebSocket client %s (%s): %s", self.remote, self.user.username, err)
            self.send_error(None, "invalid_format", f"message refused: {err}")
            return False
        except ValueError:
            self.send_error(None, "invalid_format", "message is not valid JSON")
            return False
        if not isinstance(msg, dict):
            self.send_error(None, "invalid_format", "message must be a JSON object")
            return False
        msg_id, kind = msg.get("id"), msg.get("type")
        if not isinstance(msg_id, int) or isinstance(msg_id, bool) or not isinstance(kind, str):
            self.send_error(msg_id if isinstance(msg_id, int) else None, "invalid_format",
                            "message needs an integer 'id' and a string 'type'")
            return False
        if msg_id <= self.last_id:
            self.send_error(msg_id, "id_reuse", "Identifier values have to increase.")
            return False
        self.last_id = msg_id
        command = COMMANDS.get(kind) or self.runtime.plugin_commands.get(kind)
        if command is None:
            self.send_error(msg_id, "unknown_command", f"Unknown command {quote(kind)}.")
            return False
        if command.admin and not self.permissions.is_admin:
            self.send_error(msg_id, "unauthorized", "admin rights required")
            return False
        payload = {k: v for k, v in msg.items() if k not in ("id", "type")}
        try:
            args = command.schema(payload)
        except vol.Invalid as err:
            self.send_error(msg_id, "invalid_format", invalid_details(err)[0])
            return False
        assert self._tg is not None
        self._tg.start_soon(self._run, command, msg_id, args, name=f"ws {kind}")
        return True

    async def _run(self, command: CommandDef, msg_id: int, args: dict[str, Any]) -> None:
        try:
            await self._run_command(command, msg_id, args)
        finally:
            self._in_flight.release()

    async def _run_command(
        self, command: CommandDef, msg_id: int, args: dict[str, Any]
    ) -> None:
        try:
            with acting_as(self.user.id):  # who caused what the command changes
                await command.handler(self, msg_id, args)
        except HttpError as err:
            self.send_error(msg_id, _code_for_status(err.status), err.message)
        except Exception as err:
            known = status_for(err)
            if known is None:
                _LOGGER.exception("WebSocket command %s failed", command.name)
                self.send_error(msg_id, "unknown_error", "internal error")
            else:
                self.send_error(msg_id, known[1], message_for(err)[1])

    # -- closing ---------------------------------------------------------------------

    def close_soon(self, code: int, reason: str) -> None:
        """Stop at once (nothing more is handled or sent) and close in the background."""
        if self._closing:
            return
        self._closing = True
        self._queue.clear()
        self._queued_bytes = 0
        if self._tg is not None:
            self._tg.start_soon(self.close, code, reason)

    def _too_slow(self) -> None:
        _LOGGER.warning(
            "WebSocket client %s (%s) fell behind: %d messages, %d bytes waiting (limits "
            "%d, %d); disconnecting it", self.remote, self.user.username, len(self._queue),
            self._queued_bytes, self.max_pending, self.max_pending_bytes,
        )
        if len(self._queue) >= self.max_pending:
            reason = f"too slow: more than {self.max_pending} messages waiting"
        else:
            reason = f"too slow: more than {self.max_pending_bytes} bytes waiting"
        self.close_soon(WSCloseCode.TRY_AGAIN_LATER, reason)

    async def close(self, code: int, reason: str) -> None:
        """Stop writing and close with ``code`` and ``reason`` (bounded in time)."""
        self._closing = True
        if self._close_finished is not None:
            return
        finished = self._close_finished = anyio.Event()
        if self._writer_scope is not None:
            self._writer_scope.cancel()
        try:
            with anyio.move_on_after(CLOSE_TIMEOUT) as scope:
                await self.ws.close(code=code, message=reason.encode()[:123])
            if scope.cancelled_caught and self._transport is not None:
                self._transport.abort()  # the client does not even read: drop it
        finally:
            finished.set()

    def unsubscribe_all(self) -> None:
        for undo in self.subscriptions.values():
            undo()
        self.subscriptions.clear()


def close_revoked(runtime: HttpRuntime) -> None:
    """Close every connection whose credential the auth store no longer accepts."""
    for connection in list(runtime.connections):
        connection.check_credential()


def _code_for_status(status: int) -> str:
    return {400: "invalid_format", 401: "unauthorized", 403: "unauthorized",
            404: "not_found", 409: "not_allowed"}.get(status, "unknown_error")


@routes.get("/api/websocket")
@in_band_auth
async def websocket(request: web.Request) -> web.WebSocketResponse:
    runtime = rt(request)
    if runtime.stopping:
        raise HttpError(503, "the server is stopping")
    origin = request.headers.get(hdrs.ORIGIN)
    origin_ok = origin is not None and allowed_origin(runtime, request, origin)
    if origin is not None and not origin_ok:
        raise HttpError(403, f"origin {origin!r} is not allowed")
    ws = web.WebSocketResponse(heartbeat=55, compress=False, max_msg_size=MAX_MESSAGE)
    await ws.prepare(request)
    remote = request.remote or "unknown"
    found = await _authenticate(request, ws, runtime, origin_ok, remote)
    if found is None:
        return ws
    connection = Connection(runtime, request, ws, *found)
    runtime.connections.add(connection)
    try:
        await connection.run()
    finally:
        connection.unsubscribe_all()
        runtime.connections.discard(connection)
        try:
            if not ws.closed:
                with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                    await ws.close()
        finally:
            connection.done.set()
    return ws


async def _authenticate(
    request: web.Request, ws: web.WebSocketResponse, runtime: HttpRuntime,
    origin_ok: bool, remote: str,
) -> tuple[User, Credential] | None:
    """The auth phase; None (and a closed socket) if the client did not authenticate."""
    await ws.send_str(dumps({"type": "auth_required", "ha_version": HA_PROTOCOL_VERSION}))
    msg = None
    with anyio.move_on_after(AUTH_TIMEOUT):
        msg = await ws.receive()
    if msg is None or msg.type is not WSMsgType.TEXT:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"auth required")
        return None
    try:
        data = loads(msg.data)
    except NestingError as err:
        _LOGGER.info("WebSocket auth from %s refused: %s", remote, err)
        await _refuse(ws, f"auth message refused: {err}")
        return None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("type") != "auth":
        await _refuse(ws, "expected {'type': 'auth', ...} first")
        return None
    # Not counted towards the login lockout: tokens and session cookies are 256-bit
    # random values that cannot be guessed, and a UI reconnecting with an expired
    # session must not lock its own address out of the login page.
    found: tuple[User, Credential] | None = None
    token = data.get("access_token")
    if isinstance(token, str) and token:
        by_token = runtime.auth.token_for(token)
        if by_token is not None and by_token[0].scope is not None:
            _LOGGER.info("WebSocket auth from %s with a %s token refused", remote,
                         by_token[0].scope)
            await _refuse(ws, "this token may only read /metrics")
            return None
        if by_token is not None:
            found = by_token[1], Credential("token", by_token[0].id, by_token[1].id)
    elif data.get("session") is True:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not origin_ok:
            await _refuse(ws, "session auth needs an Origin header of this server")
            return None
        by_session = runtime.auth.session_for(cookie) if cookie else None
        if by_session is not None:
            session, user = by_session
            found = user, Credential("session", session.id, user.id)
    if found is None:
        _LOGGER.info("WebSocket auth from %s refused", remote)
        await _refuse(ws, "Invalid access token or password")
        return None
    await ws.send_str(dumps({"type": "auth_ok", "ha_version": HA_PROTOCOL_VERSION}))
    return found


async def _refuse(ws: web.WebSocketResponse, message: str) -> None:
    await ws.send_str(dumps({"type": "auth_invalid", "message": message}))
    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"auth invalid")
