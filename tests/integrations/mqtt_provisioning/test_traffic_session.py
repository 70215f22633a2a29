"""The traffic monitor's session on its own, with a clock the test moves: the rate
limit, the bounds on memory, pause, per-topic rates and the end of idle sessions.

No broker: ``TrafficSession.on_message`` is what the mqtt API calls per message, so
the test calls it the same way (the broker path is in ``test_provision_api.py``).
"""

from __future__ import annotations

import pytest

from gatehouse.integrations.mqtt.api import MqttMessage
from gatehouse.integrations.mqtt.provisioning import traffic
from gatehouse.integrations.mqtt.provisioning.traffic import TrafficSession


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(clock: Clock, rate: float = 5.0) -> TrafficSession:
    return TrafficSession("s1", "site/#", rate, clock, clock, last_poll=clock.now,
                          _tokens=rate, _refilled=clock.now)


def msg(topic: str = "site/a", payload: bytes = b"x", qos: int = 0) -> MqttMessage:
    return MqttMessage(topic, payload, qos, False, "e1")


def test_the_rate_limit_keeps_a_burst_then_the_refill_and_counts_the_rest() -> None:
    clock = Clock()
    s = session(clock, rate=5)
    for _ in range(20):
        s.on_message(msg())
    assert (s.seq, s.suppressed, s.received) == (5, 15, 20)
    clock.now += 1.0  # one second refills five
    for _ in range(20):
        s.on_message(msg())
    assert (s.seq, s.suppressed) == (10, 30)
    polled = s.poll(0)
    assert [m["seq"] for m in polled["messages"]] == list(range(1, 11))
    assert polled["topics"][0]["topic"] == "site/a" and polled["topics"][0]["count"] == 40


def test_memory_is_bounded_whatever_arrives(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    s = session(clock, rate=traffic.MAX_RATE)
    huge_topic = "site/" + "t" * 10_000
    s.on_message(msg(huge_topic, b"y" * 1_000_000))
    kept = s.messages[-1]
    assert len(kept["topic"]) == traffic.TOPIC_CHARS and kept["topic"].endswith("…")
    assert len(kept["payload"]) == traffic.PREVIEW_BYTES and kept["cut"]
    assert kept["size"] == 1_000_000
    for n in range(traffic.MAX_TOPICS + 50):
        clock.now += 0.01  # the bucket refills 5 per step at 500/s
        s.on_message(msg(f"site/{n}"))
    assert len(s.topics) == traffic.MAX_TOPICS
    assert s.other_topics == 51  # the big topic took a place in the table too
    assert len(s.messages) == traffic.BUFFER
    # A client that fell behind is told how many it missed.
    polled = s.poll(0, limit=10)
    assert polled["missed"] == s.seq - traffic.BUFFER
    assert polled["more"] and len(polled["messages"]) == 10


def test_binary_payloads_are_shown_as_hex_and_a_cut_character_is_dropped() -> None:
    clock = Clock()
    s = session(clock)
    s.on_message(msg(payload=b"\xff\x00\x01"))
    assert s.messages[-1]["payload"] is None and s.messages[-1]["payload_hex"] == "ff0001"
    text = ("é" * traffic.PREVIEW_BYTES).encode()  # 2 bytes each: the edge splits one
    s.on_message(msg(payload=text))
    assert s.messages[-1]["payload"] == "é" * (traffic.PREVIEW_BYTES // 2)


def test_pause_keeps_rates_but_not_messages() -> None:
    clock = Clock()
    s = session(clock)
    s.paused = True
    for _ in range(3):
        s.on_message(msg("site/b"))
    polled = s.poll(0)
    assert polled["messages"] == [] and polled["missed_while_paused"] == 3
    assert polled["topics"] == [{"topic": "site/b", "rate": pytest.approx(0.3, abs=0.01),
                                 "count": 3}]
    clock.now += traffic.RATE_TAU  # the rate decays with e^-1 per time constant
    assert s.poll(0)["topics"][0]["rate"] == pytest.approx(0.3 / 2.71828, abs=0.01)


def test_an_idle_session_ends_itself_on_the_next_message() -> None:
    clock = Clock()
    s = session(clock)
    ended: list[TrafficSession] = []
    s._on_idle = ended.append
    s.on_message(msg())
    clock.now += traffic.IDLE_TIMEOUT + 1
    s.on_message(msg())
    assert ended == [s] and s.received == 1
