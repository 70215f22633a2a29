"""Validation: every schema error located, explained, and reported together."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from gatehouse.core.config import (
    ConfigIssue,
    check_config,
    load_config_file,
    validate_section,
)

SECRET = "correct-horse-battery-staple"

SENSOR = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("unit"): str,
        vol.Optional("interval", default=60): int,
    }
)
DEMO_SCHEMA = vol.Schema(
    {
        vol.Optional("sensors", default=[]): [SENSOR],
        vol.Optional("host"): str,
        vol.Optional("port", default=1883): vol.All(int, vol.Range(min=1, max=65535)),
    }
)
MQTT_SCHEMA = vol.Schema(
    {
        vol.Required("broker"): str,
        vol.Optional("port", default=1883): int,
        vol.Optional("password"): str,
    }
)
SCHEMAS: dict[str, Any] = {"demo": DEMO_SCHEMA, "mqtt": MQTT_SCHEMA, "recorder": None}


def write(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented, leading newline dropped) so line 1 is its first line."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def lines(issues: list[ConfigIssue]) -> list[str]:
    return [str(issue) for issue in issues]


# -- validate_section ----------------------------------------------------------------------


def test_str_format_names_file_line_path_and_expectation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          sensors:
            - name: temp
            - name: humidity
              unit: 5
        """,
    )
    root = load_config_file(path)
    result, issues = validate_section("demo", DEMO_SCHEMA, root["demo"], file_hint=path)
    assert result is None
    (issue,) = issues
    assert str(issue) == "configuration.yaml:5: demo -> sensors[1] -> unit: expected str, got int"
    assert issue.file == path.absolute()
    assert issue.line == 5
    assert issue.path == ("demo", "sensors", 1, "unit")
    assert issue.domain == "demo"


def test_valid_section_returns_schema_output(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "demo:\n  sensors:\n    - name: a\n")
    root = load_config_file(path)
    result, issues = validate_section("demo", DEMO_SCHEMA, root["demo"], file_hint=path)
    assert issues == []
    assert result == {"sensors": [{"name": "a", "interval": 60}], "port": 1883}


def test_missing_required_key_points_at_the_mapping_lacking_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          sensors:
            - name: ok
            - unit: C
              interval: 5
        """,
    )
    root = load_config_file(path)
    _, issues = validate_section("demo", DEMO_SCHEMA, root["demo"], file_hint=path)
    assert lines(issues) == [
        "configuration.yaml:4: demo -> sensors[1] -> name: required key 'name' not provided"
    ]


def test_extra_key_suggests_the_closest_schema_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          host: a
          sensros:
            - name: x
        """,
    )
    root = load_config_file(path)
    _, (issue,) = validate_section("demo", DEMO_SCHEMA, root["demo"], file_hint=path)
    assert issue.line == 3
    assert issue.message == "extra keys not allowed: 'sensros' (did you mean 'sensors'?)"
    assert issue.suggestion == "sensors"


def test_extra_key_suggestion_inside_nested_list_schema(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          sensors:
            - name: x
              intervall: 5
        """,
    )
    root = load_config_file(path)
    _, (issue,) = validate_section("demo", DEMO_SCHEMA, root["demo"], file_hint=path)
    assert str(issue) == (
        "configuration.yaml:4: demo -> sensors[0] -> intervall: "
        "extra keys not allowed: 'intervall' (did you mean 'interval'?)"
    )
    assert issue.suggestion == "interval"


def test_extra_key_without_a_close_match_has_no_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "demo:\n  zzz: 1\n")
    root = load_config_file(path)
    _, (issue,) = validate_section("demo", DEMO_SCHEMA, root["demo"], file_hint=path)
    assert (issue.message, issue.suggestion) == ("extra keys not allowed: 'zzz'", None)


def test_every_bad_item_of_a_list_is_reported(tmp_path: Path) -> None:
    # voluptuous itself stops at the first list item with a nested error.
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          sensors:
            - unit: C
            - name: ok
            - name: 3
            - just a string
            - name: b
              interval: often
        """,
    )
    root = load_config_file(path)
    _, issues = validate_section("demo", DEMO_SCHEMA, root["demo"], file_hint=path)
    assert [(i.line, i.path[1:], i.message) for i in issues] == [
        (3, ("sensors", 0, "name"), "required key 'name' not provided"),
        (5, ("sensors", 2, "name"), "expected str, got int"),
        (6, ("sensors", 3), "expected a dictionary, got str"),
        (8, ("sensors", 4, "interval"), "expected int, got str"),
    ]


