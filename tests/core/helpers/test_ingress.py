"""The core ingress hook: pass without a guard, one guard at a time, replay feeds."""

from __future__ import annotations

import pytest

from gatehouse.core import GatehouseError, Host
from gatehouse.core.helpers import PASS, IngressVerdict, ingress_guard

pytestmark = pytest.mark.anyio


class _Refuser:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, str]] = []

    def check(self, topic: str, payload: bytes, *, transport: str) -> IngressVerdict:
        self.seen.append((topic, payload, transport))
        return IngressVerdict(payload == b"ok", None if payload == b"ok" else "bad")


async def test_without_a_guard_everything_passes(host: Host) -> None:
    hook = ingress_guard(host)
    assert hook is ingress_guard(host)
    assert hook.check("a/b", b"\xff", transport="mqtt") is PASS
    assert hook.guard is None


async def test_installed_guard_decides_and_is_removed(host: Host) -> None:
    hook = ingress_guard(host)
    guard = _Refuser()
    undo = hook.install(guard)
    with pytest.raises(GatehouseError):
        hook.install(_Refuser())
    assert hook.check("a/b", b"ok", transport="nats").passed
    refused = hook.check("a/b", b"no", transport="mqtt")
    assert not refused.passed and refused.reason == "bad"
    assert guard.seen == [("a/b", b"ok", "nats"), ("a/b", b"no", "mqtt")]
    undo()
    assert hook.check("a/b", b"no", transport="mqtt") is PASS
    undo()  # twice is harmless


async def test_replay_feeds_per_transport(host: Host) -> None:
    hook = ingress_guard(host)
    assert hook.replay_target("mqtt") is None
    got: list[tuple[str, str, bytes]] = []

    async def async_feed(topic: str, payload: bytes) -> None:
        got.append(("async", topic, payload))

    undo_a = hook.set_replay_target("mqtt", lambda t, p: got.append(("sync", t, p)))
    hook.set_replay_target("mqtt", async_feed)
    hook.set_replay_target("nats", lambda t, p: got.append(("nats", t, p)))
    target = hook.replay_target("mqtt")
    assert target is not None
    await target("x/y", b"1")
    assert got == [("sync", "x/y", b"1"), ("async", "x/y", b"1")]
    undo_a()
    got.clear()
    target = hook.replay_target("mqtt")
    assert target is not None
    await target("x/y", b"2")
    assert got == [("async", "x/y", b"2")]
    assert sorted(hook.transports()) == ["mqtt", "nats"]
