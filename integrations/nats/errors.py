"""The NATS integration's own errors, each a ``GatehouseError`` so callers see them as
ordinary failures.

Most trouble is reported with the core's classes: a set-up that cannot go on raises
``ConfigEntryNotReady``/``ConfigEntryAuthFailed``/``ConfigEntryError`` (``client.py``,
``jetstream.py``, ``consumer.py`` translate nats-py's errors at the boundary), and a
message without a usable value raises the helpers' ``PayloadError``. What is left is
what only NATS callers meet.
"""

from __future__ import annotations

from gatehouse.core import GatehouseError


class NatsError(GatehouseError):
    """Base of the errors below."""


class NatsRequestError(NatsError):
    """A request got no reply: timeout, no responders, or no connection."""


class NatsPublishError(NatsError):
    """``nats.publish`` could not hand the message over (nor queue it, for JetStream)."""
