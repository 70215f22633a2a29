"""The live traffic monitor: what arrives on a topic filter, for a person to watch.

A browser cannot hold an MQTT subscription through the web API, and a plugin's
WebSocket commands answer requests (they cannot push), so the server keeps a small
*session* per open monitor page and the page polls it (``mqtt/traffic/poll``, a few
times a second) for what arrived since its last sequence number.

Nothing a device sends can make a session grow or slow the loop:

* **rate limit**: a token bucket (``rate`` messages/s, a burst of one second's worth)
  decides which messages are kept for display; the rest are only counted
  (``suppressed``), so a flood costs a counter increment each;
* **bounded memory**: the last ``BUFFER`` messages (a deque), payloads cut to
  ``PREVIEW_BYTES`` and topics to ``TOPIC_CHARS``; per-topic rates for at most
  ``MAX_TOPICS`` topics, later ones counted together as ``other_topics``;
* **pause** stops keeping messages (counted as ``missed_while_paused``) while the rates
  go on; **idle sessions end**: a session nobody polled for ``IDLE_TIMEOUT`` seconds
  unsubscribes (checked on every message and every request), and at most
  ``MAX_SESSIONS`` live at once.

Per-topic rates are exponentially weighted (time constant ``RATE_TAU``): one float and
a timestamp per topic, updated in O(1), decayed to "now" when read. Searching is done
by the page over the messages it holds. ``$CONTROL/...`` filters are refused: dynamic
security requests carry passwords. A message's ``qos`` is as delivered: at most the
monitor's own subscription QoS (``start(qos=...)``).
"""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import voluptuous as vol

from gatehouse.core import Host, HostKey

from ..api import MQTT_API, MqttMessage
from ..topics import valid_filter
from .errors import TrafficError

BUFFER: Final = 500
PREVIEW_BYTES: Final = 1024
TOPIC_CHARS: Final = 256
MAX_TOPICS: Final = 500
MAX_SESSIONS: Final = 8
IDLE_TIMEOUT: Final = 30.0
RATE_TAU: Final = 10.0
DEFAULT_RATE: Final = 20.0
MAX_RATE: Final = 500.0
POLL_LIMIT: Final = 200
TOP_TOPICS: Final = 50

Clock = Callable[[], float]


def _cut_topic(topic: str) -> str:
    return topic if len(topic) <= TOPIC_CHARS else topic[: TOPIC_CHARS - 1] + "…"


def _preview(payload: bytes) -> dict[str, Any]:
    head = payload[:PREVIEW_BYTES]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if len(payload) > PREVIEW_BYTES and err.start >= PREVIEW_BYTES - 3:
            text = head[: err.start].decode("utf-8")  # a character cut at the edge
        else:
            return {"payload": None, "payload_hex": head[:256].hex(),
                    "cut": len(payload) > 256}
    return {"payload": text, "cut": len(payload) > PREVIEW_BYTES}


@dataclass(slots=True)
class _TopicRate:
    rate: float = 0.0
    last: float = 0.0
    count: int = 0

    def hit(self, now: float) -> None:
        self.rate = self.rate * math.exp(-(now - self.last) / RATE_TAU) + 1.0 / RATE_TAU
        self.last = now
        self.count += 1

    def at(self, now: float) -> float:
        return self.rate * math.exp(-max(0.0, now - self.last) / RATE_TAU)


