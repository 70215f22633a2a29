"""The REST history read page by page from the database (``queries.HistoryPages``) and
encoded by ``resttext.rest_text`` is byte for byte the reference answer:
``json.dumps(history.rest_history(queries.states_during(...)))``, for every shape
(default, ``minimal_response``, ``no_attributes``, ``significant_changes_only=0``,
``skip_initial_state``), with pages of 1, 3 and the default size; sealed rows over
HTTP; and no read transaction is left open between pages."""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import anyio.lowlevel
import pytest
from aiohttp import ClientSession
from recordertools import BASE_CONFIG, running

from gatehouse.core import State
from gatehouse.core.testing import wait_until
from gatehouse.integrations.recorder import history, queries, resttext
from gatehouse.integrations.recorder.database import Database
from gatehouse.integrations.recorder.history import iso

pytestmark = pytest.mark.timeout(60)

START = 1_700_000_000.0
END = START + 3600.0
#: Asked in this order (not the order written); ``sensor.missing`` has no rows.
ASKED = ["sensor.power", "climate.room", "sensor.missing", "device_tracker.phone",
         "binary_sensor.door", "sensor.ties", "sensor.before", "sensor.only_before",
         "input_datetime.alarm"]


def _day(path: Path) -> None:
    """Rows that exercise each rule: shared attributes (a few ids for hundreds of
    rows), attribute-only updates (``last_changed`` earlier), odd states, rows with no
    attributes, many rows at one time (ties across page boundaries), states before
    the start (the start state), and the domains with rules of their own."""
    rng = random.Random(14)
    db = Database.open(path)
    batch: list[State] = []

    def add(entity_id: str, state: str, attrs: dict[str, Any], changed: float,
            updated: float) -> None:
        batch.append(State(entity_id, state, attrs, last_changed=changed,
                           last_updated=updated))

    shared = [{"unit_of_measurement": "W", "friendly_name": "Power ☃"},
              {"unit_of_measurement": "W", "friendly_name": "Power ☃", "x": [1, 2.5, None]},
              {"friendly_name": "Küche \"quoted\" \\ \u0001"}]
    odd = ["on", "", "ünïcödé", "quote\"back\\slash", "😀", "\x7f", "21.50"]
    t = START - 120.0
    changed = t
    state = "0"
    for index in range(700):
        t += rng.random() * 10 if index % 50 else 0.0  # some equal times
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
    for index in range(25):  # 25 rows at one time, then more
        add("sensor.ties", str(index), {"n": index % 2}, START + 10.0, START + 10.0)
    for index in range(7):
        add("sensor.ties", f"late {index}", {}, START + 11.0 + index, START + 11.0 + index)
    add("sensor.before", "early", {"a": 1}, START - 50.0, START - 50.0)
    add("sensor.before", "later", {"a": 1}, START + 5.5, START + 5.5)
    add("sensor.only_before", "old", {"b": 2}, START - 10.25, START - 10.25)
    db.write(batch, now=END)
    db.close()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rest_pages") / "day.db"
    _day(path)
    return path


def _reference(path: Path, *, minimal: bool, no_attributes: bool, significant: bool,
               include_start: bool) -> str:
    found = queries.states_during(path, ASKED, START, END, cipher=None,
                                  significant_only=significant, no_attributes=no_attributes,
                                  include_start_state=include_start)
    return json.dumps(history.rest_history(found, minimal=minimal,
                                           no_attributes=no_attributes))


def _paged(path: Path, *, minimal: bool, no_attributes: bool, significant: bool,
           include_start: bool, page_rows: int) -> list[str]:
    pages = queries.HistoryPages(path, ASKED, START, END, cipher=None,
                                 significant_only=significant, no_attributes=no_attributes,
                                 include_start_state=include_start, minimal=minimal,
                                 page_rows=page_rows)
    try:
        return list(resttext.rest_text(pages, minimal=minimal, no_attributes=no_attributes,
                                       piece_rows=page_rows))
    finally:
        pages.close()


@pytest.mark.parametrize(("minimal", "no_attributes", "significant", "include_start"),
                         list(itertools.product([False, True], repeat=4)))
