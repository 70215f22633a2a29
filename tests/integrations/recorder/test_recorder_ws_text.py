"""The WebSocket history (``history/history_during_period``, ``history/stream``'s stored
part) read page by page (``queries.HistoryPages``) and encoded by ``wstext`` in a
worker thread is byte for byte what the core's encoder made of the reference,
``history.ws_history(queries.states_during(...))``: every flag combination, pages of
1, 3 and the default size, odd states and attributes (non-ASCII, NaN), sealed rows;
over a real socket, frame text compared. And the encoding runs off the event loop:
the core gets ``RawJson`` and does not encode the answer itself."""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse
from recordertools import BASE_CONFIG, Rig, running

from gatehouse.core import State
from gatehouse.core.http import ws_commands
from gatehouse.core.http.jsonutil import dumpb
from gatehouse.integrations.recorder import history, queries, wstext
from gatehouse.integrations.recorder.database import Database
from gatehouse.integrations.recorder.history import iso

pytestmark = pytest.mark.timeout(60)

START = 1_700_000_000.0
END = START + 3600.0
#: Asked in this order (not the order written); ``sensor.missing`` has no rows.
ASKED = ["sensor.power", "climate.room", "sensor.missing", "device_tracker.phone",
         "binary_sensor.door", "sensor.ties", "sensor.before", "sensor.only_before",
         "input_datetime.alarm", "sensor.nan"]
FLAGS = list(itertools.product([False, True], repeat=4))


