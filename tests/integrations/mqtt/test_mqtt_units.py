"""Pure pieces of the MQTT integration: json_path, topic filters, the thread bridge.

The payload reader is the helpers' now (``gatehouse.core.helpers``); these cases pin the
paths and messages MQTT configurations rely on.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import voluptuous as vol

from gatehouse.core.helpers import JsonPath, PayloadError, ValueReader, loads
from gatehouse.integrations.mqtt.bridge import ThreadBridge
from gatehouse.integrations.mqtt.topics import TopicRouter, matches, valid_filter, valid_topic


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("value", ("value",)),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("$.a[-1]", ("a", -1)),
        ("[2].x", (2, "x")),
        ("a['x.y'][\"z\"]", ("a", "x.y", "z")),
    ],
)
def test_json_path_compiles(path: str, keys: tuple[object, ...]) -> None:
    assert JsonPath.compile(path).keys == keys


@pytest.mark.parametrize("path", ["", "$", "a..b", "a[", "a[x]", "a.[0]"])
def test_json_path_refuses_malformed(path: str) -> None:
    with pytest.raises(ValueError, match="json_path"):
        JsonPath.compile(path)


def test_value_reader_paths_and_bad_payloads() -> None:
    reader = ValueReader(None, json_path="a.b[1].c")
    assert reader.read(b'{"a": {"b": [{}, {"c": 4.5}]}}') == 4.5
    for payload, reason in [
        (b"nope", "not JSON"),
        (b'{"a": {"b": [{}]}}', "no 1"),
        (b'{"a": []}', "expected an object"),
        (b'{"a": {"b": {"1": 2}}}', "expected a list"),
    ]:
        with pytest.raises(PayloadError, match=reason):
            reader.read(payload)
    single = ValueReader(None, json_path="value")
    assert single.read(b'{"value": "x"}') == "x"
    with pytest.raises(PayloadError, match="no 'value'"):
        single.read(b'{"other": 1}')
    assert ValueReader(None).read(b"plain") == "plain"


def test_fast_json_matches_json_loads() -> None:
    assert loads(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    assert loads(b"  [1]\n") == [1]
    for bad in (b"{", b"1 2", b"", b"\xff"):
        with pytest.raises(ValueError):
            loads(bad)


def test_topic_validation_and_matching() -> None:
    assert valid_filter("a/+/c/#") == "a/+/c/#"
    for bad in ("a/#/c", "a/b+", "", "a#"):
        with pytest.raises(vol.Invalid):
            valid_filter(bad)
    with pytest.raises(vol.Invalid):
        valid_topic("a/+")
    assert matches("a/+/c", "a/b/c") and not matches("a/+/c", "a/b/c/d")
    assert matches("a/#", "a") and matches("a/#", "a/b/c") and matches("#", "x/y")
    assert not matches("#", "$SYS/broker") and matches("$SYS/#", "$SYS/broker")
    assert matches("+/+", "/x") and not matches("+", "/x")


def test_router_exact_and_wildcards() -> None:
    router: TopicRouter[str] = TopicRouter()
    undo_exact = router.add("home/t", "exact")
    undo_wild = router.add("home/+", "wild")
    router.add("other/#", "other")
    assert router.match("home/t") == ["exact", "wild"]
    assert router.match("home/u") == ["wild"]
    assert router.match("nowhere") == []
    assert undo_exact() is True  # last callback of that filter
    assert router.match("home/t") == ["wild"]
    assert undo_wild() is True
    assert router.filters() == ["other/#"]


def test_bridge_delivers_in_order_and_in_batches() -> None:
    """10 000 items put from another thread arrive in order, with far fewer loop
    wake-ups than items."""

    async def run() -> tuple[list[int], ThreadBridge[int]]:
        loop = asyncio.get_running_loop()
        got: list[int] = []
        done = asyncio.Event()
        total = 10_000

        def handle(item: int) -> None:
            got.append(item)
            if len(got) == total:
                done.set()

        bridge: ThreadBridge[int] = ThreadBridge(loop.call_soon_threadsafe, loop.call_later, handle)

        def produce() -> None:
            for n in range(total):
                bridge.put(n)

        thread = threading.Thread(target=produce)
        thread.start()
        await asyncio.wait_for(done.wait(), 10)
        thread.join()
        bridge.close()
        bridge.put(-1)  # ignored after close
        return got, bridge

    got, bridge = asyncio.run(run())
    assert got == list(range(10_000))
    assert bridge.items_total == 10_000
    assert bridge.drains < 1_000, bridge.drains
