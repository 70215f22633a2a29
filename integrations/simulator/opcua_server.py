"""An OPC UA server for the simulated plant (``process.ProcessModel``), for tests and demos.

The address space lives in the namespace ``urn:gatehouse:sim`` with string node ids, so
clients address nodes as ``nsu=urn:gatehouse:sim;s=Tank.Level`` whatever index the
namespace gets (``extra_namespaces`` registers others first to shift it on purpose)::

    Tank.Level, Tank.Temperature     Double, read-only, from the model
    Alarm.HighLevel                  Boolean, read-only
    Pump.Running                     Boolean, writable: a client write sets the model
    Valve.Setpoint                   Double, writable: a client write sets the model
    Types.<Boolean|Int16|...|String> writable scratch variables of every simple type
    Bench.V0000...                   ``extra_vars`` Doubles rewritten at ``extra_rate`` Hz

The model is stepped (unless ``step=False``, which tests use to drive values by hand)
and its values are pushed to the nodes every ``update_interval`` seconds; only changed
values are written, so monitored items see real changes. ``OpcuaSimulator`` exposes a few
knobs for tests (forced status codes, refusing subscriptions); ``serve_opcua`` is the plain
entry point used by ``scripts/simulators/opcua_sim.py``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus
from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.crypto import cert_gen, uacrypto
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes
from cryptography.x509.oid import ExtendedKeyUsageOID

from .process import ProcessModel

_LOGGER = logging.getLogger(__name__)

#: asyncua's helper has no annotations; typed once here, not at every call.
_der_from_x509: Callable[[Any], bytes] = uacrypto.der_from_x509

SIM_NAMESPACE = "urn:gatehouse:sim"
SIM_APPLICATION_URI = "urn:gatehouse:sim:server"
SERVER_CERT_FILE = "server_cert.der"
SERVER_KEY_FILE = "server_key.pem"
USER_CERTS_DIR = "user_certs"
"""Below ``certs_dir``: DER certificates accepted as X509 *user* identities."""

_VT = ua.VariantType

#: Scratch variables of every simple type, with their initial values.
TYPED_VARS: dict[str, tuple[ua.VariantType, Any]] = {
    "Types.Boolean": (_VT.Boolean, False),
    "Types.Int16": (_VT.Int16, 0),
    "Types.Int32": (_VT.Int32, 0),
    "Types.Int64": (_VT.Int64, 0),
    "Types.UInt16": (_VT.UInt16, 0),
    "Types.UInt32": (_VT.UInt32, 0),
    "Types.UInt64": (_VT.UInt64, 0),
    "Types.Float": (_VT.Float, 0.0),
    "Types.Double": (_VT.Double, 0.0),
    "Types.String": (_VT.String, ""),
}


@dataclass(frozen=True, slots=True)
class _ModelVar:
    """A node mirrored from the model; ``apply`` (writable nodes) sets the model."""

    name: str
    vtype: ua.VariantType
    read: Callable[[ProcessModel], Any]
    apply: Callable[[ProcessModel, Any], None] | None = None


def _set_pump(process: ProcessModel, value: Any) -> None:
    process.pump_on = bool(value)


def _set_valve(process: ProcessModel, value: Any) -> None:
    process.valve_setpoint = float(value)


MODEL_VARS: tuple[_ModelVar, ...] = (
    _ModelVar("Tank.Level", _VT.Double, lambda p: round(p.tank_level, 3)),
    _ModelVar("Tank.Temperature", _VT.Double, lambda p: round(p.temperature, 3)),
    _ModelVar("Alarm.HighLevel", _VT.Boolean, lambda p: p.high_level_alarm),
    _ModelVar("Pump.Running", _VT.Boolean, lambda p: p.pump_on, _set_pump),
    _ModelVar("Valve.Setpoint", _VT.Double, lambda p: round(p.valve_setpoint, 3), _set_valve),
)


def bench_var_name(index: int) -> str:
    """Name of the ``index``-th benchmark variable (``Bench.V0000``)."""
    return f"Bench.V{index:04d}"


class _SimUserManager(UserManager):
    """Username/password from ``users``; X509 identities whose certificate is in a folder.

    Returning ``None`` makes asyncua answer ``BadUserAccessDenied``. asyncua passes the
    secure channel's certificate along with *every* token, so a username is checked
    first and the certificate only decides when no username was given.
    """

    def __init__(self, users: dict[str, str], user_certs_dir: Path | None) -> None:
        self._users = dict(users)
        self._user_certs_dir = user_certs_dir

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is not None:
            ok = self._users.get(username) == password
            return User(role=UserRole.User, name=username) if ok else None
        if certificate is not None and self._known(certificate):
            return User(role=UserRole.User, name="x509")
        return None

    def _known(self, certificate: Any) -> bool:
        folder = self._user_certs_dir
        if folder is None or not folder.is_dir():
            return False
        der = certificate if isinstance(certificate, bytes) else _der_from_x509(certificate)
        return any(path.read_bytes() == der for path in folder.glob("*.der"))


class OpcuaSimulator:
    """The simulated plant as an OPC UA server; ``serve`` runs it until cancelled."""

    def __init__(
        self,
        process: ProcessModel,
        *,
        certs_dir: Path | None = None,
        security: bool = False,
        users: dict[str, str] | None = None,
        extra_vars: int = 0,
        extra_rate: float = 10.0,
        step: bool = True,
        update_interval: float = 0.1,
        extra_namespaces: Sequence[str] = (),
        max_subscriptions: int | None = None,
    ) -> None:
        if security and certs_dir is None:
            raise ValueError("security=True needs certs_dir for the server certificate")
        self.process = process
        self.certs_dir = certs_dir
        self.security = security
        self.users = users
        self.extra_vars = extra_vars
        self.extra_rate = extra_rate
        self.step = step
        self.update_interval = update_interval
        self.extra_namespaces = tuple(extra_namespaces)
        self.max_subscriptions = max_subscriptions
        self.server: Server | None = None
        self.namespace_index = 0
        self._nodes: dict[str, ua.NodeId] = {}
        self._pushed: dict[str, tuple[Any, str | None]] = {}
        self._forced_status: dict[str, str] = {}
        self._bench_counter = 0

    # -- knobs for tests -------------------------------------------------------------

    def node_id(self, name: str) -> ua.NodeId:
        """The current ``NodeId`` of a variable (its index depends on ``extra_namespaces``)."""
        return self._nodes[name]

    def set_status(self, name: str, status: str | None) -> None:
        """Publish ``name`` with status ``status`` (e.g. ``"BadSensorFailure"``) from the
        next sync on; ``None`` goes back to Good. Model variables only."""
        if status is None:
            self._forced_status.pop(name, None)
        else:
            getattr(StatusCodes, status)  # fail early on a typo
            self._forced_status[name] = status

    def set_max_subscriptions(self, count: int) -> None:
        """Make the server refuse new subscriptions beyond ``count`` (0: refuse all)."""
        self.max_subscriptions = count
        if self.server is not None:
            self.server.iserver.max_subscriptions = count

    def read_variant_type(self, name: str) -> ua.VariantType:
        """The variant type the server stores for ``name`` right now."""
        assert self.server is not None
        value = self.server.read_attribute_value(self._nodes[name]).Value
        assert value is not None
        return value.VariantType

    def read_value(self, name: str) -> Any:
        assert self.server is not None
        value = self.server.read_attribute_value(self._nodes[name]).Value
        return None if value is None else value.Value

    # -- running -----------------------------------------------------------------

    async def serve(
        self, host: str, port: int, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host:port`` until cancelled, then stop the server cleanly."""
        server = await self._build(host, port)
        await server.start()
        self.server = server
        try:
            _LOGGER.info("OPC UA simulator listening on opc.tcp://%s:%s/", host, port)
            task_status.started()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._model_loop)
                if self.extra_vars:
                    tg.start_soon(self._bench_loop)
        finally:
            with anyio.CancelScope(shield=True):
                await server.stop()
            self.server = None

    async def _build(self, host: str, port: int) -> Server:
        user_manager = None
        if self.users is not None:
            user_certs = self.certs_dir / USER_CERTS_DIR if self.certs_dir else None
            user_manager = _SimUserManager(self.users, user_certs)
        server = Server(user_manager=user_manager)
        await server.init()
        server.set_endpoint(f"opc.tcp://{host}:{port}/")
        server.set_server_name("Gatehouse plant simulator")
        await server.set_application_uri(SIM_APPLICATION_URI)
        if self.max_subscriptions is not None:
            server.iserver.max_subscriptions = self.max_subscriptions
        if self.security:
            await self._load_certificate(server)
            server.set_security_policy(
                [
                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                    ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
                    ua.SecurityPolicyType.Aes128Sha256RsaOaep_Sign,
                ]
            )
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.users is not None:
            server.set_identity_tokens([ua.UserNameIdentityToken, ua.X509IdentityToken])
        for uri in self.extra_namespaces:
            await server.register_namespace(uri)
        self.namespace_index = await server.register_namespace(SIM_NAMESPACE)
        await self._populate(server)
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_client_write)
        return server

    async def _load_certificate(self, server: Server) -> None:
        """Use ``certs_dir``'s server certificate, generating a self-signed one on first use."""
        assert self.certs_dir is not None
        self.certs_dir.mkdir(parents=True, exist_ok=True)
        cert_file = self.certs_dir / SERVER_CERT_FILE
        key_file = self.certs_dir / SERVER_KEY_FILE
        await cert_gen.setup_self_signed_certificate(
            key_file,
            cert_file,
            SIM_APPLICATION_URI,
            socket.gethostname(),
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            {"organizationName": "Gatehouse simulator"},
        )
        key_file.chmod(0o600)
        await server.load_certificate(cert_file)
        await server.load_private_key(key_file)

    async def _populate(self, server: Server) -> None:
        idx = self.namespace_index
        objects = server.nodes.objects
        folders: dict[str, Any] = {}

        async def variable(name: str, vtype: ua.VariantType, value: Any, writable: bool) -> None:
            folder_name, _, leaf = name.partition(".")
            folder = folders.get(folder_name)
            if folder is None:
                folder = await objects.add_object(
                    ua.NodeId(ua.String(folder_name), ua.Int16(idx)),
                    ua.QualifiedName(folder_name, idx),
                )
                folders[folder_name] = folder
            node = await folder.add_variable(
                ua.NodeId(ua.String(name), ua.Int16(idx)), ua.QualifiedName(leaf, idx), value, vtype
            )
            if writable:
                await node.set_writable()
            self._nodes[name] = node.nodeid

        for var in MODEL_VARS:
            await variable(var.name, var.vtype, var.read(self.process), var.apply is not None)
        for name, (vtype, initial) in TYPED_VARS.items():
            await variable(name, vtype, initial, True)
        for index in range(self.extra_vars):
            await variable(bench_var_name(index), _VT.Double, 0.0, False)
        self._pushed = {var.name: (var.read(self.process), None) for var in MODEL_VARS}

    async def _on_client_write(self, event: ServerItemCallback, _dispatcher: Any) -> None:
        """Apply a client's successful writes of writable model nodes to the model."""
        if not event.is_external:
            return
        appliers = {self._nodes[v.name]: v for v in MODEL_VARS if v.apply is not None}
        results = event.response_params or []
        for write, result in zip(event.request_params.NodesToWrite, results, strict=False):
            var = appliers.get(write.NodeId)
            if var is None or write.AttributeId != AttributeIds.Value or not result.is_good():
                continue
            value = write.Value.Value.Value if write.Value.Value is not None else None
            assert var.apply is not None
            var.apply(self.process, value)
            self._pushed[var.name] = (var.read(self.process), self._forced_status.get(var.name))

    async def _model_loop(self) -> None:
        while True:
            await anyio.sleep(self.update_interval)
            if self.step:
                self.process.step(self.update_interval)
            await self.sync()

    async def sync(self) -> None:
        """Push changed model values (and forced statuses) to the address space now."""
        server = self.server
        if server is None:
            return
        now = ua.DateTime.now(UTC)
        for var in MODEL_VARS:
            value, status = var.read(self.process), self._forced_status.get(var.name)
            if self._pushed.get(var.name) == (value, status):
                continue
            code = ua.StatusCode(getattr(StatusCodes, status)) if status else ua.StatusCode()
            await server.write_attribute_value(
                self._nodes[var.name],
                ua.DataValue(ua.Variant(value, var.vtype), code, now, now),
            )
            self._pushed[var.name] = (value, status)

    async def _bench_loop(self) -> None:
        """Rewrite every benchmark variable ``extra_rate`` times a second.

        The source timestamp is the write time, so a client can measure latency.
        """
        assert self.server is not None
        period = 1.0 / self.extra_rate
        nodes = [self._nodes[bench_var_name(i)] for i in range(self.extra_vars)]
        next_at = anyio.current_time()
        while True:
            next_at += period
            await anyio.sleep(max(0.0, next_at - anyio.current_time()))
            self._bench_counter += 1
            value = ua.Variant(float(self._bench_counter), _VT.Double)
            for nodeid in nodes:
                now = ua.DateTime.now(UTC)
                await self.server.write_attribute_value(
                    nodeid, ua.DataValue(value, ua.StatusCode(), now, now)
                )


async def serve_opcua(
    process: ProcessModel,
    host: str,
    port: int,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    certs_dir: Path | None = None,
    security: bool = False,
    users: dict[str, str] | None = None,
    extra_vars: int = 0,
    extra_rate: float = 10.0,
    step: bool = True,
    update_interval: float = 0.1,
    extra_namespaces: Sequence[str] = (),
) -> None:
    """Serve ``process`` over OPC UA on ``host:port`` until cancelled.

    ``security``: only Basic256Sha256 / Aes128Sha256RsaOaep endpoints (Sign and
    SignAndEncrypt), with a self-signed certificate kept in ``certs_dir``. ``users``:
    require a username/password from this mapping (or an X509 user certificate found in
    ``certs_dir/user_certs/``) instead of anonymous access.
    """
    simulator = OpcuaSimulator(
        process,
        certs_dir=certs_dir,
        security=security,
        users=users,
        extra_vars=extra_vars,
        extra_rate=extra_rate,
        step=step,
        update_interval=update_interval,
        extra_namespaces=extra_namespaces,
    )
    await simulator.serve(host, port, task_status=task_status)
