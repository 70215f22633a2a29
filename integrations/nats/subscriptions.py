"""Core-subject subscriptions that feed message entities.

One subscription per (subject, queue group), fanning out to every entity described
with it, so ten sensors reading fields of one status subject cost one subscription.
The callback runs in nats-py's task for the subscription, message by message; it only
writes states (no I/O), so it never holds up the connection. A message an entity
cannot use is counted per subject and changes nothing.

Governance: each message passes the core ingress hook (schema_guard, when loaded) once,
before any entity of its group sees it; a refused message is counted as malformed and
reaches none of them. Rules are written in MQTT topic syntax, so the subject is handed
over with its ``.`` separators as ``/`` (``plant.boiler.temp`` is governed by
``plant/+/temp``); a replayed message comes back the same way (``as_subject``). A
subject token that itself holds a ``/`` does not survive that round trip (NATS allows
it; nobody should use it).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Final

from nats.aio.msg import Msg

from gatehouse.core.helpers import IngressHook, PayloadError

from .client import NatsClient, flush_in_order
from .entity import MessageEntity

_LOGGER = logging.getLogger(__name__)

#: Seconds to wait for the server to confirm the subscriptions (a round trip).
SUBSCRIBE_CONFIRM_TIMEOUT: Final = 5
#: The transport name quarantined NATS messages are recorded with.
TRANSPORT: Final = "nats"


def as_topic(subject: str) -> str:
    """The subject as the ingress guard's rules see it (module docstring)."""
    return subject.replace(".", "/")


def as_subject(topic: str) -> str:
    return topic.replace("/", ".")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` one token, ``>`` one or more trailing tokens."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


async def subscribe(
    client: NatsClient, entities: Iterable[MessageEntity], on_malformed: Callable[[str], None],
    ingress: IngressHook | None = None,
) -> None:
    """Subscribe for the live entities fed by a core subject (the subscriptions end
    with the connection); return once the server has them, so an entry that reports
    itself online misses no message published after that."""
    groups: dict[tuple[str, str], list[MessageEntity]] = defaultdict(list)
    for entity in entities:
        description = entity.entity_description
        if description.subject is not None and entity.entity_id is not None:
            groups[(description.subject, description.queue)].append(entity)
    for (subject, queue), members in groups.items():
        source = f"subject {subject}"

        async def deliver(
            msg: Msg, members: list[MessageEntity] = members, source: str = source
        ) -> None:
            if ingress is not None and ingress.guard is not None:
                verdict = ingress.check(as_topic(msg.subject), msg.data, transport=TRANSPORT)
                if not verdict.passed:
                    _LOGGER.debug("%s: refused by the ingress guard: %s", msg.subject,
                                  verdict.reason)
                    on_malformed(source)
                    return
            for entity in members:
                try:
                    entity.apply(msg.data, msg.subject)
                except PayloadError as err:
                    _LOGGER.debug("%s: malformed message: %s", entity.entity_id, err)
                    on_malformed(source)

        await client.nc.subscribe(subject, queue=queue, cb=deliver)
    if groups:
        await flush_in_order(client.nc, SUBSCRIBE_CONFIRM_TIMEOUT)
