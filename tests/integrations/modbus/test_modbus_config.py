"""The ``modbus:`` YAML section: good blocks pass, bad ones are reported where they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gatehouse.core.config import ConfigIssue, check_config
from gatehouse.integrations.modbus.config import CONFIG_SCHEMA
from gatehouse.integrations.modbus.const import HubType, RegisterType
from gatehouse.integrations.modbus.datatypes import DataType

GOOD = """\
modbus:
  - name: Plant
    host: 127.0.0.1
    port: 5020
    sensors:
      - name: Tank level
        address: 0
        input_type: input
        data_type: float32
        word_order: little
        precision: 1
      - name: Serial
        address: 10
        data_type: string
        count: 4
    binary_sensors:
      - name: Alarm
        address: 0
        input_type: discrete_input
      - name: Flag
        address: 3
        input_type: holding
        bit: 7
    switches:
      - name: Pump
        address: 0
    numbers:
      - name: Valve
        address: 0
        scale: 0.1
        max: 100
  - name: Line
    type: serial
    port: /dev/ttyUSB0
    baudrate: 9600
"""


def check(config_dir: Path, write: Callable[[str], Path], text: str) -> list[ConfigIssue]:
    write(text)
    return check_config(config_dir, {"modbus": CONFIG_SCHEMA}).issues


def test_good_config_validates_to_typed_values(
    config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(GOOD)
    result = check_config(config_dir, {"modbus": CONFIG_SCHEMA})
    assert result.issues == []
    plant, line = result.config["modbus"]
    assert plant["type"] is HubType.TCP
    assert plant["sensors"][0]["data_type"] is DataType.FLOAT32
    assert plant["sensors"][0]["input_type"] is RegisterType.INPUT
    assert plant["switches"][0]["write_type"] is RegisterType.COIL
    assert plant["timeout"] == 3.0 and plant["scan_interval"] == 5.0
    assert line["type"] is HubType.SERIAL and line["port"] == "/dev/ttyUSB0"


def test_misspelt_key_is_located_with_a_suggestion(
    config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    issues = check(config_dir, write_config, GOOD.replace("        input_type: input\n",
                                                            "        input_typ: input\n"))
    assert len(issues) == 1
    issue = issues[0]
    assert issue.line == 8
    assert issue.path == ("modbus", 0, "sensors", 0, "input_typ")
    assert "did you mean 'input_type'" in issue.message
    assert str(issue).startswith("configuration.yaml:8: modbus[0] -> sensors[0] -> input_typ")


def test_bad_values_are_located(
    config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    text = GOOD.replace("data_type: float32", "data_type: float33").replace(
        "        address: 0\n    numbers:", "        address: 70000\n    numbers:"
    )
    issues = check(config_dir, write_config, text)
    by_key = {issue.path[-1]: issue for issue in issues}
    assert by_key["data_type"].line == 9
    assert "expected one of int16" in by_key["data_type"].message
    assert by_key["address"].path == ("modbus", 0, "switches", 0, "address")


def test_cross_field_rules_point_at_the_key(
    config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    issues = check(config_dir, write_config, GOOD.replace("        count: 4\n", ""))
    assert [(i.path, i.line) for i in issues] == [
        (("modbus", 0, "sensors", 1, "data_type"), 14)
    ]
    assert "needs count" in issues[0].message


def test_hub_type_rules(config_dir: Path, write_config: Callable[[str], Path]) -> None:
    issues = check(config_dir, write_config, GOOD.replace("    port: /dev/ttyUSB0\n", ""))
    assert len(issues) == 1 and issues[0].path[:2] == ("modbus", 1)
    assert "serial hub needs port" in issues[0].message
    issues = check(config_dir, write_config, GOOD.replace("    host: 127.0.0.1\n", ""))
    assert len(issues) == 1 and "needs host" in issues[0].message


def test_duplicate_names_are_refused(
    config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    issues = check(config_dir, write_config, GOOD.replace("name: Serial", "name: Tank level"))
    assert len(issues) == 1
    assert issues[0].path == ("modbus", 0, "sensors", 1, "name")
    assert "appears twice" in issues[0].message
