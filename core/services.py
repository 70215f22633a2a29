"""The service registry: named actions with schemas, called by the bus, API and automations.

The registry, not each handler, validates service data against the service's voluptuous
schema, so a handler only ever sees good data and every caller gets the same clear error.
Handlers may be plain functions (run inline: must not block) or coroutines; both may
return response data when the service declares it.
"""

from __future__ import annotations

import difflib
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeAlias, TypedDict

import voluptuous as vol

from .bus import EventBus, EventType, Spawner, Unsubscribe
from .context import Context
from .exceptions import (
    ServiceNotFound,
    ServiceResponseError,
    ServiceValidationError,
)
from .permissions import Permissions, Unauthorized, target_entities
from .util.forms import describe_invalid

_LOGGER = logging.getLogger(__name__)

ServiceResponse: TypeAlias = dict[str, Any] | None
ServiceHandler: TypeAlias = Callable[
    ["ServiceCall"], ServiceResponse | Awaitable[ServiceResponse]
]


class SupportsResponse(enum.StrEnum):
    """Whether a service gives response data back to its caller."""

    NONE = "none"
    OPTIONAL = "optional"
    ONLY = "only"


class CallServiceData(TypedDict):
    domain: str
    service: str
    service_data: Mapping[str, Any]


EVENT_CALL_SERVICE: Final[EventType[CallServiceData]] = EventType("call_service")
EVENT_SERVICE_REGISTERED: Final[EventType[dict[str, Any]]] = EventType("service_registered")
EVENT_SERVICE_REMOVED: Final[EventType[dict[str, Any]]] = EventType("service_removed")
#: Fired once a call made on behalf of a user (``context.user_id``) has ended, with
#: ``domain``, ``service``, ``service_data`` (as given), ``result`` (``ok``,
#: ``scheduled`` for a non-blocking call, ``denied``, ``invalid``, ``not_found``,
#: ``error``) and ``error`` (the exception's text, or None). The audit log records it;
#: calls by the system (no user) do not fire it, so they pay nothing.
EVENT_SERVICE_CALL_RESULT: Final[EventType[dict[str, Any]]] = EventType("service_call_result")


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """One call of a service, as its handler sees it (data already validated)."""

    domain: str
    service: str
    data: Mapping[str, Any]
    context: Context
    return_response: bool = False


@dataclass(slots=True)
class Service:
    """A registered service."""

    domain: str
    name: str
    handler: ServiceHandler
    schema: vol.Schema | None
    supports_response: SupportsResponse
    is_coroutine: bool
    description: Mapping[str, Any] = field(default_factory=dict)
    #: Refused to non-admin users whatever their policy (see ``core/permissions.py``).
    admin_only: bool = False


#: Maps the user of a call's context to what that user may do; ``None`` means the user
#: is unknown (a deleted account): refused.
PermissionsResolver: TypeAlias = Callable[[str], "Permissions | None"]