def test_section_level_errors_use_the_given_location(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "a: 1\ndemo: 5\n")
    root = load_config_file(path)
    _, (issue,) = validate_section(
        "demo", DEMO_SCHEMA, root["demo"], file_hint=path, location=root.__location__("demo")
    )
    assert str(issue) == "configuration.yaml:2: demo: expected a dictionary, got int"


def test_plain_dict_and_type_schemas_are_wrapped(tmp_path: Path) -> None:
    path = tmp_path / "configuration.yaml"
    assert validate_section("x", {"a": int}, {"a": 1}, file_hint=path) == ({"a": 1}, [])
    # a bare type validates instead of converting
    _, (issue,) = validate_section("x", int, "12", file_hint=path)
    assert (issue.file, issue.line, issue.message) == (path, None, "expected int, got str")


def test_crashing_validator_becomes_an_issue(tmp_path: Path) -> None:
    def explode(value: Any) -> Any:
        raise RuntimeError("boom")

    path = write(tmp_path, "configuration.yaml", "demo:\n  a: 1\n")
    root = load_config_file(path)
    result, (issue,) = validate_section("demo", explode, root["demo"], file_hint=path)
    assert result is None
    assert str(issue) == "configuration.yaml:2: demo: validation failed: RuntimeError: boom"


# -- check_config ------------------------------------------------------------------------


