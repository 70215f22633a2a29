"""The validated configuration is plain data: nothing of the located tree stays alive.

The loader's located values (``NodeDict``, ``NodeList``, ``NodeStr``, ``SecretStr`` and
their ``Location`` objects) exist for error messages. Once a section has validated, the
host keeps ``host.config`` for the whole run, so anything located left in it is memory
spent on error reporting that will never happen (about 1.2 KB per entity of a large
``mqtt:`` section). These tests hold only what the host holds, collect garbage, and
look for survivors.
"""

from __future__ import annotations

import gc
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import voluptuous as vol

from gatehouse.core.bootstrap import load_configuration
from gatehouse.core.config import (
    Location,
    NodeDict,
    NodeList,
    NodeStr,
    SecretStr,
    check_config,
    load_config_file,
    validate_section,
)
from gatehouse.core.plugins import PluginManager

SECRET = "correct-horse-battery-staple"
NODE_TYPES = (NodeDict, NodeList, NodeStr, SecretStr, Location)
PLAIN_TYPES = (dict, list, str, int, float, bool, type(None))

ENTITY = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Required("state_topic"): str,
        vol.Optional("unit_of_measurement"): vol.Any(str, None),
        vol.Optional("qos", default=0): vol.All(vol.Coerce(int), vol.In([0, 1, 2])),
        vol.Optional("min"): vol.Coerce(float),
        vol.Optional("retain", default=False): bool,
        vol.Optional("tags", default=list): [str],
    }
)
BROKER = vol.Schema(
    {
        vol.Required("broker"): str,
        vol.Optional("password"): str,
        vol.Optional("sensor", default=list): [ENTITY],
        # a validator that builds its own plain dict around located strings
        vol.Optional("birth"): vol.All({vol.Required("topic"): str}, dict),
    }
)
SCHEMAS: dict[str, Any] = {
    "mqtt": vol.Any([BROKER], BROKER),
    "recorder": None,  # a known domain without a schema: its value is taken as written
}
CORE = vol.Schema({vol.Optional("name", default="Gatehouse"): str})

CONFIG = """\
gatehouse:
  name: Bench
mqtt:
  - broker: 127.0.0.1
    password: !secret broker_password
    birth:
      topic: gatehouse/status
    sensor:
      - name: Temperature
        state_topic: room/temp
        unit_of_measurement: "°C"
        qos: "1"
        min: 5
        tags: [a, b]
      - &humidity
        name: Humidity
        state_topic: room/hum
        unit_of_measurement: "%"
      - <<: *humidity
        name: Humidity 2
recorder:
  purge_keep_days: 7
  exclude: {domains: [sun, weather], entity_globs: ["sensor.bench_*"]}
  names: !!set {a, b}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def alive_nodes() -> Counter[str]:
    """Live objects of the located types, anywhere in the process, by type name."""
    gc.collect()
    return Counter(
        type(obj).__name__ for obj in gc.get_objects() if type(obj) in NODE_TYPES
    )


def non_plain(value: Any) -> list[tuple[str, str]]:
    """``(path, type)`` of every key or value reachable in ``value`` that is not plain."""
    found: list[tuple[str, str]] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if type(current) not in PLAIN_TYPES:
            found.append((where or "<top>", type(current).__name__))
        if isinstance(current, dict):
            for key, item in current.items():
                stack.append((f"{where}.{key}[key]", key))
                stack.append((f"{where}.{key}", item))
        elif isinstance(current, (list, tuple, set, frozenset)):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(current))
    return found


def test_validated_config_keeps_no_located_value_alive(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"broker_password: {SECRET}\n")
    write(tmp_path, "configuration.yaml", CONFIG)
    before = alive_nodes()
    result = check_config(tmp_path, SCHEMAS, core_schema=CORE)
    assert result.ok, result.issues
    config = result.config  # all the host keeps of it (besides the secret strings)
    del result
    after = alive_nodes()
    assert after - before == Counter(), f"located values left alive: {after - before}"
    # what it keeps is still the complete configuration
    assert config["mqtt"][0]["sensor"][0] == {
        "name": "Temperature",
        "state_topic": "room/temp",
        "unit_of_measurement": "°C",
        "qos": 1,
        "min": 5.0,
        "retain": False,
        "tags": ["a", "b"],
    }
    assert config["mqtt"][0]["sensor"][2]["name"] == "Humidity 2"
    assert config["recorder"]["exclude"]["entity_globs"] == ["sensor.bench_*"]


def test_located_tree_is_freed_without_waiting_for_the_collector(tmp_path: Path) -> None:
    """A validator's reference cycle must not keep the tree until some later collection.

    ``vol.Any`` keeps the error of a failed alternative (here: "a list of brokers"
    against one broker); its traceback's frames hold the section and, through
    ``f_back``, ``check_config``'s frames, which hold the whole located tree. A host
    freezes what survived start-up (``gc.freeze()``), so the next collection, which
    would have freed it, never comes.
    """
    write(
        tmp_path,
        "configuration.yaml",
        """\
        mqtt:
          broker: 127.0.0.1
          sensor:
            - {name: Temperature, state_topic: room/temp, unit_of_measurement: "°C"}
        recorder: {purge_keep_days: 7}
        """,
    )
    before = alive_nodes()
    gc.disable()  # the collector must not get a chance to clean up behind check_config
    try:
        result = check_config(tmp_path, SCHEMAS)
        config = result.config
        del result
        survivors = Counter(
            type(obj).__name__ for obj in gc.get_objects() if type(obj) in NODE_TYPES
        )
    finally:
        gc.enable()
    assert config["mqtt"]["sensor"][0]["unit_of_measurement"] == "°C"
    assert survivors - before == Counter(), f"located values left alive: {survivors - before}"


def test_bootstrap_keeps_no_located_value_alive(tmp_path: Path) -> None:
    """The host's own path: ``load_configuration`` and ``host.config = dict(...)``."""
    write(
        tmp_path,
        "configuration.yaml",
        """\
        gatehouse:
          name: Home
          entry_retry: {base: 1, cap: 60}
        http:
          server_port: 8123
        """,
    )
    plugins = PluginManager()
    before = alive_nodes()
    result = load_configuration(tmp_path, plugins)
    assert result.ok, result.issues
    host_config = dict(result.config)  # what core/bootstrap.py keeps
    del result
    after = alive_nodes()
    assert after - before == Counter(), f"located values left alive: {after - before}"
    assert host_config["gatehouse"]["name"] == "Home"
    assert non_plain(host_config) == []


