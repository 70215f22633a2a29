"""Payload → value: one reader for every message-driven entity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatehouse.core import Host
from gatehouse.core.helpers import (
    OnOffPayload,
    PayloadError,
    TemplateBudgetError,
    TemplateLimits,
    ValueReader,
    ValueTemplateError,
    configure_templates,
    payload_json,
    payload_text,
    template_engine,
)
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio


@pytest.fixture
def idle_host(config_dir: Path) -> Host:
    """A host that is not started: enough for a template engine."""
    return make_host(config_dir)


def test_no_reader_configured_means_the_payload_as_text() -> None:
    reader = ValueReader(None)
    assert reader.read(b"21.5") == "21.5"
    with pytest.raises(PayloadError, match="not UTF-8"):
        reader.read(b"\xff")


@pytest.mark.parametrize(
    ("path", "payload", "expected"),
    [
        ("temp", b'{"temp": 21.5}', 21.5),  # the single-key fast path
        ("temp", b'  {"temp": 1}  ', 1),  # whitespace goes the slow way, same answer
        ("$.a.b[1]", b'{"a": {"b": [1, 2]}}', 2),
        ("0", b"[7, 8]", 7),  # single key on a list: the general walk
        ("obj", b'{"obj": {"x": 1}}', {"x": 1}),
    ],
)
def test_json_path_reads_json_values(path: str, payload: bytes, expected: Any) -> None:
    assert ValueReader(None, json_path=path).read(payload) == expected


@pytest.mark.parametrize(
    ("path", "payload", "reason"),
    [
        ("temp", b"not json", "not JSON"),
        ("temp", b'{"other": 1}', "no 'temp' in the payload"),
        ("temp", b"\xff", "not JSON"),
        ("a.b", b'{"a": 3}', "nothing at 'b'"),
    ],
)
def test_json_path_failures_are_payload_errors(path: str, payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        ValueReader(None, json_path=path).read(payload)


def test_templates_see_value_value_json_and_the_callers_variables(idle_host: Host) -> None:
    engine = template_engine(idle_host)
    reader = ValueReader(engine, value_template="{{ value_json.t * 2 }} on {{ topic }}")
    assert reader.read(b'{"t": 4}', {"topic": "a/b"}) == "8 on a/b"
    plain = ValueReader(engine, value_template="{{ value | upper }}")
    assert plain.read(b"  on ") == "ON"  # rendered, then stripped


def test_value_json_is_undefined_for_non_json_not_an_error_by_itself(idle_host: Host) -> None:
    engine = template_engine(idle_host)
    tolerant = ValueReader(
        engine, value_template="{{ value_json.t if value_json is defined else value }}"
    )
    assert tolerant.read(b"raw") == "raw"
    strict = ValueReader(engine, value_template="{{ value_json.t }}")
    with pytest.raises(PayloadError, match="value_json"):
        strict.read(b"raw")


def test_bad_configuration_fails_at_construction_not_per_message(idle_host: Host) -> None:
    engine = template_engine(idle_host)
    with pytest.raises(ValueError, match="syntax"):
        ValueReader(engine, value_template="{{ value ")
    with pytest.raises(ValueError, match="exclude each other"):
        ValueReader(engine, value_template="{{ value }}", json_path="a")
    with pytest.raises(ValueError, match="needs a template engine"):
        ValueReader(None, value_template="{{ value }}")
    with pytest.raises(ValueError, match="json_path"):
        ValueReader(None, json_path="a[")


def test_on_off_words() -> None:
    words = OnOffPayload(on="OPEN", off="CLOSED")
    assert words.parse("OPEN") is True
    assert words.parse("CLOSED") is False
    assert words.parse(True) is True and words.parse(False) is False  # JSON booleans
    assert words.word(True) == "OPEN" and words.word(False) == "CLOSED"
    with pytest.raises(PayloadError, match="'ajar' is neither 'OPEN' nor 'CLOSED'"):
        words.parse("ajar")
    with pytest.raises(PayloadError):
        OnOffPayload().parse(1)  # neither "ON" nor "OFF"


def test_numbers_are_compared_as_text() -> None:
    words = OnOffPayload(on="1", off="0")
    assert words.parse(1) is True and words.parse(0) is False


def test_text_and_json_helpers() -> None:
    assert payload_text(b"caf\xc3\xa9") == "café"
    assert payload_json(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(PayloadError):
        payload_json(b"{")


# -- issue 9: deep JSON, templates over budget ----------------------------------------

DEEP = b"[" * 1000 + b"1" + b"]" * 1000


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("temp", None),
        ("a.b", None),
        (None, "{{ value_json }}"),
        (None, "{{ value }}"),
        (None, None),
    ],
)
def test_deep_json_is_a_payload_error_on_every_path(
    idle_host: Host, path: str | None, template: str | None
) -> None:
    engine = template_engine(idle_host)
    reader = ValueReader(engine, value_template=template, json_path=path)
    if path is None and template in (None, "{{ value }}"):
        assert reader.read(DEEP).startswith("[[[")  # the text is not parsed at all
        return
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        reader.read(DEEP)
    # Also inside an object, for the single-key fast path.
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        reader.read(b'{"temp": ' + DEEP + b', "a": {"b": 1}}')


def test_a_deep_value_under_a_shallow_key_is_refused(idle_host: Host) -> None:
    deep_value = b'{"temp": ' + b"[" * 70 + b"1" + b"]" * 70 + b"}"
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        ValueReader(None, json_path="temp").read(deep_value)
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        payload_json(deep_value)


def test_from_json_in_a_template_refuses_deep_json(idle_host: Host) -> None:
    reader = ValueReader(template_engine(idle_host), value_template="{{ (value | from_json) }}")
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        reader.read(DEEP)
    assert reader.read(b"[[1]]") == "[[1]]"


def test_a_template_over_budget_is_a_value_template_error_and_is_suspended(
    idle_host: Host,
) -> None:
    # A generous clock so that the step limit is the one that stops it on a loaded box.
    configure_templates(idle_host, TemplateLimits(seconds=30))
    engine = template_engine(idle_host)
    reader = ValueReader(
        engine,
        value_template="{% for i in range(6000) %}{% for j in range(6000) %}{% endfor %}"
        "{% endfor %}{{ value }}",
        name="sensor.attack value_template",
    )
    with pytest.raises(ValueTemplateError) as first:
        reader.read(b"1")
    assert isinstance(first.value.error, TemplateBudgetError)
    assert first.value.error.limit == "steps"
    assert "sensor.attack value_template" in str(first.value)
    assert "not rendered again for 1 s" in str(first.value)
    # Within the pause the template is not run at all: the same error, at once.
    with pytest.raises(ValueTemplateError) as second:
        reader.read(b"2")
    assert second.value.error is first.value.error
    assert "suspended" in str(second.value)
    assert reader.suspended


def test_an_ordinary_template_error_is_a_value_template_error_too(idle_host: Host) -> None:
    reader = ValueReader(template_engine(idle_host), value_template="{{ value_json.missing }}")
    with pytest.raises(ValueTemplateError) as info:
        reader.read(b'{"a": 1}')
    assert not isinstance(info.value.error, TemplateBudgetError)
    assert not reader.suspended  # only budget overruns pause a template
