"""The YAML loader: located values, tags, and every failure reported with its place."""

from __future__ import annotations

import copy
import pickle
import textwrap
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from gatehouse.core.config import (
    ConfigInvalid,
    ConfigIssue,
    Location,
    NodeDict,
    NodeList,
    NodeStr,
    SecretStr,
    load_config_file,
    location_of,
    node_location,
)
from gatehouse.core.config.yaml_loader import UNRESOLVED, _CLoader, _load_tree, _PyLoader

SECRET = "correct-horse-battery-staple"


def write(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented, leading newline dropped) so line 1 is its first line."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_issues(path: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigInvalid) as info:
        load_config_file(path)
    issues: list[ConfigIssue] = info.value.issues
    return issues


def line_of(container: Any, key: Any) -> int:
    where = location_of(container, key)
    assert where is not None, f"no location for {key!r}"
    return where.line


@pytest.fixture(params=[_PyLoader, _CLoader], ids=["python", "libyaml"])
def loader(request: pytest.FixtureRequest) -> Any:
    """Both loader flavours must report the same positions."""
    return request.param


# -- locations ---------------------------------------------------------------------------


def test_nested_keys_and_list_items_have_exact_lines(tmp_path: Path, loader: Any) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        # comment on line 1
        demo:
          name: Kitchen
          sensors:
            - name: temp
              unit: C
            - name: humidity

              interval: 30
          enabled: true
          nothing:
        other: [1, 2]
        """,
    )
    outcome = _load_tree(path, loader=loader)
    assert outcome.issues == []
    root = outcome.value
    assert isinstance(root, NodeDict)
    assert location_of(root, "demo") == Location(path.absolute(), 2, 1)
    demo = root["demo"]
    assert isinstance(demo, NodeDict)
    assert node_location(demo) == Location(path.absolute(), 3, 3)
    assert location_of(demo, "name") == Location(path.absolute(), 3, 3)
    sensors = demo["sensors"]
    assert isinstance(sensors, NodeList)
    assert [line_of(sensors, i) for i in range(2)] == [5, 7]
    assert line_of(sensors[0], "unit") == 6
    # ints, bools and nulls are located through their container
    assert line_of(sensors[1], "interval") == 9
    assert sensors[1]["interval"] == 30
    assert line_of(demo, "enabled") == 10
    assert line_of(demo, "nothing") == 11
    assert demo["nothing"] is None
    # strings carry their own position, keys and value positions are both kept
    assert isinstance(demo["name"], NodeStr)
    assert demo["name"].location == Location(path.absolute(), 3, 9)
    assert demo.value_location("sensors") == Location(path.absolute(), 5, 5)  # the "-"
    assert line_of(demo, "sensors") == 4
    flow = root["other"]
    assert location_of(flow, 1) == Location(path.absolute(), 12, 12)
    assert location_of(root, "missing") is None
    assert location_of({"plain": 1}, "plain") is None


def test_crlf_line_endings_count_lines_correctly(tmp_path: Path, loader: Any) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_bytes(b"a: 1\r\nb:\r\n  - x\r\n  - y\r\n")
    root = _load_tree(path, loader=loader).value
    assert line_of(root["b"], 1) == 4


def test_located_values_behave_like_builtins(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "a: {b: [x, 1]}\n")
    root = load_config_file(path)
    assert root == {"a": {"b": ["x", 1]}}
    assert type(next(iter(root))) is str  # keys are plain strings
    assert hash(root["a"]["b"][0]) == hash("x")
    assert type(str(root["a"]["b"][0])) is str
    clone = copy.deepcopy(root)
    assert clone == root
    assert location_of(clone["a"], "b") == location_of(root["a"], "b")
    restored = pickle.loads(pickle.dumps(root))
    assert restored["a"]["b"][0].location == root["a"]["b"][0].location


def test_empty_file_is_an_empty_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "# only a comment\n")
    assert load_config_file(path) == {}


def test_merge_keys_override_without_duplicate_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        base: &base {host: a, port: 1}
        derived:
          <<: *base
          port: 2
        """,
    )
    assert load_config_file(path)["derived"] == {"host": "a", "port": 2}


# -- !secret -----------------------------------------------------------------------------


