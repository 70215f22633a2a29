"""The network side: one session with one OPC UA server, in Gatehouse terms.

``OpcuaClient`` wraps an asyncua ``Client`` and adds what a plant connection needs:

* security (policy None / Basic256Sha256 / Aes128Sha256RsaOaep, mode Sign or
  SignAndEncrypt) with our generated application certificate and a trust check of the
  server certificate *before* the secure channel is opened (``pki.py``);
* anonymous, username/password or X509 user authentication;
* node addressing by namespace URI, resolved against the NamespaceArray of *this*
  session (``nodeid.py``), and writes converted to each node's DataType (``variants.py``);
* asyncua's own exceptions translated into ``errors.py`` types, raised ``from`` them.

It does not reconnect by itself (asyncua's auto-reconnect would restore subscriptions
with stale namespace indexes after a server restart); ``runtime.py`` builds a fresh
session instead. asyncua's connection supervisor still runs: it reads the server state
every ``keepalive_interval`` seconds, which keeps the session alive and notices a dead
peer, and ``wait_closed`` returns when it (or the socket) reports the loss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from asyncua import ua
from asyncua.client.client import Client
from asyncua.client.ua_client import UaClientState
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.crypto import security_policies, uacrypto
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames
from asyncua.ua.uaerrors import UaError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .const import (
    AUTH_ANONYMOUS,
    AUTH_CERTIFICATE,
    AUTH_USERNAME,
    CONF_AUTH,
    CONF_ENDPOINT,
    CONF_KEEPALIVE_INTERVAL,
    CONF_PASSWORD,
    CONF_REQUEST_TIMEOUT,
    CONF_SECURITY_MODE,
    CONF_SECURITY_POLICY,
    CONF_TRUST_ON_FIRST_USE,
    CONF_USER_CERTIFICATE,
    CONF_USER_PRIVATE_KEY,
    CONF_USERNAME,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT,
    MODE_SIGN_AND_ENCRYPT,
    POLICY_AES128,
    POLICY_BASIC256SHA256,
    POLICY_NONE,
    SESSION_TIMEOUT,
)
from .errors import OpcuaConnectionError, OpcuaNodeError, OpcuaSecurityError, OpcuaStatusError
from .nodeid import NodeRef
from .pki import ClientIdentity, PkiPaths, check_server_certificate, load_client_identity
from .translate import Reading, status_name, translate_errors
from .variants import to_variant

_LOGGER = logging.getLogger(__name__)

PRODUCT_URI = "urn:gatehouse"
READ_CHUNK = 500
"""Nodes per Read request: below the MaxNodesPerRead of common servers."""

_POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    POLICY_BASIC256SHA256: security_policies.SecurityPolicyBasic256Sha256,
    POLICY_AES128: security_policies.SecurityPolicyAes128Sha256RsaOaep,
}

#: asyncua's reader of a server certificate (the first of a chain), typed: the library
#: leaves it unannotated.
_x509_from_der: Callable[[bytes | None], x509.Certificate | None] = uacrypto.x509_from_der


def _policy_name(uri: str) -> str:
    """``http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256`` → ``Basic256Sha256``."""
    return uri.rsplit("#", 1)[-1]


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How to reach and authenticate to one server (a config entry's data)."""

    endpoint: str
    security_policy: str = POLICY_NONE
    security_mode: str = MODE_SIGN_AND_ENCRYPT
    auth: str = AUTH_ANONYMOUS
    username: str | None = None
    password: str | None = None
    user_certificate: Path | None = None
    user_private_key: Path | None = None
    trust_on_first_use: bool = False
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL

    @classmethod
    def from_data(cls, data: Mapping[str, Any], base: Path | None = None) -> ConnectionSettings:
        """Settings from entry data; relative file paths are relative to ``base``
        (the config directory)."""

        def path(key: str) -> Path | None:
            if not data.get(key):
                return None
            given = Path(data[key]).expanduser()
            return given if given.is_absolute() or base is None else base / given

        return cls(
            endpoint=data[CONF_ENDPOINT],
            security_policy=data.get(CONF_SECURITY_POLICY, POLICY_NONE),
            security_mode=data.get(CONF_SECURITY_MODE, MODE_SIGN_AND_ENCRYPT),
            auth=data.get(CONF_AUTH, AUTH_ANONYMOUS),
            username=data.get(CONF_USERNAME),
            password=data.get(CONF_PASSWORD),
            user_certificate=path(CONF_USER_CERTIFICATE),
            user_private_key=path(CONF_USER_PRIVATE_KEY),
            trust_on_first_use=bool(data.get(CONF_TRUST_ON_FIRST_USE, False)),
            request_timeout=float(data.get(CONF_REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT)),
            keepalive_interval=float(
                data.get(CONF_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_INTERVAL)
            ),
        )


