"""What every Modbus entity shares: a point described as data, and a span to listen to.

An entity is *data* (a frozen description holding a ``PointSpec``) plus one class per
platform; there is never a class per register. The helpers here also expand one
configured point over ``slave_count`` consecutive slaves and/or ``address_count``
consecutive addresses, which is how a rack of identical meters is configured in one
block, and build every platform's descriptions with the fields they all share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from gatehouse.core import DeviceInfo, Entity, EntityDescription
from gatehouse.core.helpers import slugify

from .const import (
    CONF_ADDRESS,
    CONF_ADDRESS_COUNT,
    CONF_ADDRESS_STRIDE,
    CONF_BIT,
    CONF_BYTE_ORDER,
    CONF_COUNT,
    CONF_DATA_TYPE,
    CONF_DEVICE_CLASS,
    CONF_ICON,
    CONF_NAME,
    CONF_OFFSET,
    CONF_PRECISION,
    CONF_SCALE,
    CONF_SCAN_INTERVAL,
    CONF_SLAVE,
    CONF_SLAVE_COUNT,
    CONF_UNIQUE_ID,
    CONF_WORD_ORDER,
    DOMAIN,
    RegisterType,
)
from .datatypes import Codec, DataType, Order
from .planner import ReadSpan
from .poller import SpanState

if TYPE_CHECKING:
    from .coordinator import HubCoordinator

D = TypeVar("D", bound="PointDescription")


@dataclass(frozen=True, slots=True, kw_only=True)
class PointSpec:
    """Where a point lives and how its registers read: the wire half of a description."""

    slave: int
    register_type: RegisterType
    address: int
    codec: Codec = field(default_factory=Codec)
    scan_interval: float = 5.0

    @property
    def span(self) -> ReadSpan:
        count = 1 if self.register_type.is_bit else self.codec.register_count
        return ReadSpan(self.slave, self.register_type, self.address, count)

    def describe(self) -> dict[str, Any]:
        """Static attributes that tell a user where the value comes from."""
        return {"slave": self.slave, "input_type": str(self.register_type),
                "address": self.address}


@dataclass(frozen=True, kw_only=True)
class PointDescription(EntityDescription):
    """What every Modbus description holds besides the core's fields: where the value
    lives and the entity's unique id. Each platform's description derives from it."""

    point: PointSpec
    unique_id: str


class ModbusEntity(Entity):
    """Base of the Modbus platform entities: availability and updates from the poller.

    Subclasses implement ``_apply(values)`` to turn the span's raw values into their
    platform's state (and narrow ``entity_description`` to their own description).
    Available means: the slave answers and this span's last read did not fail.
    """

    def __init__(
        self,
        coordinator: HubCoordinator,
        description: PointDescription,
        device_info: DeviceInfo,
    ) -> None:
        self.entity_description = description
        self.coordinator = coordinator
        self.point: PointSpec = description.point
        self._attr_unique_id = description.unique_id
        self._attr_device_info = device_info
        self._attr_extra_state_attributes = description.point.describe()

    @property
    def available(self) -> bool:
        state = self.coordinator.state(self.point.span)
        return self.coordinator.available(self.point.slave) and state.error is None

    async def added_to_host(self) -> None:
        self.on_remove(self.coordinator.listen(self.point.span, self._on_update))
        self._take(self.coordinator.state(self.point.span))

    def _on_update(self) -> None:
        self._take(self.coordinator.state(self.point.span))
        if self.host is not None:
            self.write_state()

    def _take(self, state: SpanState) -> None:
        if state.values is not None:
            self._apply(state.values)

    def _apply(self, values: tuple[int | bool, ...]) -> None:
        raise NotImplementedError


# -- building descriptions from YAML --------------------------------------------------------


def slave_device(hub_name: str, slave: int, *, single_slave: bool, endpoint: str) -> DeviceInfo:
    """The device of one slave; named after the hub alone when the hub has one slave."""
    return {
        "identifiers": {(DOMAIN, f"{slugify(hub_name)}_{slave}")},
        "name": hub_name if single_slave else f"{hub_name} {slave}",
        "manufacturer": "Modbus",
        "model": f"slave {slave} at {endpoint}",
    }


def codec_of(conf: Mapping[str, Any]) -> Codec:
    """The ``Codec`` a validated point block describes."""
    return Codec(
        data_type=DataType(conf.get(CONF_DATA_TYPE, DataType.UINT16)),
        byte_order=Order(conf.get(CONF_BYTE_ORDER, Order.BIG)),
        word_order=Order(conf.get(CONF_WORD_ORDER, Order.BIG)),
        scale=float(conf.get(CONF_SCALE, 1.0)),
        offset=float(conf.get(CONF_OFFSET, 0.0)),
        precision=conf.get(CONF_PRECISION),
        count=conf.get(CONF_COUNT),
        bit=conf.get(CONF_BIT),
    )


@dataclass(frozen=True, slots=True)
class Instance:
    """One entity a point block expands to: its name, unique id and point."""

    name: str
    unique_id: str
    point: PointSpec


def expand(
    hub_name: str,
    conf: Mapping[str, Any],
    register_type: RegisterType,
    default_interval: float,
) -> list[Instance]:
    """The entities one point block describes (``slave_count`` times ``address_count``).

    Copies are numbered 1..N in slave-then-address order, so ``Meter power`` with
    ``slave_count: 3`` gives ``Meter power 1`` .. ``Meter power 3`` on slaves s..s+2.
    """
    codec = codec_of(conf) if not register_type.is_bit else Codec()
    width = 1 if register_type.is_bit else codec.register_count
    stride = int(conf.get(CONF_ADDRESS_STRIDE) or width)
    slaves = int(conf.get(CONF_SLAVE_COUNT, 1))
    addresses = int(conf.get(CONF_ADDRESS_COUNT, 1))
    name = str(conf[CONF_NAME])
    base_id = str(conf.get(CONF_UNIQUE_ID) or f"{slugify(hub_name)}_{slugify(name)}")
    interval = float(conf.get(CONF_SCAN_INTERVAL) or default_interval)
    many = slaves * addresses > 1
    result: list[Instance] = []
    for s in range(slaves):
        for a in range(addresses):
            index = s * addresses + a + 1
            point = PointSpec(
                slave=int(conf[CONF_SLAVE]) + s,
                register_type=register_type,
                address=int(conf[CONF_ADDRESS]) + a * stride,
                codec=codec,
                scan_interval=interval,
            )
            result.append(
                Instance(
                    name=f"{name} {index}" if many else name,
                    unique_id=f"{base_id}_{index}" if many else base_id,
                    point=point,
                )
            )
    return result


def describe_points(
    description: type[D],
    hub_name: str,
    conf: Mapping[str, Any],
    register_type: RegisterType,
    default_interval: float,
    **fields: Any,
) -> list[D]:
    """The descriptions one validated point block expands to, each a ``description``
    with the fields every platform shares (identity, name, point, looks) and the
    platform's own ``fields``."""
    return [
        description(
            key=item.unique_id,
            unique_id=item.unique_id,
            name=item.name,
            point=item.point,
            device_class=conf.get(CONF_DEVICE_CLASS),
            icon=conf.get(CONF_ICON),
            **fields,
        )
        for item in expand(hub_name, conf, register_type, default_interval)
    ]