@pytest.mark.parametrize("page_rows", [1, 3, queries.PAGE_ROWS])
def test_pages_are_the_reference_text(day: Path, minimal: bool, no_attributes: bool,
                                      significant: bool, include_start: bool,
                                      page_rows: int) -> None:
    expected = _reference(day, minimal=minimal, no_attributes=no_attributes,
                          significant=significant or minimal, include_start=include_start)
    pieces = _paged(day, minimal=minimal, no_attributes=no_attributes,
                    significant=significant or minimal, include_start=include_start,
                    page_rows=page_rows)
    assert "".join(pieces) == expected
    answer = json.loads(expected)
    by_id = {states[0]["entity_id"]: states for states in answer}
    assert "sensor.missing" not in by_id
    assert [s[0]["entity_id"] for s in answer] == [
        e for e in ASKED if e in by_id]  # the order asked
    # the rules the data is there for really showed up in this answer
    ties = [s["state"] for s in by_id["sensor.ties"]]
    assert ties[:25] == [str(n) for n in range(25)]  # equal times: in written order
    if include_start:
        assert by_id["sensor.only_before"][0]["state"] == "old"
        assert by_id["sensor.before"][0]["last_updated"] == iso(START)
    else:
        assert "sensor.only_before" not in by_id
    power = by_id["sensor.power"]
    if minimal:
        assert set(power[0]) == {"entity_id", "state", "attributes", "last_changed",
                                 "last_updated"}
        assert set(power[1]) == {"state", "last_changed"}
        assert "attributes" in by_id["climate.room"][1]  # a domain that keeps them
        assert "attributes" in by_id["input_datetime.alarm"][-1]
    if not significant and not minimal:  # attribute-only updates are in the answer
        assert any(s["last_changed"] != s["last_updated"] for s in power)
    if not no_attributes and not minimal:
        names = {json.dumps(s["attributes"]) for s in power}
        assert len(names) == 3  # shared attributes: three texts over hundreds of rows
        assert by_id["binary_sensor.door"][0]["attributes"] == {}
    if page_rows == 1:
        assert len(pieces) > len(power)  # really read a page (a query) at a time
    else:
        assert all(piece.count('"state": ') >= page_rows for piece in pieces[:-1])


def test_no_read_transaction_between_pages(tmp_path: Path) -> None:
    """While the answer waits for a slow client between two pages, the database holds
    no snapshot for it: a writer commits and a checkpoint copies every frame of the
    WAL back (a reader holding a snapshot keeps the newer frames from it)."""
    path = tmp_path / "slow.db"
    db = Database.open(path)
    db.write([State("sensor.a", str(n), {"n": 1}, last_changed=START + n,
                    last_updated=START + n) for n in range(100)], now=START)
    pages = queries.HistoryPages(path, ["sensor.a"], START, END, cipher=None,
                                 significant_only=True, no_attributes=False, page_rows=10)
    text = resttext.rest_text(pages, minimal=False, no_attributes=False, piece_rows=10)
    try:
        first = next(text)
        assert first.startswith('[[{"entity_id": "sensor.a", "state": "0"')
        db.write([State("sensor.a", "new", {"n": 2}, last_changed=START + 500,
                        last_updated=START + 500)], now=START + 500)
        _, log, copied = db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert log > 0 and copied == log
        rest = "".join(text)
    finally:
        pages.close()
        db.close()
    states = [s["state"] for s in json.loads(first + rest)[0]]
    assert states == [str(n) for n in range(100)] + ["new"]  # a later page sees it


def test_held_snapshot_is_what_the_checkpoint_reports(tmp_path: Path) -> None:
    """The check above can fail: with an open cursor (a snapshot) the checkpoint
    leaves the frames written after it in the WAL."""
    path = tmp_path / "held.db"
    db = Database.open(path)
    db.write([State("sensor.a", str(n), {}, last_changed=START + n, last_updated=START + n)
              for n in range(100)], now=START)
    reader = queries.connect_ro(path)
    try:
        cursor = reader.execute("SELECT state FROM states")
        cursor.fetchone()
        db.write([State("sensor.a", "new", {}, last_changed=START + 500,
                        last_updated=START + 500)], now=START + 500)
        _, log, copied = db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert 0 <= copied < log
    finally:
        reader.close()
        db.close()