def _day(path: Path) -> None:
    """Rows for each rule: shared attributes, attribute-only updates, odd states
    (non-ASCII, quotes, control characters), rows at one time, start states, the
    domains with rules of their own, and attributes holding NaN (written here by SQL:
    the core's encoder writes them as null)."""
    rng = random.Random(15)
    db = Database.open(path)
    batch: list[State] = []

    def add(entity_id: str, state: str, attrs: dict[str, Any], changed: float,
            updated: float) -> None:
        batch.append(State(entity_id, state, attrs, last_changed=changed,
                           last_updated=updated))

    shared = [{"unit_of_measurement": "W", "friendly_name": "Power ☃"},
              {"unit_of_measurement": "W", "friendly_name": "Power ☃", "x": [1, 2.5, None]},
              {"friendly_name": "Küche \"quoted\" \\ \u0001 \u2028"}]
    odd = ["on", "", "ünïcödé", "quote\"back\\slash", "😀", "\x7f", "21.50", "\u2028"]
    t = START - 120.0
    changed = t
    state = "0"
    for index in range(600):
        t += rng.random() * 10 if index % 50 else 0.0
        if index % 9 == 8:  # same state, other attributes: not significant
            attrs = dict(shared[(index // 9) % 3])
        else:
            changed, state = t, rng.choice([*odd, f"{rng.random():.3f}"])
            attrs = dict(shared[(index // 60) % 2])
        add("sensor.power", state, attrs, changed, t)
        if index % 5 == 0:
            add("climate.room", "heat", {"temperature": index / 10}, START - 200.0 + index, t)
            add("device_tracker.phone", "home", {"latitude": index}, START - 300.0, t)
            add("binary_sensor.door", rng.choice(["on", "off"]), {}, t, t)
            add("input_datetime.alarm", "07:00", {"has_time": True, "n": index % 3}, t, t)
            add("sensor.nan", str(index), {"marker_nan": index % 2, "v": 1e300}, t, t)
    for index in range(25):
        add("sensor.ties", str(index), {"n": index % 2}, START + 10.0, START + 10.0)
    add("sensor.before", "early", {"a": 1}, START - 50.0, START - 50.0)
    add("sensor.before", "later", {"a": 1}, START + 5.5, START + 5.5)
    add("sensor.only_before", "old", {"b": 2}, START - 10.25, START - 10.25)
    db.write(batch, now=END)
    db.close()
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE state_attributes SET shared_attrs = "
                     "replace(shared_attrs, '\"marker_nan\":1', '\"marker_nan\":NaN') "
                     "WHERE shared_attrs LIKE '%marker_nan\":1%'")
        assert conn.total_changes == 1
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ws_text") / "day.db"
    _day(path)
    return path


def _reference(path: Path, *, minimal: bool, no_attributes: bool, significant: bool,
               include_start: bool) -> bytes:
    """What the command answered before: the core's ``dumpb`` of the dicts."""
    found = queries.states_during(path, ASKED, START, END, cipher=None,
                                  significant_only=significant, no_attributes=no_attributes,
                                  include_start_state=include_start)
    return dumpb(history.ws_history(found, minimal=minimal, no_attributes=no_attributes))


def _pages(path: Path, *, minimal: bool, no_attributes: bool, significant: bool,
           include_start: bool, page_rows: int = queries.PAGE_ROWS) -> queries.HistoryPages:
    return queries.HistoryPages(path, ASKED, START, END, cipher=None,
                                significant_only=significant, no_attributes=no_attributes,
                                include_start_state=include_start, minimal=minimal,
                                page_rows=page_rows, encode=wstext.compact)


@pytest.mark.parametrize(("minimal", "no_attributes", "significant", "include_start"), FLAGS)
@pytest.mark.parametrize("page_rows", [1, 3, queries.PAGE_ROWS])
def test_ws_text_is_the_reference_encoding(day: Path, minimal: bool, no_attributes: bool,
                                           significant: bool, include_start: bool,
                                           page_rows: int) -> None:
    significant = significant or minimal  # as the command asks
    expected = _reference(day, minimal=minimal, no_attributes=no_attributes,
                          significant=significant, include_start=include_start)
    pages = _pages(day, minimal=minimal, no_attributes=no_attributes,
                   significant=significant, include_start=include_start,
                   page_rows=page_rows)
    parts = wstext.answer(pages, minimal=minimal, no_attributes=no_attributes)
    made = b"".join(parts)
    assert made == expected
    if page_rows == 1:
        assert len(parts) > 100  # a part per page, not one large join
    assert pages._conn is None  # closed by ``answer``
    # the rules the data is there for really showed up in this answer
    answer = json.loads(made)
    assert "sensor.missing" not in answer
    assert list(answer) == [e for e in ASKED if e in answer]
    power = answer["sensor.power"]
    assert "ünïcödé".encode() in made  # not ASCII-escaped, as the core writes it
    if include_start:
        assert answer["sensor.only_before"] == [
            {"s": "old", "a": {} if no_attributes else {"b": 2}, "lu": START}]
    else:
        assert "sensor.only_before" not in answer
    if minimal:
        assert set(power[0]) >= {"s", "a", "lu"} and set(power[1]) == {"s", "lu"}
        assert "a" in answer["climate.room"][1]  # a domain that keeps them
    if not significant:
        assert any("lc" in s for s in power)  # attribute-only updates are in
    if not no_attributes and not minimal:
        nan = [s["a"]["marker_nan"] for s in answer["sensor.nan"]]
        assert None in nan and 0 in nan  # NaN written as null, as the core does
        assert b"NaN" not in made


def test_a_future_or_empty_answer_is_an_object(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    Database.open(path).close()
    pages = queries.HistoryPages(path, ["sensor.none"], START, END, cipher=None,
                                 significant_only=True, no_attributes=False,
                                 encode=wstext.compact)
    assert b"".join(wstext.answer(pages, minimal=False, no_attributes=False)) == b"{}"
    pages = queries.HistoryPages(path, ["sensor.none"], START, END, cipher=None,
                                 significant_only=True, no_attributes=False,
                                 encode=wstext.compact)
    assert b"".join(wstext.answer(pages, minimal=False, no_attributes=False,
                                  period=(START, END + 0.25))) == \
        dumpb({"states": {}, "start_time": START, "end_time": END + 0.25})


def test_compact_is_the_cores_encoding() -> None:
    for value in ({"a": float("nan"), "b": [float("inf"), -0.0, 1e300, 2**70]},
                  "ünï \u2028 \x00 \"", {"nested": {"x": float("-inf")}}, None, 3.25):
        assert wstext.compact(value).encode() == dumpb(value)
    for ts in (START, START + 0.1, 0.0, -1.5, 1e16, 12):
        assert wstext.number(ts).encode() == dumpb(ts)


# -- over a real socket ----------------------------------------------------------------


async def _socket(session: ClientSession, rig: Rig) -> ClientWebSocketResponse:
    sock = await session.ws_connect(f"{rig.base}/api/websocket", max_msg_size=0)
    await sock.receive_json()
    await sock.send_json({"type": "auth", "access_token": rig.tokens["admin"]})
    assert (await sock.receive_json())["type"] == "auth_ok"
    return sock


SEALED = BASE_CONFIG.replace("gatehouse:\n  control_socket: false\n", """\
gatehouse:
  control_socket: false
  encryption:
    sensitive:
      include:
        entities: [sensor.recipe]
""")


@pytest.mark.anyio
async def test_sealed_rows_over_the_socket_are_the_reference(config_dir: Path) -> None:
    """Sealed rows (flagged per row by SQL, opened with the reader's cipher) among
    plain ones, over the socket, frame text against the core's encoding of the
    reference; ``history/stream``'s stored part too."""
    async with running(config_dir, base=SEALED) as rig:
        for index in range(40):
            rig.host.states.set("sensor.recipe", f"SECRET-{index % 6}",
                                {"batch": f"B{index % 3}", "n": index})
            rig.host.states.set("sensor.plain", f"v{index % 4}", {"shared": "ü"})
        await rig.recorder.flush()
        start, end = 1_600_000_000.0, 4_000_000_000.0
        wanted = ["sensor.recipe", "sensor.plain"]
        async with ClientSession() as session:
            sock = await _socket(session, rig)
            msg_id = 0
            for minimal, no_attributes in itertools.product([False, True], repeat=2):
                found = await rig.recorder.states_during(wanted, start, end,
                                                         significant_only=True,
                                                         no_attributes=no_attributes)
                states = dumpb(history.ws_history(found, minimal=minimal,
                                                  no_attributes=no_attributes))
                msg_id += 1
                await sock.send_json({
                    "id": msg_id, "type": "history/history_during_period",
                    "start_time": iso(start), "end_time": iso(end), "entity_ids": wanted,
                    "minimal_response": minimal, "no_attributes": no_attributes})
                frame = await sock.receive_str()
                assert frame.encode() == (b'{"id":%d,"type":"result","success":true,'
                                          b'"result":%b}' % (msg_id, states))
                recipe = json.loads(frame)["result"]["sensor.recipe"]
                assert recipe[0]["s"] == "SECRET-0"
                if not no_attributes:
                    assert recipe[0]["a"] == {"batch": "B0", "n": 0}
                msg_id += 1
                await sock.send_json({
                    "id": msg_id, "type": "history/stream", "start_time": iso(start),
                    "end_time": iso(end), "entity_ids": wanted,
                    "minimal_response": minimal, "no_attributes": no_attributes})
                assert json.loads(await sock.receive_str())["success"] is True
                event = await sock.receive_str()
                until = json.loads(event)["event"]["end_time"]  # now: the end is ahead
                assert start < until < end
                stored = dumpb({"states": json.loads(states), "start_time": start,
                                "end_time": until})
                assert event.encode() == b'{"id":%d,"type":"event","event":%b}' % (
                    msg_id, stored)
            await sock.close()


@pytest.mark.anyio
async def test_the_answer_is_encoded_off_the_event_loop(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread that encodes the answer is not the loop's, and the core does not
    encode it again (its ``dumpb`` never sees it): only splicing is left on the loop.
    No wall-clock figure: bench_recorder.py measures the loop's lateness."""
    loop_thread = threading.get_ident()
    encoded_in: list[int] = []
    real_ws_parts = wstext.ws_parts

    def spy_ws_parts(*args: Any, **kwargs: Any) -> list[bytes]:
        encoded_in.append(threading.get_ident())
        return real_ws_parts(*args, **kwargs)

    core_encoded: list[Any] = []
    real_dumpb: Callable[[Any], bytes] = ws_commands.dumpb

    def spy_dumpb(value: Any) -> bytes:
        core_encoded.append(value)
        return real_dumpb(value)

    monkeypatch.setattr(wstext, "ws_parts", spy_ws_parts)
    monkeypatch.setattr(ws_commands, "dumpb", spy_dumpb)
    async with running(config_dir) as rig:
        for index in range(300):
            rig.host.states.set("sensor.busy", str(index), {"n": index % 7})
        await rig.recorder.flush()
        span = {"start_time": iso(1_600_000_000.0), "end_time": iso(4_000_000_000.0),
                "entity_ids": ["sensor.busy"]}
        answer = await rig.ws({"type": "history/history_during_period", **span})
        assert len(answer["result"]["sensor.busy"]) == 300
        async with ClientSession() as session:
            sock = await _socket(session, rig)
            await sock.send_json({"id": 1, "type": "history/stream", **span})
            assert json.loads(await sock.receive_str())["success"] is True
            stored = json.loads(await sock.receive_str())["event"]
            assert len(stored["states"]["sensor.busy"]) == 300
            await sock.close()
    assert len(encoded_in) == 2  # the command's answer and the stream's stored part
    assert loop_thread not in encoded_in
    assert core_encoded == []  # neither went through the core's encoder


@pytest.mark.anyio
async def test_an_answer_over_the_size_bound_is_refused_not_built(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A WebSocket history answer is one message, held whole until it is sent: without a
    bound, a month of every entity (any user who may read them can ask) grows the host's
    memory by gigabytes. Past ``MAX_ANSWER_BYTES`` the command stops building it and
    says how to get the rows (a shorter period, fewer entities, or the streamed REST
    API). The bound is lowered here so that 300 rows pass it."""
    monkeypatch.setattr(wstext, "MAX_ANSWER_BYTES", 2_000)
    async with running(config_dir) as rig:
        for index in range(300):
            rig.host.states.set("sensor.busy", str(index), {"n": index % 7})
        await rig.recorder.flush()
        span = {"start_time": iso(1_600_000_000.0), "end_time": iso(4_000_000_000.0),
                "entity_ids": ["sensor.busy"]}
        answer = await rig.ws({"type": "history/history_during_period", **span})
        assert answer["success"] is False
        message = answer["error"]["message"]
        assert "larger than" in message and "/api/history/period" in message
        async with ClientSession() as session:
            sock = await _socket(session, rig)
            await sock.send_json({"id": 1, "type": "history/stream", **span})
            reply = json.loads(await sock.receive_str())
            assert reply["success"] is False and "larger than" in reply["error"]["message"]
            await sock.close()
        # small answers are unaffected
        monkeypatch.setattr(wstext, "MAX_ANSWER_BYTES", 1 << 20)
        answer = await rig.ws({"type": "history/history_during_period", **span})
        assert len(answer["result"]["sensor.busy"]) == 300
