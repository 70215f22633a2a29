"""The fast REST history encoder (``resttext.rest_text``) sends exactly the text
``json.dumps(history.rest_history(...))`` sent before (what aiohttp's json_response
made of it): attributes encoded once per attributes id and spliced, rows from a
template, times without a ``datetime`` per row. Proven byte for byte here on
thousands of varied rows in memory (``resttext.FoundRows``); from a database page by
page in test_recorder_rest_pages.py; the speed itself is measured in
scripts/bench/bench_recorder.py.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from recordertools import running

from gatehouse.integrations.recorder import history, queries, resttext
from gatehouse.integrations.recorder.history import iso

FLAGS = [(False, False), (True, False), (False, True), (True, True)]


def _attributes(rng: random.Random, index: int) -> dict[str, Any]:
    pick = index % 7
    if pick == 0:
        return {}
    if pick == 1:
        return {"friendly_name": "Küche \u2013 Temperatur ☃", "unit_of_measurement": "°C",
                "state_class": "measurement"}
    if pick == 2:
        return {"value": rng.random() * 10 ** rng.randint(-12, 20), "neg": -0.0,
                "big": 2 ** 70, "tiny": 5e-324, "nan": math.nan, "inf": math.inf}
    if pick == 3:
        return {"nested": {"list": [1, 2.5, None, True, "x\"y\\z\n\t\u0001"],
                           "emoji": "😀 \U0001f600"}, "1": 1}
    if pick == 4:
        return {"options": [f"opt {n} ñ" for n in range(rng.randint(0, 5))],
                "ok": False}
    if pick == 5:
        return {"text": "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(20))}
    return {"n": index, "f": index / 3}


def _times(rng: random.Random) -> float:
    kind = rng.randint(0, 5)
    if kind == 0:
        return float(rng.randint(0, 4_000_000_000))
    if kind == 1:  # halves of a microsecond, the rounding's ties
        return rng.randint(1_600_000_000, 1_800_000_000) + rng.randint(0, 999_999) / 1e6 \
            + 5e-7
    if kind == 2:  # just under a whole second (rounds up into the next)
        return rng.randint(1_600_000_000, 1_800_000_000) + 0.9999996
    if kind == 3:
        return rng.uniform(0, 3_000_000_000)
    return 1_700_000_000 + rng.random() * 86_400


def _found(seed: int = 14, rows_per_entity: int = 1500) -> queries.Found:
    rng = random.Random(seed)
    found = queries.Found()
    for number in range(30):
        found.attributes[number] = _attributes(rng, number)
    found.attributes[("sealed", 0)] = {"encrypted": True}
    states = ["on", "off", "21.50", "", "ünïcödé", "quote\"back\\slash", "😀", "\x7f\x00"]
    for entity_id in ("sensor.power", "climate.living_room", "sensor.ünicode",
                      "binary_sensor.door"):
        rows: list[queries.Row] = []
        t = 1_700_000_000.0
        for _ in range(rows_per_entity):
            state: Any = rng.choice([*states, None, f"{rng.random()}"])
            key: Any = rng.choice([*range(30), None, 999, ("sealed", 0)])
            updated = _times(rng) if rng.random() < 0.3 else t + rng.random()
            changed = updated if rng.random() < 0.6 else _times(rng)
            rows.append((state, key, changed, updated))
            t += 1.0
        found.states[entity_id] = rows
    return found


@pytest.mark.parametrize(("minimal", "no_attributes"), FLAGS)
@pytest.mark.parametrize("piece_rows", [1, 7, queries.PAGE_ROWS])
def test_same_text_as_json_dumps(minimal: bool, no_attributes: bool,
                                 piece_rows: int) -> None:
    found = _found()
    before = json.dumps(history.rest_history(found, minimal=minimal,
                                             no_attributes=no_attributes))
    after = "".join(resttext.rest_text(resttext.FoundRows(found, piece_rows),
                                       minimal=minimal, no_attributes=no_attributes,
                                       piece_rows=piece_rows))
    assert after == before


def test_empty_and_single() -> None:
    assert "".join(resttext.rest_text(resttext.FoundRows(queries.Found()), minimal=False,
                                      no_attributes=False)) == "[]"
    one = queries.Found(states={"sensor.a": [("1", None, 5.5, 5.5)]})
    assert "".join(resttext.rest_text(resttext.FoundRows(one), minimal=True,
                                      no_attributes=False)) \
        == json.dumps(history.rest_history(one, minimal=True, no_attributes=False))


def test_iso_cache_matches_datetime() -> None:
    rng = random.Random(7)
    to_iso = resttext.IsoClock()
    samples: list[float] = [0.0, 5e-7, 1.5e-6, 0.9999995, 0.9999994999, 59.9999996, 1e9 + 0.5e-6,
               253_402_300_798.999999, 253_402_300_799.0, -1.0, -0.4e-6]
    samples += [_times(rng) for _ in range(20_000)]
    samples += [rng.randint(0, 2**31) + rng.randint(0, 2_000_000) * 5e-7
                for _ in range(20_000)]
    samples += sorted(samples)  # in order: the within-a-minute path
    samples += [1_700_000_000 + n * 0.37 + rng.choice([0.0, 5e-7, 0.9999996, rng.random()])
                for n in range(20_000)]
    for ts in samples:
        if ts < 0:
            continue  # fromtimestamp of a negative time is platform-dependent
        assert to_iso(ts) == iso(ts), ts


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_rest_answer_is_the_old_text(config_dir: Path) -> None:
    """Over HTTP: the body is the old ``json_response`` body (sent in chunks now), with
    the same content type and the security headers."""
    async with running(config_dir) as rig:
        for index in range(300):
            rig.host.states.set("sensor.mix", f"{index / 7:.3f}",
                                {"friendly_name": "Mischer ☃", "n": index % 4,
                                 "f": index % 3 / 3})
        await rig.recorder.flush()
        start, end = 1_600_000_000.0, 4_000_000_000.0
        for minimal, no_attributes in FLAGS:
            found = await rig.recorder.states_during(
                ["sensor.mix"], start, end, significant_only=True,
                no_attributes=no_attributes)
            expected = json.dumps(history.rest_history(found, minimal=minimal,
                                                       no_attributes=no_attributes))
            params = {"filter_entity_id": "sensor.mix", "end_time": iso(end)}
            if minimal:
                params["minimal_response"] = ""
            if no_attributes:
                params["no_attributes"] = ""
            async with ClientSession() as session, session.get(
                    f"{rig.base}/api/history/period/{iso(start)}", params=params,
                    headers=rig.headers()) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "application/json; charset=utf-8"
                # added by core/http's headers middleware: the body is not prepared early
                assert response.headers["Cache-Control"] == "no-store"
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert (await response.read()).decode() == expected
            assert len(json.loads(expected)[0]) == 300
