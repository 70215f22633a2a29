"""Bad input from devices: each is refused with a reason, nothing raises, nothing hangs.

Each case went through ``Guard.check`` (the inline path) and must come back as a
``Rejected`` verdict naming the check (size, utf8, json, depth, duplicate_key), quarantined.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import pytest
from sgtools import GOOD, TELEMETRY, Rig, dumps, make_guard, write_schema

from gatehouse.integrations.schema_guard.decode import depth_exceeds, strict_json
from gatehouse.integrations.schema_guard.engine import RuleConfig
from gatehouse.integrations.schema_guard.errors import PayloadRefused
from gatehouse.integrations.schema_guard.verdict import Rejected

DEEP = b"[" * 30_000 + b"]" * 30_000  # under the size limit: depth must refuse it


@pytest.fixture
def guard(tmp_path: Path) -> Rig:
    write_schema(tmp_path, "telemetry", 1, TELEMETRY)
    g, _ = make_guard(tmp_path, [
        RuleConfig("t", "t/{source}", schema="telemetry"),
        RuleConfig("plain", "plain/#"),
        RuleConfig("text", "text/#", format="text"),
    ], max_bytes=65_536, max_depth=16)
    return Rig(g)


@pytest.mark.parametrize(
    ("payload", "keyword", "says"),
    [
        (b'{"device": "d\xff"}', "utf8", "invalid UTF-8 at byte"),
        (b"not json at all", "json", "not JSON"),
        (b'{"device": "d-1", ', "json", "not JSON"),
        (DEEP, "depth", "nested deeper than 16"),
        (b"[" * 60_000, "depth", "nested deeper than 16"),  # unbalanced and deep
        (b'{"a":' * 17 + b"1" + b"}" * 17, "depth", "nested deeper than 16"),
        (b'{"temp": NaN}', "json", "NaN is not JSON"),
        (b'{"temp": Infinity}', "json", "Infinity is not JSON"),
        (b'{"temp": -Infinity}', "json", "-Infinity is not JSON"),
        (b'{"temp": 1, "temp": 2}', "duplicate_key", "key 'temp' appears twice"),
        (b'{"a": {"x": 1, "x": 1}}', "duplicate_key", "key 'x' appears twice"),
        (b"9" * 5000, "json", "not JSON"),  # Python's int digit limit, not a crash
        # overflows to infinity, which the validator saw as null
        (b'{"temp": 1e400}', "json", "number 1e400 is out of range"),
        (b'{"temp": -1e400}', "json", "number -1e400 is out of range"),
        (b"x" * 10_000_000, "size", "10000000 bytes exceeds 65536"),
    ],
)
@pytest.mark.parametrize("topic", ["t/dev1", "plain/x"])
def test_bad_payload_is_quarantined_with_its_reason(
    guard: Rig, topic: str, payload: bytes, keyword: str, says: str
) -> None:
    verdict = guard.check(topic, payload)
    assert isinstance(verdict, Rejected)
    assert verdict.action == "quarantine"
    assert verdict.errors[0].keyword == keyword
    assert says in verdict.errors[0].message
    assert verdict.errors[0].path == ""
    assert guard.stored[-1][0] is verdict


def test_depth_within_the_limit_is_fine(guard: Rig) -> None:
    doc = b'{"a":' * 15 + b"1" + b"}" * 15
    verdict = guard.check("plain/x", doc)
    assert verdict.accepted


def test_brackets_inside_strings_do_not_count_as_depth(guard: Rig) -> None:
    doc = dumps({"s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "t": '\\"{{{{{{{{{{{{{{{{{{{{{{{{{{{'})
    verdict = guard.check("plain/x", doc)
    assert verdict.accepted, verdict


def test_text_rule_checks_utf8_only(guard: Rig) -> None:
    assert guard.check("text/a", "grüß".encode()).accepted
    bad = guard.check("text/a", b"\xc3\x28")
    assert not bad.accepted and bad.errors[0].keyword == "utf8"


@pytest.mark.parametrize(
    "payload",
    [
        # an unterminated string full of escaped quotes: a naive string-skipping
        # expression retries at every quote (quadratic); ours is one pass
        b"[" * 40 + b'"' + b'x\\"' * 80_000,
        b"[" * 40 + b'"' + b'x\\"' * 80_000 + b"\\",
        b'["' * 40_000,
        b"{" * 60_000,
    ],
)
def test_depth_prescan_is_linear_on_hostile_input(payload: bytes) -> None:
    started = time.perf_counter()
    depth_exceeds(payload, 32)
    # Not a performance assertion (the bench measures): a quadratic scan of 240 KB
    # would take minutes; this guards against that class of regression only.
    assert time.perf_counter() - started < 5


def test_strict_json_refusals_are_payload_refused() -> None:
    with pytest.raises(PayloadRefused) as caught:
        strict_json(b'{"k": 1, "k": 1}', 8)
    assert caught.value.violation.keyword == "duplicate_key"


def test_a_good_document_passes_and_is_decoded(guard: Rig) -> None:
    verdict = guard.check("t/dev1", dumps(GOOD))
    assert verdict.accepted and verdict.value == GOOD and verdict.source == "dev1"
    assert guard.stored == []


@pytest.mark.parametrize(
    ("payload", "depth"),
    [
        (b'{"a": [{"b": [1]}]}', 4),
        (b"[[], [[]], []]", 3),
        (b'[{"x": "]]]]"}, {"y": {"z": "[[[["}}]', 3),
        (b'{"a": {"b": {"c": {}}}, "d": [[[[[]]]]]}', 6),
        (b'"[[[[[[[[[[[[[["', 0),
        (b'["a\\\\", [[1]]]', 3),  # an escaped backslash ends before the quote
        (b'["\\"[[[[", [1], "\\u005b"]', 2),  # an escaped quote stays in the string
        (b'[["", "", ""], "", [[""]], ""]', 3),  # empty strings between brackets
    ],
)
def test_depth_is_counted_exactly(payload: bytes, depth: int) -> None:
    """Mixed brackets, brackets in strings, siblings: the pre-scan's depth is the real
    nesting depth (one level removed per pass, never two)."""
    for limit in range(8):
        if payload.count(b"[") + payload.count(b"{") <= limit:
            continue  # the fast path needs no count
        assert depth_exceeds(payload, limit) is (depth > limit), limit


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (b'{"device": "\\ud800"}', "/device"),
        (b'{"readings": [{"k": "x\\udfff"}]}', "/readings/0/k"),
        (b'{"\\udbff": 1}', ""),
    ],
)
def test_lone_surrogate_escapes_are_refused_with_their_path(
    guard: Rig, payload: bytes, path: str
) -> None:
    """Regression: jsonschema-rs raised UnicodeEncodeError on a lone surrogate (legal
    JSON text decoding to a string UTF-8 cannot carry): the exception went to the caller."""
    for topic in ("t/dev1", "plain/x"):
        verdict = guard.check(topic, payload)
        assert not verdict.accepted
        assert (verdict.errors[0].keyword, verdict.errors[0].path) == ("utf8", path)


def test_paired_surrogate_escapes_are_fine(guard: Rig) -> None:
    verdict = guard.check("plain/x", b'{"emoji": "\\ud83d\\ude00"}')
    assert verdict.accepted and verdict.value == {"emoji": "\U0001F600"}


def test_a_validator_that_raises_refuses_the_message(guard: Rig) -> None:
    """Whatever a validator does, the verdict is a refusal, never an exception."""
    class Exploding:
        kind = "json"
        name, version, file = "x", 9, "x.v9.json"

        def validate(self, *args: object) -> None:
            raise RuntimeError("boom")

    bound = guard.guard.bound()[0]
    bound.schema = Exploding()  # type: ignore[assignment]
    verdict = guard.check("t/dev1", b"{}")
    assert not verdict.accepted and verdict.errors[0].keyword == "validator"
    assert guard.stored[-1][0] is verdict


def test_interleaved_rejections_log_once_per_burst(
    guard: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: every accepted message ended the burst, so with 1 message in 10
    invalid every rejection was logged again (a log flood). Now a burst ends only when
    a stats tick finds no rejection since the previous one."""
    with caplog.at_level(logging.INFO, logger="gatehouse.integrations.schema_guard"):
        for i in range(200):
            guard.check("t/dev1", b"nope" if i % 10 == 0 else dumps(GOOD))
        guard.guard.calm()  # a tick during the burst: rejections happened, no calm
        assert len([r for r in caplog.records if "rejecting" in r.getMessage()]) == 1
        guard.guard.calm()  # a quiet tick: the burst ends with its count
    ends = [r.getMessage() for r in caplog.records if "valid again" in r.getMessage()]
    assert ends == ["schema_guard rule t: messages valid again after 20 rejected"]


def _random_json(rng: random.Random, depth: int) -> object:
    alphabet = '[]{}"\\\\ab/u0'
    if depth == 0 or rng.random() < 0.25:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if rng.random() < 0.5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {"".join(rng.choice(alphabet) for _ in range(rng.randrange(4))) + str(i):
            _random_json(rng, depth - 1) for i in range(rng.randrange(4))}


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def test_depth_prescan_agrees_with_the_parsed_depth_on_random_documents() -> None:
    """Random documents with quotes, backslashes and brackets inside strings and keys:
    the pre-scan's answer is the decoded document's real depth, at every limit."""
    rng = random.Random(11)
    for _ in range(400):
        value = _random_json(rng, rng.randrange(1, 9))
        payload = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        depth = _depth(value)
        for limit in range(9):
            assert depth_exceeds(payload, limit) is (depth > limit), (payload, limit)
