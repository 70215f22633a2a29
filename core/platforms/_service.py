"""Shared plumbing for entity services: resolve ``entity_id`` to entity objects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import voluptuous as vol

from ..exceptions import GatehouseError, ServiceValidationError
from ..services import ServiceCall

if TYPE_CHECKING:
    from ..entity import Entity
    from ..host import Host

E = TypeVar("E", bound="Entity")


def entity_ids(value: Any) -> list[str]:
    """Accept one entity id, a comma-separated string or a list."""
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list):
        items = [str(v) for v in value]
    else:
        raise vol.Invalid("expected an entity id or a list of entity ids")
    if not items:
        raise vol.Invalid("expected at least one entity id")
    return items


ENTITY_SCHEMA: dict[Any, Any] = {vol.Required("entity_id"): entity_ids}


def register_entity_service(
    host: Host,
    domain: str,
    service: str,
    entity_type: type[E],
    action: Callable[[E, ServiceCall], Awaitable[None]],
    extra_schema: dict[Any, Any] | None = None,
) -> None:
    """Register ``domain.service`` running ``action`` on each named entity of the type."""

    async def handler(call: ServiceCall) -> None:
        targets: list[E] = []
        for entity_id in call.data["entity_id"]:
            entity = host.entities.get(entity_id)
            if not isinstance(entity, entity_type):
                raise GatehouseError(f"{entity_id} is not a loaded {domain} entity")
            targets.append(entity)
        for entity in targets:
            # States written while acting on the call carry the call's context, so the
            # API and the audit log can tell which changes this call caused.
            entity._call_context = call.context
            try:
                await action(entity, call)
            except ValueError as err:  # the value does not fit the device: bad data
                raise ServiceValidationError(domain, service, str(err)) from err
            finally:
                entity._call_context = None

    host.services.register(
        domain, service, handler, vol.Schema({**ENTITY_SCHEMA, **(extra_schema or {})})
    )