def test_validated_values_are_plain_builtin_types(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"broker_password: {SECRET}\n")
    write(tmp_path, "configuration.yaml", CONFIG)
    result = check_config(tmp_path, SCHEMAS, core_schema=CORE)
    assert result.ok, result.issues
    config = dict(result.config)
    names = config["recorder"].pop("names")  # !!set stays a set (of plain strings)
    assert type(names) is set and names == {"a", "b"}
    assert all(type(name) is str for name in names)
    assert non_plain(config) == []
    # a secret is a plain string too; the host's log redactor gets it from secret_values
    password = config["mqtt"][0]["password"]
    assert type(password) is str and password == SECRET
    assert SECRET in result.secret_values


def test_validate_section_returns_plain_data(tmp_path: Path) -> None:
    write(tmp_path, "secrets.yaml", f"broker_password: {SECRET}\n")
    path = write(tmp_path, "configuration.yaml", CONFIG)
    root = load_config_file(path)
    assert isinstance(root["mqtt"], NodeList)  # the loader's tree is located...
    validated, issues = validate_section("mqtt", SCHEMAS["mqtt"], root["mqtt"], file_hint=path)
    assert issues == []
    assert validated is not None
    assert non_plain(validated) == []  # ...what validation returns is not
    assert validated[0]["birth"] == {"topic": "gatehouse/status"}


def test_shared_and_recursive_values_survive_as_plain_data(tmp_path: Path) -> None:
    """YAML anchors share a value or make it contain itself; both stay so, unlocated."""
    write(
        tmp_path,
        "configuration.yaml",
        """\
        recorder:
          first: &shared {topic: a/b, tags: [x]}
          second: *shared
          loop: &loop [1, *loop]
        """,
    )
    result = check_config(tmp_path, SCHEMAS)
    assert result.ok, result.issues
    recorder = result.config["recorder"]
    assert recorder["first"] is recorder["second"]
    assert type(recorder["first"]) is dict
    loop = recorder["loop"]
    assert type(loop) is list and loop[0] == 1 and loop[1] is loop


def test_values_a_validator_made_are_left_as_they_are(tmp_path: Path) -> None:
    """Only the loader's own types are replaced: a validator's objects are its business."""

    class Topic(str):
        """A str subclass a schema may return on purpose (like an enum member)."""

    marker = object()
    write(tmp_path, "configuration.yaml", "demo:\n  topic: a/b\n  handle: x\n  pair: [1, y]\n")
    schema = vol.Schema(
        {
            "topic": vol.Coerce(Topic),
            "handle": lambda _: marker,
            "pair": vol.All(list, vol.Coerce(tuple)),
        }
    )
    result = check_config(tmp_path, {"demo": schema})
    assert result.ok, result.issues
    demo = result.config["demo"]
    assert type(demo["topic"]) is Topic and demo["topic"] == "a/b"
    assert demo["handle"] is marker
    assert demo["pair"] == (1, "y") and type(demo["pair"][1]) is str


def test_the_host_start_up_path_refuses_an_alias_bomb_at_once(tmp_path: Path) -> None:
    """Issue 9: the bomb under mqtt's ``protocol`` (``vol.Coerce(str)``) ran check-config
    and the host's start-up for 51 s into a MemoryError at 3.4 GB."""
    import time
    import tracemalloc

    items = [f"    - &l0 [{', '.join(['lol'] * 9)}]"] + [
        f"    - &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)
    ]
    path = tmp_path / "configuration.yaml"
    path.write_text(
        "mqtt:\n  broker: 127.0.0.1\n  protocol:\n" + "\n".join(items) + "\n",
        encoding="utf-8",
    )
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = load_configuration(tmp_path, PluginManager())
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 64 * 1024 * 1024
    refused = [i for i in result.issues if "alias" in i.message]
    assert [(i.file, i.line, i.domain) for i in refused] == [(path, 9, "mqtt")]
    assert str(refused[0]).startswith("configuration.yaml:9: mqtt")
    assert "mqtt" not in result.config
