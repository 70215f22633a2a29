"""``gatehouse check-config`` checks each automation and script as set-up does.

The ``automation:``/``script:`` section schemas are lenient on purpose (one bad item
must not stop the others at boot), so before this a misspelled trigger, a bad
condition, a blueprint input that does not fit or a broken template passed the check.
Run as users run it (a subprocess on a config dir, no host started); the last test
shows the running host still loads the good items beside the bad ones.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gatehouse.core.testing import make_host

GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")

CONFIGURATION = """\
gatehouse:
  name: check
automation: !include automations.yaml
script: !include scripts.yaml
"""

GOOD_AUTOMATION = """\
- id: good
  alias: Good one
  triggers:
    - trigger: state
      entity_id: sensor.a
  conditions:
    - condition: template
      value_template: "{{ is_state('sensor.a', 'on') }}"
  actions:
    - event: good_fired
"""

BAD_AUTOMATIONS = """\
- id: bad_platform
  alias: Bad platform
  triggers:
    - trigger: stat
      entity_id: sensor.a
  actions:
    - event: x
- id: bad_condition
  alias: Bad condition
  triggers:
    - trigger: state
      entity_id: sensor.a
  conditions:
    - condition: nonsense
  actions:
    - event: x
- id: missing_input
  alias: Missing input
  use_blueprint:
    path: gatehouse/threshold_alarm.yaml
    input:
      sensor: sensor.tank
      low: 80
      colour: red
"""

GOOD_SCRIPT = """\
good_script:
  alias: Good script
  sequence:
    - event: ok
"""

BAD_SCRIPT = """\
bad_script:
  alias: Bad script
  sequence:
    - wait_template: "{{ states('sensor.a') == "
"""


def write(config: Path, automations: str, scripts: str) -> None:
    config.mkdir(parents=True, exist_ok=True)
    (config / "configuration.yaml").write_text(CONFIGURATION, encoding="utf-8")
    (config / "automations.yaml").write_text(automations, encoding="utf-8")
    (config / "scripts.yaml").write_text(scripts, encoding="utf-8")


def check_config(config: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([GATEHOUSE, "check-config", str(config)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def test_check_config_all_good_is_ok(tmp_path: Path) -> None:
    write(tmp_path, GOOD_AUTOMATION, GOOD_SCRIPT)
    proc = check_config(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout
    assert proc.stderr == ""
    assert not (tmp_path / ".storage").exists()  # offline: no host ran, nothing written
    assert not (tmp_path / "blueprints").exists()


def test_check_config_reports_each_bad_automation_and_script(tmp_path: Path) -> None:
    write(tmp_path, GOOD_AUTOMATION + BAD_AUTOMATIONS, GOOD_SCRIPT + BAD_SCRIPT)
    proc = check_config(tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr  # EXIT_CONFIG_INVALID
    assert proc.stdout == ""
    err = proc.stderr
    assert "4 problem(s)" in err
    lines = [line.strip() for line in err.splitlines()[1:]]
    # the file each item is in (the !include'd one), its line, its alias and id, why
    assert lines[0].startswith("automations.yaml:11: automation 'Bad platform' "
                               "(id bad_platform): "), lines
    assert "unknown trigger 'stat'; known: event," in lines[0]
    assert lines[1].startswith("automations.yaml:18: automation 'Bad condition' "
                               "(id bad_condition): unknown condition 'nonsense'; known:"), lines
    assert lines[2].startswith("automations.yaml:27: automation 'Missing input' "
                               "(id missing_input): blueprint gatehouse/threshold_alarm.yaml:"
                               ), lines
    assert "unknown input(s): colour" in lines[2]
    assert "input 'high' is required" in lines[2]
    assert lines[3].startswith("scripts.yaml:6: script bad_script ('Bad script'): "
                               "sequence[0] -> wait_template: template"), lines
    assert "syntax error" in lines[3]
    assert "Good one" not in err and "good_script" not in err


def test_check_config_items_inline_in_configuration_yaml(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(textwrap.dedent("""\
        automation:
          - alias: Inline bad
            triggers:
              - trigger: time
                at: "25:99"
            actions:
              - event: x
        """), encoding="utf-8")
    proc = check_config(tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "configuration.yaml:2: automation 'Inline bad' (id inline_bad): " in proc.stderr


@pytest.mark.anyio
async def test_host_still_loads_the_good_ones(tmp_path: Path) -> None:
    write(tmp_path, GOOD_AUTOMATION + BAD_AUTOMATIONS, GOOD_SCRIPT + BAD_SCRIPT)
    host = make_host(tmp_path)
    async with host.running():
        assert host.states.get("automation.good_one") is not None
        assert host.states.get("script.good_script") is not None
        automation_ids = {s.entity_id for s in host.states.all()
                          if s.entity_id.startswith(("automation.", "script."))}
        assert automation_ids == {"automation.good_one", "script.good_script"}
        assert host.services.has("script", "good_script")
        assert not host.services.has("script", "bad_script")
