"""strings.json: the words of a flow (step titles, field help, units, error messages).

A missing file is fine; a malformed one is an error naming the file and the place, and
the flow still works (in identifiers); every shipped file is valid and names only
fields its forms have.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from peopletools import add_demo, host_with

import gatehouse.integrations as shipped
from gatehouse.core.exceptions import ManifestError
from gatehouse.core.flow_strings import describe_form, fill_placeholders, load_flow_strings

pytestmark = pytest.mark.anyio

INTEGRATIONS = Path(shipped.__file__).resolve().parent
PLUGINS = Path(__file__).resolve().parent / "plugins"


def test_a_missing_file_is_no_strings(tmp_path: Path) -> None:
    assert load_flow_strings("x", tmp_path) == {}


def test_malformed_json_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "strings.json").write_text('{"config": {"step": }', encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_flow_strings("x", tmp_path)
    assert str(tmp_path / "strings.json") in str(caught.value)
    assert "not valid JSON" in str(caught.value)
    assert "line 1" in str(caught.value)


def test_a_wrong_shape_names_the_place(tmp_path: Path) -> None:
    bad = {"config": {"step": {"user": {"title": 5, "data": {"name": ["x"]}}},
                      "error": "oops"}}
    (tmp_path / "strings.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_flow_strings("x", tmp_path)
    text = str(caught.value)
    assert str(tmp_path / "strings.json") in text
    assert "config.step.user.title must be a string" in text
    assert "config.step.user.data.name must be a string" in text
    assert "config.error must be an object" in text


@pytest.mark.parametrize("package", sorted(p.parent for p in INTEGRATIONS.glob("*/flow.py")))
def test_every_shipped_flow_has_valid_strings(package: Path) -> None:
    strings = load_flow_strings(package.name, package)
    assert strings["config"]["step"]["user"]["title"], f"{package.name}: no user step title"


def test_placeholders_are_filled_and_unknown_ones_kept() -> None:
    assert fill_placeholders("{a} and {b}", {"a": 1}) == "1 and {b}"


def test_describe_form_maps_codes_and_keeps_sentences() -> None:
    strings = {"config": {"step": {"user": {"title": "T {x}", "data_unit": {"t": "s"}}},
                          "error": {"cannot_connect": "No answer"}}}
    words = describe_form(strings, "config", {
        "step_id": "user", "description_placeholders": {"x": "X"},
        "errors": {"base": "cannot_connect", "t": "value must be at least 1"},
    })
    assert words == {"title": "T X", "fields": {"t": {"unit": "s"}},
                     "errors": {"base": "No answer", "t": "value must be at least 1"}}


async def test_a_real_flow_carries_its_words(config_dir: Path) -> None:
    async with host_with(config_dir) as host:
        first = await host.config_entries.flow.init("demo")
        words = first["strings"]
        assert words["title"] == "Add a demo device"
        assert words["fields"]["update_interval"] == {
            "label": "Update interval", "description": "How often the sensors update.",
            "unit": "s",
        }
        entry_id = await add_demo(host, "Words")
        options = await host.config_entries.options.init(entry_id)
        assert options["strings"]["fields"]["update_interval"]["unit"] == "s"


async def test_a_broken_file_is_logged_and_the_flow_still_works(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with host_with(config_dir) as host:
        manager = host.config_entries.flow
        info = host.plugins.available()["demo"]
        broken = config_dir / "demo_copy"
        broken.mkdir()
        (broken / "strings.json").write_text("[1, 2", encoding="utf-8")
        # The manager reads strings from the integration's folder: point it at the copy.
        object.__setattr__(info, "path", broken)
        try:
            with caplog.at_level(logging.ERROR):
                first = await manager.init("demo")
        finally:
            object.__setattr__(info, "path", INTEGRATIONS / "demo")
        assert first["type"] == "form" and "strings" not in first
        assert any(str(broken / "strings.json") in r.getMessage() for r in caplog.records)


async def test_shipped_user_step_strings_name_only_fields_of_the_form(config_dir: Path) -> None:
    checked = []
    async with host_with(config_dir) as host:
        for package in sorted(p.parent for p in INTEGRATIONS.glob("*/flow.py")):
            domain = package.name
            first = await host.config_entries.flow.init(domain)
            assert first["type"] == "form", first
            checked.append(domain)
            strings = load_flow_strings(domain, package)["config"]["step"]["user"]
            form = {f["name"] for f in first["data_schema"]}
            for key in ("data", "data_description", "data_unit"):
                unknown = set(strings.get(key, {})) - form
                assert not unknown, f"{domain} strings.json {key}: {sorted(unknown)}"
            assert set(strings.get("data", {})) == form, f"{domain}: fields without a label"
            host.config_entries.flow.abort(first["flow_id"])
    assert len(checked) >= 12, checked


async def test_a_secret_placeholder_is_masked_in_the_words_too(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatehouse.core.http.views_config import flow_json

    monkeypatch.syspath_prepend(str(PLUGINS))
    async with host_with(config_dir) as host:
        host.plugins.add_package("wordy", "wordy")
        first = await host.config_entries.flow.init("wordy")
        # The manager's words are the whole truth (for the CLI, run by an admin) ...
        assert first["strings"]["title"] == "Pair Lamp"
        assert "s3cret-t0ken" in first["strings"]["description"]
        # ... the API's are masked, as the placeholder itself is.
        sent = flow_json(host, first, "wordy")
        assert "s3cret-t0ken" not in json.dumps(sent)
        assert sent["strings"]["description"].startswith("Type the code shown on Lamp")
        assert sent["strings"]["fields"] == {"code": {"label": "Pairing code", "unit": "digits"}}
        wrong = await host.config_entries.flow.configure(first["flow_id"], {"code": 1})
        assert wrong["errors"] == {"code": "wrong_code"}
        assert wrong["strings"]["errors"] == {"code": "That code is not the one on the device."}


async def test_an_abort_carries_its_reason_in_words(config_dir: Path) -> None:
    """One per host (pki): the second flow still aborts, now saying why in words."""
    async with host_with(config_dir) as host:
        flow = host.config_entries.flow
        first = await flow.init("pki")
        done = await flow.configure(first["flow_id"], {})
        assert done["type"] == "create_entry", done
        second = await flow.init("pki")
        aborted = await flow.configure(second["flow_id"], {})
        assert aborted["type"] == "abort" and aborted["reason"] == "already_configured"
        assert aborted["reason_message"] == "This integration is set up already (one per host)."
