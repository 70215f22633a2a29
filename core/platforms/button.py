"""Buttons: a stateless action; the state is the time of the last press."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from ..entity import Entity
from ..services import ServiceCall
from ._service import register_entity_service

if TYPE_CHECKING:
    from ..host import Host


class ButtonEntity(Entity):
    platform_domain: ClassVar[str] = "button"
    _last_pressed: str | None = None

    @property
    def state(self) -> Any:
        return self._last_pressed

    async def press(self) -> None:
        raise NotImplementedError


async def _press(entity: ButtonEntity, call: ServiceCall) -> None:
    await entity.press()
    entity._last_pressed = datetime.now(UTC).isoformat(timespec="seconds")
    entity.write_state(context=call.context)


def register_services(host: Host) -> None:
    register_entity_service(host, "button", "press", ButtonEntity, _press)