def test_three_mistakes_in_two_sections_give_three_located_issues(tmp_path: Path) -> None:
    write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          host: gateway
          port: high
          sensors:
            - name: temp
              unit: 21
        mqtt:
          port: 1883
        recorder:
        """,
    )
    result = check_config(tmp_path, SCHEMAS)
    assert lines(result.issues) == [
        "configuration.yaml:3: demo -> port: expected int, got str",
        "configuration.yaml:6: demo -> sensors[0] -> unit: expected str, got int",
        "configuration.yaml:8: mqtt -> broker: required key 'broker' not provided",
    ]
    assert [i.domain for i in result.issues] == ["demo", "demo", "mqtt"]
    # broken sections are left out, the rest is usable
    assert result.config == {"recorder": None}
    assert not result.ok


def test_valid_configuration(tmp_path: Path) -> None:
    write(
        tmp_path,
        "configuration.yaml",
        """
        gatehouse:
          name: Home
        demo:
          sensors:
            - name: temp
        mqtt:
          broker: localhost
        recorder:
          anything: [goes, here]
        """,
    )
    result = check_config(tmp_path, SCHEMAS, core_schema=vol.Schema({"name": str}))
    assert result.ok
    assert result.config == {
        "gatehouse": {"name": "Home"},
        "demo": {"sensors": [{"name": "temp", "interval": 60}], "port": 1883},
        "mqtt": {"broker": "localhost", "port": 1883},
        "recorder": {"anything": ["goes", "here"]},
    }


def test_core_section_uses_core_schema(tmp_path: Path) -> None:
    write(tmp_path, "configuration.yaml", "gatehouse:\n  name: 5\n")
    result = check_config(tmp_path, SCHEMAS, core_schema=vol.Schema({"name": str}))
    assert lines(result.issues) == [
        "configuration.yaml:2: gatehouse -> name: expected str, got int"
    ]
    # without a core schema the section is accepted as is
    assert check_config(tmp_path, SCHEMAS).config == {"gatehouse": {"name": 5}}


def test_unknown_domain_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, "configuration.yaml", "demo: {}\nmqqt:\n  broker: x\nzzzz: 1\n")
    result = check_config(tmp_path, SCHEMAS)
    assert lines(result.issues) == [
        "configuration.yaml:2: mqqt: unknown integration 'mqqt' (did you mean 'mqtt'?)",
        "configuration.yaml:4: zzzz: unknown integration 'zzzz'",
    ]
    assert [i.suggestion for i in result.issues] == ["mqtt", None]
    assert "demo" in result.config


def test_missing_configuration_file_is_an_issue(tmp_path: Path) -> None:
    result = check_config(tmp_path, SCHEMAS)
    (issue,) = result.issues
    assert issue.line is None
    assert issue.file == tmp_path / "configuration.yaml"
    assert "configuration.yaml not found" in issue.message
    assert result.config == {}


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    write(tmp_path, "configuration.yaml", "")
    assert check_config(tmp_path, SCHEMAS) == check_config(tmp_path, {})
    result = check_config(tmp_path, SCHEMAS)
    assert (result.config, result.issues) == ({}, [])


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "configuration.yaml", "- demo\n- mqtt\n")
    (issue,) = check_config(tmp_path, SCHEMAS).issues
    assert issue.message == ("expected a mapping of integration domains at the top level, got list")
    assert issue.line == 1


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [
        ("42\n", 1, "int"),
        ("# a comment first\n\n42\n", 3, "int"),
        ("true\n", 1, "bool"),
        ("3.5\n", 1, "float"),
        ("just text\n", 1, "str"),
        ("# nothing but\n!!null null\n", None, None),  # null is an empty configuration
    ],
)
def test_a_top_level_scalar_is_reported_with_file_and_line(
    tmp_path: Path, text: str, line: int | None, kind: str | None
) -> None:
    """Issue 9: ``42`` as the whole configuration.yaml had no line number."""
    path = write(tmp_path, "configuration.yaml", text)
    result = check_config(tmp_path, SCHEMAS)
    if kind is None:
        assert result.issues == []
        return
    (issue,) = result.issues
    assert (issue.file, issue.line) == (path, line)
    assert str(issue) == (
        f"configuration.yaml:{line}: expected a mapping of integration domains at the "
        f"top level, got {kind}"
    )


def alias_bomb_items(indent: str) -> str:
    """Nine anchors as list items, each nine aliases of the one before (9**9 values)."""
    lines = [f"{indent}- &l0 [{', '.join(['lol'] * 9)}]"]
    for level in range(1, 9):
        lines.append(f"{indent}- &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_in_a_str_coerced_field_is_refused_at_once(tmp_path: Path) -> None:
    """Issue 9: the bomb in a field a validator stringifies ran 51 s to a MemoryError."""
    import time
    import tracemalloc

    path = tmp_path / "configuration.yaml"
    path.write_text(
        "demo:\n  host: x\nmqtt:\n  broker: 127.0.0.1\n  password:\n"
        + alias_bomb_items("    "),
        encoding="utf-8",
    )
    schemas = {**SCHEMAS, "mqtt": vol.Schema({"broker": str, "password": vol.Coerce(str)})}
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = check_config(tmp_path, schemas)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 64 * 1024 * 1024
    alias_issues = [i for i in result.issues if "alias" in i.message]
    assert len(alias_issues) == 1
    assert (alias_issues[0].file, alias_issues[0].line) == (path, 11)  # l5: the crossing
    assert alias_issues[0].domain == "mqtt"
    assert "mqtt" not in result.config  # refused...
    assert result.config["demo"]["host"] == "x"  # ...alone


def test_syntax_error_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, "configuration.yaml", "demo:\n  host: [a\nmqtt: {}\n")
    result = check_config(tmp_path, SCHEMAS)
    (issue,) = result.issues
    assert issue.file == tmp_path / "configuration.yaml"
    assert issue.line == 3
    assert issue.message.startswith("invalid YAML (column 5):")
    assert result.config == {}


def test_errors_in_included_files_name_the_included_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.yaml",
        """
        host: gateway
        sensors: !include sensors/list.yaml
        """,
    )
    write(
        tmp_path,
        "sensors/list.yaml",
        """
        - name: a
        - name: b
          unit: 7
        """,
    )
    write(tmp_path, "mqtt.yaml", "port: 1883\n")
    write(
        tmp_path,
        "configuration.yaml",
        """
        demo: !include demo.yaml
        mqtt: !include mqtt.yaml
        """,
    )
    result = check_config(tmp_path, SCHEMAS)
    # files in the order they were read: demo.yaml pulls in sensors/list.yaml first
    assert lines(result.issues) == [
        "sensors/list.yaml:3: demo -> sensors[1] -> unit: expected str, got int",
        "mqtt.yaml:1: mqtt -> broker: required key 'broker' not provided",
    ]
    assert all(i.file is not None and i.file.name != "configuration.yaml" for i in result.issues)


def test_loader_problems_are_attributed_and_not_repeated(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"password: {SECRET}\n")
    write(tmp_path, "demo.yaml", "host: !secret demo_host\nport: x\n")
    write(
        tmp_path,
        "configuration.yaml",
        """
        mqtt:
          broker: !secret broker_host
          password: !secret password
        demo: !include demo.yaml
        recorder:
          a: !env_var GH_TEST_SURELY_UNSET_VAR
        """,
    )
    result = check_config(tmp_path, SCHEMAS)
    # one issue per missing value, no "expected str" follow-ups; schema errors next to
    # them (demo -> port) are still reported
    assert lines(result.issues) == [
        "configuration.yaml:2: mqtt: secret 'broker_host' not found in secrets.yaml",
        "configuration.yaml:6: recorder: environment variable 'GH_TEST_SURELY_UNSET_VAR'"
        " is not set and no default is given",
        "demo.yaml:1: demo: secret 'demo_host' not found in secrets.yaml",
        "demo.yaml:2: demo -> port: expected int, got str",
    ]
    assert [i.domain for i in result.issues] == ["mqtt", "recorder", "demo", "demo"]
    assert result.config == {}
    # what did resolve is still known, for the host's log redactor
    assert result.secret_values == {SECRET}


def test_secret_values_never_appear_in_issues(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"password: {SECRET}\nnumber: 8086\n")
    write(
        tmp_path,
        "configuration.yaml",
        """
        mqtt:
          broker: x
          port: !secret password
          password: !secret number
        demo:
          host: !secret password
          port: !secret number
        """,
    )
    schemas = dict(SCHEMAS)
    # validators that quote the rejected value in their message
    schemas["demo"] = vol.Schema(
        {
            "host": vol.All(str, vol.Equal("other", msg=None)),
            "port": vol.All(int, vol.Equal(5)),
        }
    )
    result = check_config(tmp_path, schemas)
    assert len(result.issues) == 4
    report = "\n".join(lines(result.issues)) + repr(result.issues) + repr(result.config)
    assert SECRET not in report
    assert "8086" not in report
    assert "***" in report


def test_issue_str_is_always_one_line(tmp_path: Path) -> None:
    def chatty(value: Any) -> Any:
        raise vol.Invalid("first line\nsecond line")

    write(tmp_path, "configuration.yaml", "demo:\n  host: x\n")
    (issue,) = check_config(tmp_path, {"demo": vol.Schema({"host": chatty})}).issues
    assert str(issue) == "configuration.yaml:2: demo -> host: first line second line"


def test_secret_echoed_by_custom_validator_is_redacted(tmp_path: Path) -> None:
    def picky(value: Any) -> Any:
        raise vol.Invalid(f"{value} is not an allowed host (value was {value!r})")

    write(tmp_path, "secrets.yaml", f"password: {SECRET}\n")
    write(tmp_path, "configuration.yaml", "demo:\n  host: !secret password\n")
    result = check_config(tmp_path, {"demo": vol.Schema({"host": picky})})
    (issue,) = result.issues
    assert str(issue) == (
        "configuration.yaml:2: demo -> host: *** is not an allowed host (value was '***')"
    )


@pytest.mark.parametrize("schema", [None, DEMO_SCHEMA])
def test_known_domain_with_loader_error_is_left_out(tmp_path: Path, schema: Any) -> None:
    write(tmp_path, "configuration.yaml", "demo:\n  host: a\n  host: b\n")
    result = check_config(tmp_path, {"demo": schema})
    assert lines(result.issues) == [
        "configuration.yaml:3: demo: duplicate key 'host' (first defined on line 2)"
    ]
    assert result.issues[0].domain == "demo"
    assert result.config == {}


def test_schemas_can_be_a_lazy_mapping(tmp_path: Path) -> None:
    """A host can import a plugin only when its domain is configured."""

    class LazySchemas(Mapping[str, Any]):
        def __init__(self) -> None:
            self.looked_up: list[str] = []

        def __getitem__(self, domain: str) -> Any:
            self.looked_up.append(domain)
            if domain == "broken":
                raise ImportError("No module named 'paho'")
            return SCHEMAS[domain]

        def __iter__(self) -> Iterator[str]:
            return iter([*SCHEMAS, "broken", "unused"])

        def __len__(self) -> int:
            return len(SCHEMAS) + 2

    write(tmp_path, "configuration.yaml", "mqtt:\n  broker: x\nbroken:\n  a: 1\n")
    lazy = LazySchemas()
    result = check_config(tmp_path, lazy)
    assert lazy.looked_up == ["mqtt", "broken"]
    assert lines(result.issues) == [
        "configuration.yaml:3: broken: integration 'broken' could not be loaded: "
        "ImportError: No module named 'paho'"
    ]
    assert result.config == {"mqtt": {"broker": "x", "port": 1883}}