def test_secret_is_resolved_and_masked_in_repr(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"password: {SECRET}\nport: 1883\n")
    path = write(tmp_path, "configuration.yaml", "mqtt:\n  password: !secret password\n")
    root = load_config_file(path)
    password = root["mqtt"]["password"]
    assert password == SECRET
    assert isinstance(password, SecretStr)
    assert password.location == Location(path.absolute(), 2, 13)
    assert SECRET not in repr(root)


def test_structured_secret_is_masked_too(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"creds:\n  user: bob\n  password: {SECRET}\n")
    path = write(tmp_path, "configuration.yaml", "mqtt:\n  auth: !secret creds\n")
    root = load_config_file(path)
    assert root["mqtt"]["auth"] == {"user": "bob", "password": SECRET}
    assert SECRET not in repr(root)
    assert root["mqtt"].secret_values == {"bob", SECRET}


def test_secret_lookup_walks_up_to_the_config_dir(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", "shared: from-root\nlocal: root-copy\n")
    write(tmp_path, "packages/secrets.yaml", "local: from-package\n")
    write(
        tmp_path,
        "packages/kitchen.yaml",
        "a: !secret shared\nb: !secret local\n",
    )
    path = write(tmp_path, "configuration.yaml", "kitchen: !include packages/kitchen.yaml\n")
    kitchen = load_config_file(path)["kitchen"]
    assert kitchen == {"a": "from-root", "b": "from-package"}


def test_missing_secret_is_a_located_error_without_values(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"password: {SECRET}\n")
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        mqtt:
          password: !secret password
          token: !secret api_token
        """,
    )
    (issue,) = load_issues(path)
    assert issue.file == path.absolute()
    assert issue.line == 3
    assert "api_token" in issue.message
    assert str(issue) == "configuration.yaml:3: secret 'api_token' not found in secrets.yaml"
    assert SECRET not in str(issue) and SECRET not in repr(issue)


def test_missing_secrets_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "a: !secret nope\n")
    (issue,) = load_issues(path)
    assert (issue.line, issue.message) == (
        1,
        "secret 'nope' requested but no secrets.yaml was found",
    )


def test_broken_secrets_file_never_quotes_its_lines(tmp_path: Path) -> None:
    # The syntax error is on the line holding the password: only the parser's problem
    # text may be shown, never a snippet of the line.
    write(tmp_path, "secrets.yaml", f"ok: 1\npassword: {SECRET}: oops\n")
    path = write(tmp_path, "configuration.yaml", "a: !secret password\n")
    issues = load_issues(path)
    assert [(i.file.name, i.line) for i in issues if i.file] == [
        ("configuration.yaml", 1),
        ("secrets.yaml", 2),
    ]
    text = str(ConfigInvalid(issues))
    assert SECRET not in text and SECRET not in repr(issues)
    assert "secrets.yaml has errors" in text


def test_secret_inside_secrets_file_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", "a: !secret b\nb: x\n")
    path = write(tmp_path, "configuration.yaml", "x: !secret b\ny: !secret a\n")
    issues = load_issues(path)
    assert [(i.file.name, i.line, i.message) for i in issues if i.file] == [
        ("secrets.yaml", 1, "!secret cannot be used inside secrets.yaml"),
    ]


# -- !include / !include_dir_named -----------------------------------------------------


def test_include_is_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "parts/inner/leaf.yaml", "value: 42\n")
    write(tmp_path, "parts/middle.yaml", "leaf: !include inner/leaf.yaml\n")
    path = write(tmp_path, "configuration.yaml", "demo: !include parts/middle.yaml\n")
    root = load_config_file(path)
    assert root == {"demo": {"leaf": {"value": 42}}}
    leaf = root["demo"]["leaf"]
    assert location_of(leaf, "value") == Location(tmp_path / "parts/inner/leaf.yaml", 1, 1)
    # the including side keeps the position of the tag
    assert root.value_location("demo") == Location(path.absolute(), 1, 7)


def test_missing_include_is_located_at_the_tag(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "a: 1\nb: !include nope.yaml\n")
    (issue,) = load_issues(path)
    assert str(issue) == "configuration.yaml:2: included file not found: nope.yaml"


def test_errors_inside_an_include_name_the_included_file(tmp_path: Path) -> None:
    write(tmp_path, "sensors.yaml", "- name: a\n- name: b\n  name: c\n")
    write(tmp_path, "broken.yaml", "x: [1, 2\n")
    path = write(
        tmp_path,
        "configuration.yaml",
        "sensors: !include sensors.yaml\nbroken: !include broken.yaml\n",
    )
    issues = load_issues(path)
    assert [(i.file.name, i.line) for i in issues if i.file] == [
        ("sensors.yaml", 3),
        ("broken.yaml", 2),
    ]
    assert issues[0].message == "duplicate key 'name' (first defined on line 2)"
    # the parser's wording differs between libyaml and pure Python
    assert issues[1].message.startswith("invalid YAML (column 1): ")
    assert "while parsing a flow sequence at line 1, column 4" in issues[1].message
    assert all(i.file is not None and i.file.name != "configuration.yaml" for i in issues)


def test_include_cycle_is_detected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "b: !include b.yaml\n")
    write(tmp_path, "b.yaml", "x: 1\na: !include a.yaml\n")
    path = write(tmp_path, "configuration.yaml", "start: !include a.yaml\n")
    (issue,) = load_issues(path)
    assert str(issue) == "b.yaml:2: include cycle: a.yaml -> b.yaml -> a.yaml"


def test_include_dir_named(tmp_path: Path) -> None:
    write(tmp_path, "rooms/kitchen.yaml", "temp: 21\n")
    write(tmp_path, "rooms/bath.yaml", "# empty\n")
    write(tmp_path, "rooms/attic.yaml", "- a\n- b\n")
    write(tmp_path, "rooms/notes.txt", "ignored\n")
    write(tmp_path, "rooms/.hidden.yaml", "ignored: true\n")
    write(tmp_path, "rooms/secrets.yaml", "ignored: true\n")
    path = write(tmp_path, "configuration.yaml", "rooms: !include_dir_named rooms\n")
    rooms = load_config_file(path)["rooms"]
    assert list(rooms) == ["attic", "bath", "kitchen"]
    assert rooms == {"attic": ["a", "b"], "bath": {}, "kitchen": {"temp": 21}}
    assert location_of(rooms, "kitchen") == Location(tmp_path / "rooms/kitchen.yaml", 1)
    assert location_of(rooms["kitchen"], "temp") == Location(tmp_path / "rooms/kitchen.yaml", 1, 1)


def test_include_dir_named_missing_directory(tmp_path: Path) -> None:
    path = write(tmp_path, "configuration.yaml", "a: 1\nrooms: !include_dir_named nowhere\n")
    (issue,) = load_issues(path)
    assert str(issue) == "configuration.yaml:2: included directory not found: nowhere"


# -- !env_var ----------------------------------------------------------------------------


def test_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TEST_HOST", "broker.local")
    monkeypatch.delenv("GH_TEST_UNSET", raising=False)
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        host: !env_var GH_TEST_HOST
        port: !env_var GH_TEST_UNSET 1883
        name: !env_var GH_TEST_UNSET default with spaces
        """,
    )
    root = load_config_file(path)
    assert root == {"host": "broker.local", "port": "1883", "name": "default with spaces"}
    assert root["host"].location.line == 1


