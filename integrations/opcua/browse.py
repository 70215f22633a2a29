"""Browsing the address space for ``opcua.browse`` (and, later, a node picker).

Answers carry node ids in the stable ``nsu=`` form and each variable's data type by
name, so a picked node can go straight into the configuration. The walk is bounded by
depth and by a node budget, because a server's address space can be huge.
"""

from __future__ import annotations

from typing import Any

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds

from .client import OpcuaClient
from .nodeid import NodeRef, node_ref_of
from .translate import translate_errors


async def browse(client: OpcuaClient, ref: NodeRef | None, depth: int, limit: int
                 ) -> dict[str, Any]:
    """The tree below ``ref`` (default: the Objects folder), ``depth`` levels deep and
    at most ``limit`` nodes; ``truncated`` tells whether the budget cut it short."""
    start = client.resolve(ref) if ref is not None else ua.NodeId(ua.Int32(ObjectIds.ObjectsFolder))
    budget = [limit]
    children = await _level(client, start, depth, budget)
    return {
        "node": str(ref if ref is not None else node_ref_of(start, client.namespaces)),
        "children": children,
        "truncated": budget[0] < 0,
    }


def _plain(nodeid: ua.NodeId) -> ua.NodeId:
    """Browse results are ExpandedNodeIds; requests want plain NodeIds."""
    return ua.NodeId(nodeid.Identifier, nodeid.NamespaceIndex, nodeid.NodeIdType)


async def _level(
    client: OpcuaClient, nodeid: ua.NodeId, depth: int, budget: list[int]
) -> list[dict[str, Any]]:
    with translate_errors(f"browsing {nodeid.to_string()}"):
        refs = await client.ua_client.get_node(nodeid).get_children_descriptions()
    variables = [r.NodeId for r in refs if r.NodeClass == ua.NodeClass.Variable]
    dtypes: dict[ua.NodeId, ua.DataValue] = {}
    if variables:
        values = await client.read_data_values(
            [_plain(n) for n in variables], AttributeIds.DataType
        )
        dtypes = dict(zip(variables, values, strict=True))
    namespaces = client.namespaces
    items: list[dict[str, Any]] = []
    for desc in refs:
        budget[0] -= 1
        if budget[0] < 0:
            break
        item: dict[str, Any] = {
            "node": str(node_ref_of(desc.NodeId, namespaces)),
            "browse_name": desc.BrowseName.Name,
            "display_name": desc.DisplayName.Text,
            "node_class": desc.NodeClass.name,
            "data_type": None,
        }
        dv = dtypes.get(desc.NodeId)
        if dv is not None and dv.Value is not None:
            item["data_type"] = await client.type_name(dv.Value.Value)
        if depth > 1 and desc.NodeClass in (ua.NodeClass.Object, ua.NodeClass.View):
            item["children"] = await _level(client, _plain(desc.NodeId), depth - 1, budget)
        items.append(item)
    return items
