"""Options over entry data: lists extended, settings replaced, blocks overlaid."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest
import voluptuous as vol

from gatehouse.core import ConfigEntry, ConfigEntryError
from gatehouse.core.helpers import OptionsLayout

LAYOUT = OptionsLayout(
    lists=("sensors",),
    settings=("discovery",),
    blocks=("stream",),
    identity=lambda item: item["name"],
)

DATA = {
    "host": "h",
    "sensors": [{"name": "a"}],
    "discovery": True,
    "stream": {"base": "x", "include": ["sensor"]},
}


def test_nothing_in_the_options_means_the_data() -> None:
    assert LAYOUT.merge(DATA, {}) == DATA


def test_each_kind_of_key() -> None:
    merged = LAYOUT.merge(
        DATA,
        {"sensors": [{"name": "b"}], "discovery": False, "stream": {"base": "y"}, "junk": 1},
    )
    assert merged == {
        "host": "h",
        "sensors": [{"name": "a"}, {"name": "b"}],
        "discovery": False,
        "stream": {"base": "y", "include": ["sensor"]},  # the YAML's filter stays
    }
    assert DATA["sensors"] == [{"name": "a"}]  # the inputs are not changed


def test_none_switches_a_block_off() -> None:
    assert "stream" not in LAYOUT.merge(DATA, {"stream": None})


def test_yaml_wins_a_clash_and_the_clash_is_reported() -> None:
    clashes: list[tuple[str, Mapping[str, Any]]] = []
    merged = LAYOUT.merge(
        DATA, {"sensors": [{"name": "a", "ui": True}, {"name": "c"}]},
        lambda key, item: clashes.append((key, item)),
    )
    assert merged["sensors"] == [{"name": "a"}, {"name": "c"}]
    assert clashes == [("sensors", {"name": "a", "ui": True})]


def test_without_identity_lists_are_simply_joined() -> None:
    merged = OptionsLayout(lists=("sensors",)).merge(DATA, {"sensors": [{"name": "a"}]})
    assert merged["sensors"] == [{"name": "a"}, {"name": "a"}]


def test_merged_entry_logs_a_clash_naming_the_entry(caplog: pytest.LogCaptureFixture) -> None:
    entry: ConfigEntry[Any] = ConfigEntry(
        domain="x", title="Boiler room", data=DATA, options={"sensors": [{"name": "a"}]}
    )
    with caplog.at_level(logging.WARNING):
        merged = LAYOUT.merged(entry)
    assert merged["sensors"] == [{"name": "a"}]
    assert "Boiler room: sensors 'a' added in the UI clashes" in caplog.text


def test_validated_settings_or_the_set_up_error_naming_the_key() -> None:
    schema = vol.Schema({"host": str, "discovery": bool}, extra=vol.ALLOW_EXTRA)
    good: ConfigEntry[Any] = ConfigEntry(
        domain="x", title="X", data=DATA, options={"discovery": False}
    )
    assert LAYOUT.validated(good, schema, "X")["discovery"] is False  # options laid over
    bad: ConfigEntry[Any] = ConfigEntry(
        domain="x", title="X", data=DATA, options={"discovery": "maybe"}
    )
    with pytest.raises(ConfigEntryError, match=r"invalid X settings: .*\['discovery'\]"):
        LAYOUT.validated(bad, schema, "X")