@dataclass(eq=False)
class TrafficSession:
    """One monitor page's subscription and what it kept."""

    id: str
    topic_filter: str
    rate: float
    clock: Clock
    wall: Clock
    entry_id: str | None = None
    paused: bool = False
    seq: int = 0
    received: int = 0
    suppressed: int = 0
    missed_while_paused: int = 0
    other_topics: int = 0
    messages: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=BUFFER))
    topics: dict[str, _TopicRate] = field(default_factory=dict)
    last_poll: float = 0.0
    _tokens: float = 0.0
    _refilled: float = 0.0
    _unsubscribe: Callable[[], None] | None = None
    _on_idle: Callable[[TrafficSession], None] | None = None

    def idle(self, now: float) -> bool:
        return now - self.last_poll > IDLE_TIMEOUT

    def on_message(self, message: MqttMessage) -> None:
        """In the loop, per message: O(1) whatever the payload."""
        now = self.clock()
        if self.idle(now):
            if self._on_idle is not None:
                self._on_idle(self)
            return
        self.received += 1
        topic = _cut_topic(message.topic)
        rate = self.topics.get(topic)
        if rate is None:
            if len(self.topics) >= MAX_TOPICS:
                self.other_topics += 1
            else:
                rate = self.topics[topic] = _TopicRate(last=now)
        if rate is not None:
            rate.hit(now)
        if self.paused:
            self.missed_while_paused += 1
            return
        self._tokens = min(self.rate, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens < 1.0:
            self.suppressed += 1
            return
        self._tokens -= 1.0
        self.seq += 1
        self.messages.append({
            "seq": self.seq, "time": self.wall(), "topic": topic, "qos": message.qos,
            "retain": message.retain, "size": len(message.payload),
            # Which broker: a monitor of every broker says where each message came from.
            "entry_id": message.entry_id,
            **_preview(message.payload),
        })

    def poll(self, after: int, limit: int = POLL_LIMIT) -> dict[str, Any]:
        now = self.clock()
        self.last_poll = now
        first = self.messages[0]["seq"] if self.messages else self.seq + 1
        missed = max(0, first - 1 - after) if after < self.seq else 0
        fresh = [m for m in self.messages if m["seq"] > after][:limit]
        ranked = sorted(self.topics.items(), key=lambda kv: kv[1].at(now), reverse=True)
        return {
            "session_id": self.id, "topic_filter": self.topic_filter,
            "entry_id": self.entry_id,
            "paused": self.paused, "seq": self.seq,
            "messages": fresh, "more": len(fresh) == limit and fresh[-1]["seq"] < self.seq,
            "missed": missed, "received": self.received, "suppressed": self.suppressed,
            "missed_while_paused": self.missed_while_paused,
            "rate_limit": self.rate,
            "topics": [{"topic": t, "rate": round(r.at(now), 3), "count": r.count}
                       for t, r in ranked[:TOP_TOPICS]],
            "topic_count": len(self.topics), "other_topics": self.other_topics,
        }

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class TrafficMonitor:
    """Live sessions of one host (``host.data[TRAFFIC]``)."""

    def __init__(self, host: Host, clock: Clock = time.monotonic,
                 wall: Clock = time.time) -> None:
        self._host = host
        self._clock = clock
        self._wall = wall
        self.sessions: dict[str, TrafficSession] = {}

    def start(self, topic_filter: str, *, rate: float = DEFAULT_RATE, qos: int = 0,
              entry_id: str | None = None) -> TrafficSession:
        """Subscribe for a page. ``qos``: the subscription's; a message arrives at the
        smaller of its publisher's QoS and this, so 2 shows what publishers used (at
        the price of QoS 2's four packets per message between broker and us)."""
        try:
            valid_filter(topic_filter)
        except vol.Invalid as err:
            raise TrafficError(f"bad topic filter {topic_filter!r}: {err}") from None
        if topic_filter.startswith("$CONTROL"):
            raise TrafficError("$CONTROL topics are not shown: they carry broker "
                               "administration, passwords included")
        if qos not in (0, 1, 2):
            raise TrafficError("qos must be 0, 1 or 2")
        if not 0 < rate <= MAX_RATE:
            raise TrafficError(f"rate must be above 0 and at most {MAX_RATE:g} messages/s")
        api = self._host.data.get(MQTT_API)
        if api is None or not api.entry_ids():
            raise TrafficError("no mqtt entry is loaded")
        if entry_id is not None and entry_id not in api.entry_ids():
            raise TrafficError(f"no loaded mqtt entry {entry_id}")
        self.prune()
        if len(self.sessions) >= MAX_SESSIONS:
            raise TrafficError(f"{MAX_SESSIONS} traffic monitors are open already; "
                               "close one first")
        now = self._clock()
        session = TrafficSession(secrets.token_hex(8), topic_filter, float(rate),
                                 self._clock, self._wall, entry_id=entry_id,
                                 last_poll=now, _tokens=float(rate), _refilled=now)
        session._on_idle = self._end
        session._unsubscribe = api.subscribe(topic_filter, session.on_message, qos=qos,
                                             entry_id=entry_id)
        self.sessions[session.id] = session
        return session

    def get(self, session_id: str) -> TrafficSession:
        self.prune()
        session = self.sessions.get(session_id)
        if session is None:
            raise TrafficError("this traffic monitor has ended (closed, or idle for "
                               f"{IDLE_TIMEOUT:g}s); start it again")
        return session

    def stop(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            session.close()

    def prune(self) -> None:
        now = self._clock()
        for session in [s for s in self.sessions.values() if s.idle(now)]:
            self._end(session)

    def close_all(self) -> None:
        for session in list(self.sessions.values()):
            self._end(session)

    def _end(self, session: TrafficSession) -> None:
        self.sessions.pop(session.id, None)
        session.close()


#: The host's traffic monitor (made on first use).
TRAFFIC: Final[HostKey[TrafficMonitor]] = HostKey("mqtt.traffic")


def traffic_monitor(host: Host) -> TrafficMonitor:
    monitor = host.data.get(TRAFFIC)
    if monitor is None:
        monitor = host.data[TRAFFIC] = TrafficMonitor(host)
    return monitor