class OpcuaClient:
    """One connected session; create a new one to reconnect."""

    def __init__(self, settings: ConnectionSettings, pki: PkiPaths) -> None:
        self.settings = settings
        self.pki = pki
        self._client: Client | None = None
        self._namespaces: list[str] = []
        self._variant_types: dict[ua.NodeId, ua.VariantType] = {}
        self._type_names: dict[ua.NodeId, str] = {}

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.state is UaClientState.CONNECTED

    @property
    def namespaces(self) -> list[str]:
        """The server's NamespaceArray as read at connect time."""
        return list(self._namespaces)

    @property
    def ua_client(self) -> Client:
        """The asyncua client (for ``monitor.py``); raises when not connected."""
        if self._client is None:
            raise OpcuaConnectionError(f"not connected to {self.settings.endpoint}")
        return self._client

    # -- connecting ----------------------------------------------------------------

    async def connect(self) -> None:
        """Open the secure channel and session and read the NamespaceArray."""
        settings = self.settings
        where = f"connecting to {settings.endpoint}"
        identity = None
        if settings.security_policy != POLICY_NONE or (
            settings.auth == AUTH_CERTIFICATE and settings.user_certificate is None
        ):
            identity = await load_client_identity(self.pki)
        client = Client(
            settings.endpoint,
            timeout=settings.request_timeout,
            watchdog_intervall=settings.keepalive_interval,
        )
        client.name = client.description = "Gatehouse"
        client.product_uri = PRODUCT_URI
        client.application_uri = identity.application_uri if identity else "urn:gatehouse:client"
        client.session_timeout = int(SESSION_TIMEOUT * 1000)
        try:
            if settings.security_policy != POLICY_NONE:
                assert identity is not None
                await self._secure(client, identity)
            await self._authenticate(client, identity)
            with translate_errors(where):
                await client.connect()
        except BaseException:
            client.disconnect_socket()
            raise
        self._client = client
        try:
            with translate_errors(f"reading the namespaces of {settings.endpoint}"):
                self._namespaces = list(await client.get_namespace_array())
        except BaseException:
            await self.disconnect()
            raise
        _LOGGER.debug("Connected to %s, namespaces %s", settings.endpoint, self._namespaces)

    async def _secure(self, client: Client, identity: ClientIdentity) -> None:
        """Find the server's endpoint for our policy and mode, check its certificate,
        then configure the secure channel with exactly that certificate."""
        settings = self.settings
        policy = _POLICIES.get(settings.security_policy)
        if policy is None:
            raise OpcuaSecurityError(f"unknown security policy {settings.security_policy!r}")
        mode = getattr(ua.MessageSecurityMode, settings.security_mode)
        with translate_errors(f"asking {settings.endpoint} for its endpoints"):
            endpoints = await client.connect_and_get_server_endpoints()
        try:
            endpoint = Client.find_endpoint(endpoints, mode, policy.URI)
        except UaError as err:
            offered = sorted(
                {f"{_policy_name(e.SecurityPolicyUri)}/{e.SecurityMode.name}" for e in endpoints}
            )
            raise OpcuaSecurityError(
                f"{settings.endpoint} offers no {settings.security_policy}/"
                f"{settings.security_mode} endpoint (it offers {', '.join(offered)})"
            ) from err
        server_cert = _x509_from_der(endpoint.ServerCertificate)
        if server_cert is None:
            raise OpcuaSecurityError(f"{settings.endpoint} sent no server certificate")
        server_der = server_cert.public_bytes(serialization.Encoding.DER)
        await check_server_certificate(
            self.pki, settings.endpoint, server_der,
            trust_on_first_use=settings.trust_on_first_use,
        )
        with translate_errors(f"setting up {settings.security_policy} security"):
            await client.set_security(
                policy,
                uacrypto.CertProperties(identity.cert_der, "der"),
                uacrypto.CertProperties(identity.key_pem, "pem"),
                server_certificate=uacrypto.CertProperties(server_der, "der"),
                mode=mode,
            )

    async def _authenticate(self, client: Client, identity: ClientIdentity | None) -> None:
        settings = self.settings
        if settings.auth == AUTH_USERNAME:
            client.set_user(settings.username or "")
            client.set_password(settings.password or "")
        elif settings.auth == AUTH_CERTIFICATE:
            if settings.user_certificate is not None and settings.user_private_key is not None:
                with translate_errors("loading the user certificate"):
                    try:
                        await client.load_client_certificate(str(settings.user_certificate))
                        await client.load_private_key(settings.user_private_key)
                    except (OSError, ValueError) as err:
                        raise OpcuaSecurityError(
                            f"cannot load the user certificate or key: {err}"
                        ) from err
            else:
                assert identity is not None
                client.user_certificate = x509.load_der_x509_certificate(identity.cert_der)
                client.user_private_key = serialization.load_pem_private_key(
                    identity.key_pem, password=None
                )

    async def disconnect(self) -> None:
        """Close the session; never raises, never waits longer than the request timeout."""
        client, self._client = self._client, None
        self._variant_types.clear()
        if client is None:
            return
        with anyio.move_on_after(self.settings.request_timeout, shield=True):
            try:
                await client.disconnect()
            except (OSError, TimeoutError, UaError) as err:
                _LOGGER.debug("Error closing the session with %s: %r", self.settings.endpoint, err)
        client.disconnect_socket()

    async def wait_closed(self) -> None:
        """Return once the session is lost (socket closed or keepalive failed)."""
        client = self.ua_client
        async with client.subscribe_state() as states:
            await states.wait_for_state(UaClientState.DISCONNECTED)

    # -- nodes ---------------------------------------------------------------------

    def resolve(self, ref: NodeRef) -> ua.NodeId:
        return ref.resolve(self._namespaces)

    async def read_data_values(
        self, nodeids: Sequence[ua.NodeId], attr: AttributeIds = AttributeIds.Value
    ) -> list[ua.DataValue]:
        """Read one attribute of many nodes, in chunks."""
        client = self.ua_client
        results: list[ua.DataValue] = []
        with translate_errors(f"reading from {self.settings.endpoint}"):
            for start in range(0, len(nodeids), READ_CHUNK):
                chunk = list(nodeids[start : start + READ_CHUNK])
                results.extend(await client.uaclient.read_attributes(chunk, attr))
        return results

    async def read(self, ref: NodeRef) -> tuple[Reading, str]:
        """The current value of a node and the name of its data type."""
        dtype_dv, value_dv = await self._read_two(self.resolve(ref))
        if dtype_dv.StatusCode is not None and dtype_dv.StatusCode.is_bad():
            raise OpcuaNodeError(f"{ref}: {status_name(dtype_dv.StatusCode)}")
        dtype = dtype_dv.Value.Value if dtype_dv.Value is not None else None
        return Reading.of(value_dv), await self.type_name(dtype)

    async def variant_type(self, ref: NodeRef) -> ua.VariantType:
        """The Variant type writes to ``ref`` must use, read once per session."""
        nodeid = self.resolve(ref)
        cached = self._variant_types.get(nodeid)
        if cached is not None:
            return cached
        dtype_dv, value_dv = await self._read_two(nodeid)
        if dtype_dv.StatusCode is not None and dtype_dv.StatusCode.is_bad():
            raise OpcuaNodeError(f"{ref}: {status_name(dtype_dv.StatusCode)}")
        dtype = dtype_dv.Value.Value if dtype_dv.Value is not None else None
        vtype = await self._variant_type_of(dtype)
        if vtype is ua.VariantType.Variant:
            # Abstract DataType (BaseDataType, Number): the current value tells.
            if value_dv.Value is None or value_dv.Value.VariantType is ua.VariantType.Null:
                raise OpcuaNodeError(f"{ref}: its data type is abstract and it has no value")
            vtype = value_dv.Value.VariantType
        self._variant_types[nodeid] = vtype
        return vtype

    async def _read_two(self, nodeid: ua.NodeId) -> tuple[ua.DataValue, ua.DataValue]:
        client = self.ua_client
        params = ua.ReadParameters()
        for attr in (AttributeIds.DataType, AttributeIds.Value):
            params.NodesToRead.append(ua.ReadValueId(NodeId=nodeid, AttributeId=attr))
        with translate_errors(f"reading {nodeid.to_string()}"):
            dtype_dv, value_dv = await client.uaclient.read(params)
        return dtype_dv, value_dv

    async def _variant_type_of(self, dtype: ua.NodeId | None) -> ua.VariantType:
        if dtype is None:
            return ua.VariantType.Variant
        if dtype.NamespaceIndex == 0 and isinstance(dtype.Identifier, int) and (
            1 <= dtype.Identifier <= 25
        ):
            return ua.VariantType(dtype.Identifier)
        with translate_errors(f"resolving data type {dtype.to_string()}"):
            return await data_type_to_variant_type(self.ua_client.get_node(dtype))

    async def type_name(self, dtype: ua.NodeId | None) -> str:
        """``"Double"``, or the browse name of a server-specific data type."""
        if dtype is None:
            return "Unknown"
        if dtype.NamespaceIndex == 0 and isinstance(dtype.Identifier, int):
            return str(ObjectIdNames.get(dtype.Identifier, dtype.to_string()))
        name = self._type_names.get(dtype)
        if name is None:
            with translate_errors(f"reading data type {dtype.to_string()}"):
                qname = await self.ua_client.get_node(dtype).read_browse_name()
            name = self._type_names[dtype] = str(qname.Name)
        return name

    async def write(self, ref: NodeRef, value: Any) -> ua.Variant:
        """Write ``value`` converted to the node's data type; returns what was sent."""
        nodeid = self.resolve(ref)
        variant = to_variant(value, await self.variant_type(ref))
        # Value only: many PLCs refuse writes that carry a status code or timestamps.
        data_value = ua.DataValue(Value=variant, StatusCode=None)
        with translate_errors(f"writing {ref}"):
            results = await self.ua_client.uaclient.write_attributes(
                [nodeid], [data_value], AttributeIds.Value
            )
        if not results[0].is_good():
            raise OpcuaStatusError(f"writing {ref} refused", status_name(results[0]))
        return variant