SEALED = BASE_CONFIG.replace("gatehouse:\n  control_socket: false\n", """\
gatehouse:
  control_socket: false
  encryption:
    sensitive:
      include:
        entities: [sensor.recipe]
""")


@pytest.mark.anyio
async def test_sealed_rows_over_http_are_the_reference(config_dir: Path) -> None:
    """Sealed rows (found per row by SQL, opened with the reader's cipher) among plain
    ones, each shape over HTTP against the reference built from ``states_during``."""
    async with running(config_dir, base=SEALED) as rig:
        for index in range(40):
            rig.host.states.set("sensor.recipe", f"SECRET-{index % 6}",
                                {"batch": f"B{index % 3}", "n": index})
            rig.host.states.set("sensor.plain", f"v{index % 4}", {"shared": True})
        await rig.recorder.flush()
        start, end = 1_600_000_000.0, 4_000_000_000.0
        wanted = ["sensor.recipe", "sensor.plain"]
        for minimal, no_attributes in itertools.product([False, True], repeat=2):
            found = await rig.recorder.states_during(wanted, start, end,
                                                     significant_only=True,
                                                     no_attributes=no_attributes)
            expected = json.dumps(history.rest_history(found, minimal=minimal,
                                                       no_attributes=no_attributes))
            params = {"filter_entity_id": ",".join(wanted), "end_time": iso(end)}
            if minimal:
                params["minimal_response"] = ""
            if no_attributes:
                params["no_attributes"] = ""
            async with ClientSession() as session, session.get(
                    f"{rig.base}/api/history/period/{iso(start)}", params=params,
                    headers=rig.headers()) as response:
                assert response.status == 200
                body = (await response.read()).decode()
            assert body == expected
            recipe = json.loads(body)[0]
            assert recipe[0]["state"] == "SECRET-0"
            if not no_attributes:
                assert recipe[0]["attributes"] == {"batch": "B0", "n": 0}
        conn = sqlite3.connect(rig.recorder.path)
        try:
            assert conn.execute("SELECT COUNT(*) FROM states WHERE enc = 1").fetchone() \
                == (40,)
        finally:
            conn.close()


def _open_connections() -> int:
    """How many SQLite connections of this process are open (objects alive and not
    closed). Not the file's descriptors: SQLite keeps a closed connection's descriptor
    while another connection to the file holds POSIX locks."""
    count = 0
    for item in gc.get_objects():
        if isinstance(item, sqlite3.Connection):
            with contextlib.suppress(sqlite3.ProgrammingError):
                item.total_changes  # noqa: B018 (raises once closed)
                count += 1
    return count


@pytest.mark.anyio
async def test_a_client_that_leaves_mid_answer_leaves_no_reader_open(
        config_dir: Path) -> None:
    """The answer holds its own read connection while it is sent; a client that stops
    reading and goes away leaves it closed at once, not when the garbage collector
    finds the abandoned generator."""
    async with running(config_dir) as rig:
        for index in range(60_000):
            rig.host.states.set("sensor.big", str(index), {"friendly_name": "Big"})
            if index % 1000 == 999:
                await anyio.lowlevel.checkpoint()
        await rig.recorder.flush()
        baseline = _open_connections()
        params = {"filter_entity_id": "sensor.big", "end_time": iso(4_000_000_000.0)}
        async with ClientSession() as session:
            response = await session.get(
                f"{rig.base}/api/history/period/{iso(1_600_000_000.0)}", params=params,
                headers=rig.headers())
            assert response.status == 200
            assert (await response.content.readexactly(2)) == b"[["
            # ~13 MB: more than the socket buffers hold, so the answer is still open
            await wait_until(lambda: _open_connections() > baseline)
            response.close()
        await wait_until(lambda: _open_connections() == baseline, timeout=20,
                         message="the answer's read connection was left open")