class ServiceRegistry:
    """Holds every service of the host, keyed by domain and name (lower case)."""

    def __init__(self, bus: EventBus, spawner: Spawner | None = None) -> None:
        self._bus = bus
        self._spawner = spawner
        self._services: dict[str, dict[str, Service]] = {}
        self._descriptions: dict[str, dict[str, Any]] = {}
        self._permissions: PermissionsResolver | None = None
        self.call_count = 0

    def set_spawner(self, spawner: Spawner) -> None:
        self._spawner = spawner

    def set_permissions(self, resolver: PermissionsResolver | None) -> None:
        """Check every call made on behalf of a user (``context.user_id``) with what
        ``resolver`` says that user may do. The web server installs it; calls without a
        user (automations, integrations: the system) are not limited."""
        self._permissions = resolver

    @property
    def permissions(self) -> PermissionsResolver | None:
        """The resolver in force (so its installer removes only its own)."""
        return self._permissions

    def register(
        self,
        domain: str,
        service: str,
        handler: ServiceHandler,
        schema: vol.Schema | Mapping[Any, Any] | None = None,
        *,
        supports_response: SupportsResponse = SupportsResponse.NONE,
        description: Mapping[str, Any] | None = None,
        admin_only: bool = False,
    ) -> Unsubscribe:
        """Register a service; returns the undo that removes it again.

        ``schema`` may be a ``vol.Schema`` or a plain dict (wrapped in one). Registering
        the same name twice replaces the first, as in Home Assistant, with a warning.
        ``admin_only``: only admins may call it (a service that acts on a device or a
        broker with no entity in between, whose reach a per-entity policy cannot limit).
        """
        domain, service = domain.lower(), service.lower()
        if schema is not None and not isinstance(schema, vol.Schema):
            schema = vol.Schema(schema)
        target = handler.func if hasattr(handler, "func") else handler
        entry = Service(
            domain=domain,
            name=service,
            handler=handler,
            schema=schema,
            supports_response=supports_response,
            is_coroutine=inspect.iscoroutinefunction(target),
            description=MappingProxyType(dict(description or {})),
            admin_only=admin_only,
        )
        services = self._services.setdefault(domain, {})
        if service in services:
            _LOGGER.warning("Service %s.%s registered again; replacing it", domain, service)
        services[service] = entry
        self._bus.fire(EVENT_SERVICE_REGISTERED, {"domain": domain, "service": service})

        def unregister() -> None:
            current = self._services.get(domain, {})
            if current.get(service) is entry:
                self.remove(domain, service)

        return unregister

    def remove(self, domain: str, service: str) -> bool:
        domain, service = domain.lower(), service.lower()
        services = self._services.get(domain)
        if not services or service not in services:
            return False
        del services[service]
        if not services:
            del self._services[domain]
        self._bus.fire(EVENT_SERVICE_REMOVED, {"domain": domain, "service": service})
        return True

    def describe(self, domain: str, descriptions: Mapping[str, Any]) -> None:
        """Attach ``services.yaml`` descriptions (shown by the API and the UI)."""
        self._descriptions[domain.lower()] = dict(descriptions)

    def description(self, domain: str, service: str) -> Mapping[str, Any]:
        """The description of a service: from ``register`` or the domain's services.yaml."""
        svc = self.get(domain, service)
        if svc.description:
            return svc.description
        found = self._descriptions.get(svc.domain, {}).get(svc.name)
        return found if isinstance(found, Mapping) else {}

    def has(self, domain: str, service: str) -> bool:
        return service.lower() in self._services.get(domain.lower(), {})

    def get(self, domain: str, service: str) -> Service:
        try:
            return self._services[domain.lower()][service.lower()]
        except KeyError:
            raise ServiceNotFound(domain, service, self._suggest(domain, service)) from None

    def services(self) -> dict[str, dict[str, Service]]:
        """A copy of the registry: domain → name → service."""
        return {d: dict(s) for d, s in self._services.items()}

    def count(self) -> int:
        return sum(len(s) for s in self._services.values())

    def _suggest(self, domain: str, service: str) -> str | None:
        names = [f"{d}.{s}" for d, ss in self._services.items() for s in ss]
        close = difflib.get_close_matches(f"{domain}.{service}", names, n=1, cutoff=0.6)
        return close[0] if close else None

    async def call(
        self,
        domain: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        *,
        blocking: bool = True,
        context: Context | None = None,
        return_response: bool = False,
    ) -> ServiceResponse:
        """Call a service.

        ``blocking``: wait for the handler to finish (errors propagate to the caller).
        Non-blocking calls return at once; their errors are logged. Asking for a
        response requires a blocking call to a service that supports responses.
        """
        if context is None or context.user_id is None:
            return await self._call(domain, service, data, blocking, context, return_response)
        try:
            response = await self._call(domain, service, data, blocking, context,
                                        return_response)
        except Exception as err:
            self._call_result(domain, service, data, context, _result_of(err), err)
            raise
        self._call_result(domain, service, data, context, "ok" if blocking else "scheduled")
        return response

    def _call_result(
        self, domain: str, service: str, data: Mapping[str, Any] | None, context: Context,
        result: str, error: BaseException | None = None,
    ) -> None:
        self._bus.fire(
            EVENT_SERVICE_CALL_RESULT,
            {"domain": domain.lower(), "service": service.lower(),
             "service_data": dict(data or {}), "result": result,
             "error": None if error is None else str(error)},
            context,
        )

    async def _call(
        self,
        domain: str,
        service: str,
        data: Mapping[str, Any] | None,
        blocking: bool,
        context: Context | None,
        return_response: bool,
    ) -> ServiceResponse:
        svc = self.get(domain, service)
        if return_response:
            if not blocking:
                raise ServiceResponseError("a non-blocking call cannot return a response")
            if svc.supports_response is SupportsResponse.NONE:
                raise ServiceResponseError(
                    f"service {svc.domain}.{svc.name} does not return response data"
                )
        elif svc.supports_response is SupportsResponse.ONLY:
            raise ServiceResponseError(
                f"service {svc.domain}.{svc.name} only returns response data; "
                "call it with return_response=True"
            )
        validated = self._validate(svc, data or {})
        ctx = context if context is not None else Context()
        if ctx.user_id is not None and self._permissions is not None:
            self._authorize(svc, validated, ctx.user_id)
        call = ServiceCall(svc.domain, svc.name, validated, ctx, return_response)
        self.call_count += 1
        self._bus.fire(
            EVENT_CALL_SERVICE,
            {"domain": svc.domain, "service": svc.name, "service_data": validated},
            ctx,
        )
        if not blocking:
            if self._spawner is None:
                raise RuntimeError("non-blocking service call but no task spawner")
            self._spawner(_run_logged(svc, call), f"service {svc.domain}.{svc.name}")
            return None
        response = await _run(svc, call)
        if not return_response:
            return None
        if response is not None and not isinstance(response, dict):
            raise ServiceResponseError(
                f"service {svc.domain}.{svc.name} returned {type(response).__name__}, "
                "expected a dict"
            )
        return response

    def _authorize(self, svc: Service, data: Mapping[str, Any], user_id: str) -> None:
        assert self._permissions is not None
        permissions = self._permissions(user_id)
        if permissions is None:
            raise Unauthorized(f"{svc.domain}.{svc.name} (unknown user)", user_id)
        permissions.check_call(
            svc.domain, svc.name, admin_only=svc.admin_only, entity_ids=target_entities(data)
        )

    @staticmethod
    def _validate(svc: Service, data: Mapping[str, Any]) -> Mapping[str, Any]:
        if svc.schema is None:
            return MappingProxyType(dict(data))
        try:
            validated = svc.schema(dict(data))
        except vol.Invalid as err:
            raise ServiceValidationError(svc.domain, svc.name, describe_invalid(err)) from err
        return MappingProxyType(dict(validated)) if isinstance(validated, dict) else validated


def _result_of(err: BaseException) -> str:
    """The ``result`` of a failed call, as ``EVENT_SERVICE_CALL_RESULT`` reports it."""
    if isinstance(err, Unauthorized):
        return "denied"
    if isinstance(err, (ServiceValidationError, ServiceResponseError)):
        return "invalid"
    if isinstance(err, ServiceNotFound):
        return "not_found"
    return "error"


async def _run(svc: Service, call: ServiceCall) -> Any:
    if svc.is_coroutine:
        return await svc.handler(call)  # type: ignore[misc]
    result = svc.handler(call)
    if inspect.isawaitable(result):
        return await result
    return result


async def _run_logged(svc: Service, call: ServiceCall) -> None:
    try:
        await _run(svc, call)
    except Exception:
        _LOGGER.exception("Error in non-blocking call of %s.%s", svc.domain, svc.name)


