"""Node addresses by namespace *URI*: ``nsu=urn:gatehouse:sim;s=Tank.Level``.

A server numbers its namespaces in its NamespaceArray, and that numbering may change
when the server's configuration changes or it restarts (a namespace registered earlier
shifts every later index). The URI is the stable name, so configuration and entity
unique ids use it and ``resolve`` turns it into the current ``ua.NodeId`` after every
connect. ``ns=<index>;`` is accepted for servers that really are fixed, and no prefix
means namespace 0 (the OPC UA standard nodes, e.g. ``i=85`` for Objects).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asyncua import ua

from .errors import OpcuaNodeError

_NODE_RE = re.compile(
    r"^(?:nsu=(?P<uri>[^;]+);|ns=(?P<ns>\d+);)?(?P<kind>[isgb])=(?P<ident>.+)$", re.DOTALL
)


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node address as the user wrote it; hashable, so it keys dicts."""

    kind: str  # i (numeric), s (string), g (guid), b (opaque, base64)
    identifier: str
    namespace_uri: str | None = None
    namespace_index: int | None = None

    def __str__(self) -> str:
        if self.namespace_uri is not None:
            prefix = f"nsu={self.namespace_uri};"
        elif self.namespace_index:
            prefix = f"ns={self.namespace_index};"
        else:
            prefix = ""
        return f"{prefix}{self.kind}={self.identifier}"

    def resolve(self, namespaces: Sequence[str]) -> ua.NodeId:
        """The ``ua.NodeId`` of this node in a session with this NamespaceArray."""
        if self.namespace_uri is not None:
            try:
                index = list(namespaces).index(self.namespace_uri)
            except ValueError:
                raise OpcuaNodeError(
                    f"{self}: the server has no namespace {self.namespace_uri!r}"
                ) from None
        else:
            index = self.namespace_index or 0
            if index >= len(namespaces):
                raise OpcuaNodeError(f"{self}: the server has no namespace index {index}")
        return ua.NodeId(
            _identifier(self.kind, self.identifier), ua.Int16(index), _ID_TYPES[self.kind]
        )


_ID_TYPES = {
    "i": ua.NodeIdType.Numeric,
    "s": ua.NodeIdType.String,
    "g": ua.NodeIdType.Guid,
    "b": ua.NodeIdType.ByteString,
}


def _identifier(kind: str, text: str) -> Any:
    if kind == "i":
        return int(text)
    if kind == "g":
        return uuid.UUID(text)
    if kind == "b":
        return base64.b64decode(text)
    return text


def parse_node(text: str) -> NodeRef:
    """Parse ``nsu=<uri>;s=<id>`` (or ``ns=<n>;``, or no prefix for namespace 0).

    Raises ``OpcuaNodeError``; ``config.node_id`` turns that into ``vol.Invalid``.
    """
    match = _NODE_RE.match(text.strip())
    if match is None:
        raise OpcuaNodeError(
            f"{text!r} is not a node id; write it like 'nsu=urn:my:namespace;s=Tank.Level' "
            "or 'i=85'"
        )
    kind, ident = match["kind"], match["ident"]
    try:
        _identifier(kind, ident)
    except ValueError as err:
        raise OpcuaNodeError(f"{text!r}: bad {kind}= identifier ({err})") from err
    if match["uri"] is not None:
        return NodeRef(kind, ident, namespace_uri=match["uri"])
    if match["ns"] is not None:
        return NodeRef(kind, ident, namespace_index=int(match["ns"]))
    return NodeRef(kind, ident)


def node_ref_of(nodeid: ua.NodeId | ua.ExpandedNodeId, namespaces: Sequence[str]) -> NodeRef:
    """The stable address of a node the server told us about (browse results)."""
    kind = {v: k for k, v in _ID_TYPES.items()}.get(_base_type(nodeid.NodeIdType), "s")
    ident = nodeid.Identifier
    text = base64.b64encode(ident).decode() if isinstance(ident, bytes) else str(ident)
    uri = getattr(nodeid, "NamespaceUri", None)
    if uri:
        return NodeRef(kind, text, namespace_uri=uri)
    index = nodeid.NamespaceIndex
    if index == 0:
        return NodeRef(kind, text)
    if index < len(namespaces):
        return NodeRef(kind, text, namespace_uri=namespaces[index])
    return NodeRef(kind, text, namespace_index=index)


def _base_type(node_id_type: ua.NodeIdType) -> ua.NodeIdType:
    """TwoByte and FourByte are encodings of numeric ids."""
    if node_id_type in (ua.NodeIdType.TwoByte, ua.NodeIdType.FourByte):
        return ua.NodeIdType.Numeric
    return node_id_type