def test_env_var_missing_without_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GH_TEST_UNSET", raising=False)
    path = write(tmp_path, "configuration.yaml", "a: 1\nb:\n  c: !env_var GH_TEST_UNSET\n")
    (issue,) = load_issues(path)
    assert str(issue) == (
        "configuration.yaml:3: environment variable 'GH_TEST_UNSET' is not set"
        " and no default is given"
    )


# -- structural problems -----------------------------------------------------------------


def test_duplicate_keys_name_both_lines(tmp_path: Path, loader: Any) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          name: a
          port: 1
          name: b
        """,
    )
    (issue,) = _load_tree(path, loader=loader).issues
    assert (issue.line, issue.message) == (4, "duplicate key 'name' (first defined on line 2)")


def test_syntax_error_has_line_column_and_problem(tmp_path: Path, loader: Any) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        demo:
          name: a
          bad: x: y
        """,
    )
    (issue,) = _load_tree(path, loader=loader).issues
    assert issue.line == 3
    assert issue.message.startswith("invalid YAML (column 9): mapping values are not allowed")


def test_tab_indentation_is_a_syntax_error(tmp_path: Path, loader: Any) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text("demo:\n\tname: a\n", encoding="utf-8")
    (issue,) = _load_tree(path, loader=loader).issues
    assert issue.line == 2
    assert "cannot start any token" in issue.message


def test_unknown_tag_and_bad_scalars_are_collected(tmp_path: Path, loader: Any) -> None:
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        a: !include_dir_list x
        b: !!float abc
        c: fine
        d: !!int nope
        """,
    )
    outcome = _load_tree(path, loader=loader)
    assert [(i.line, i.message) for i in outcome.issues] == [
        (1, "unknown tag '!include_dir_list'"),
        (2, "invalid value for !!float"),
        (4, "invalid value for !!int"),
    ]
    assert outcome.value["c"] == "fine"


def test_all_loader_errors_are_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", "known: x\n")
    path = write(
        tmp_path,
        "configuration.yaml",
        """
        a: !secret unknown
        b: !include missing.yaml
        c:
          x: 1
          x: 2
        d: !env_var GH_TEST_SURELY_UNSET_VAR
        """,
    )
    issues = load_issues(path)
    assert [i.line for i in issues] == [1, 2, 5, 6]
    report = str(ConfigInvalid(issues))
    assert report.splitlines()[0] == "Invalid configuration (4 errors):"
    assert "Traceback" not in report


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_bytes(b"a: 1\nb: \xff\n")
    (issue,) = load_issues(path)
    assert (issue.line, issue.message) == (2, "file is not valid UTF-8 text")


def test_control_character(tmp_path: Path, loader: Any) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text("a: é\nb: \x07\n", encoding="utf-8")
    (issue,) = _load_tree(path, loader=loader).issues
    assert issue.line == 2
    assert issue.message.startswith("invalid character #x0007")


def test_missing_file_raises_config_invalid(tmp_path: Path) -> None:
    (issue,) = load_issues(tmp_path / "configuration.yaml")
    assert issue.line is None
    assert str(issue) == "configuration.yaml: configuration.yaml not found"


# -- aliases (issue 9: a nine-level alias bomb ran check-config for 51 s, 3.4 GB) -------


def alias_bomb(levels: int = 9, width: int = 9, *, indent: str = "") -> str:
    """``levels`` anchors, each a list of ``width`` aliases of the one before."""
    lines = [f'{indent}l0: &l0 [{", ".join(["lol"] * width)}]']
    for level in range(1, levels):
        items = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"{indent}l{level}: &l{level} [{items}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("use", "line", "anchor_line"),
    [
        # Used by a later key: that alias is counted first (lists are filled after the
        # mapping that holds them) and alone stands for 9**8 nodes.
        ("  name: *l8\n", 11, 10),
        # Only built: 9 + 90 + 819 + 7380 + 66429 nodes through the aliases of l1..l5,
        # and the first alias of l6 crosses 100 000.
        ("", 7, 6),
    ],
)
def test_an_alias_bomb_is_refused_at_once_with_its_place(
    tmp_path: Path, loader: Any, use: str, line: int, anchor_line: int
) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text("demo:\n" + alias_bomb(indent="  ") + use, encoding="utf-8")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = _load_tree(path, loader=loader)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 32 * 1024 * 1024
    (issue,) = outcome.issues
    assert (issue.file, issue.line) == (path, line)
    assert "aliases in this file stand for more than 100000 values" in issue.message
    assert f"anchor on line {anchor_line}" in issue.message
    demo = outcome.value["demo"]
    assert demo["l8"][0] is UNRESOLVED  # refused, not expanded
    assert demo.get("name", UNRESOLVED) is UNRESOLVED


def test_normal_anchors_merges_and_recursion_still_load(tmp_path: Path, loader: Any) -> None:
    registers = "\n".join(
        f"  - <<: *defaults\n    name: r{n}\n    address: {n}" for n in range(2000)
    )
    path = write(
        tmp_path,
        "configuration.yaml",
        "defaults: &defaults {unit: V, scale: 1, precision: 2, slave: 1, type: holding}\n"
        "shared: &shared [a, b, c]\n"
        "again: *shared\n"
        "loop: &loop [1, *loop]\n"
        "registers:\n" + registers + "\n",
    )
    outcome = _load_tree(path, loader=loader)
    assert outcome.issues == []
    data = outcome.value
    assert len(data["registers"]) == 2000
    assert data["registers"][1999] == {
        "unit": "V", "scale": 1, "precision": 2, "slave": 1, "type": "holding",
        "name": "r1999", "address": 1999,
    }
    assert data["again"] is data["shared"]
    assert data["loop"][1] is data["loop"]
