"""The ``gatehouse`` command line, run as users run it: in subprocesses on a config dir."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gatehouse.core.const import __version__
from gatehouse.core.testing import wait_until_sync

GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")
SOCKET = ".gatehouse.sock"
START_TIMEOUT = 20.0
STOP_LIMIT = 10.0

CONFIG = """\
gatehouse:
  name: CLI test
  stop_timeout: 5
demo:
  name: Demo
  update_interval: 0.2
"""


def gh(config: Path | None, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``gatehouse ARGS [-c config]``."""
    cmd = [GATEHOUSE, *args]
    if config is not None:
        cmd += ["-c", str(config)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def ok_json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_storage_is_valid_json(config: Path) -> dict[str, Any]:
    files = sorted((config / ".storage").iterdir())
    assert files, "nothing was stored"
    contents = {}
    for path in files:
        if path.name.endswith((".tmp", ".lock")):
            pytest.fail(f"leftover temporary file {path.name}")
        contents[path.name] = json.loads(path.read_text(encoding="utf-8"))
    return contents


class RunningHost:
    """``gatehouse run`` in a subprocess, its output in a log file (no pipe to fill up)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log = config.parent / f"{config.name}-run.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [GATEHOUSE, "run", "-c", str(config), "--log-level", "INFO"],
                stdout=out, stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, entity_ids: tuple[str, ...]) -> None:
        """Socket file present, host running, ``states`` shows ``entity_ids``."""

        def alive_and(check: Callable[[], bool]) -> Callable[[], bool]:
            def probe() -> bool:
                if self.proc.poll() is not None:
                    pytest.fail(f"gatehouse run exited early:\n{self.output()}")
                return check()

            return probe

        wait_until_sync(
            alive_and((self.config / SOCKET).exists), START_TIMEOUT, "the control socket"
        )

        def running() -> bool:
            proc = gh(self.config, "diagnostics")
            return proc.returncode == 0 and json.loads(proc.stdout)["host"]["state"] == "running"

        wait_until_sync(alive_and(running), START_TIMEOUT, "the host to be running")

        def has_entities() -> bool:
            proc = gh(self.config, "states", "--json")
            return proc.returncode == 0 and set(entity_ids) <= {
                s["entity_id"] for s in json.loads(proc.stdout)
            }

        wait_until_sync(alive_and(has_entities), START_TIMEOUT, f"entities {entity_ids}")

    def stop(self, signum: signal.Signals) -> float:
        """Send ``signum``; assert a clean exit 0; return how long it took."""
        started = time.monotonic()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=STOP_LIMIT + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"gatehouse run ignored {signum.name}:\n{self.output()}")
        elapsed = time.monotonic() - started
        assert code == 0, self.output()
        assert elapsed < STOP_LIMIT
        assert not (self.config / SOCKET).exists()
        output = self.output()
        assert f"Received {signum.name}, stopping" in output
        assert "Traceback" not in output, output
        return elapsed

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cfg"
    path.mkdir()
    (path / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def start_host() -> Iterator[Callable[[Path], RunningHost]]:
    hosts: list[RunningHost] = []

    def start(config: Path) -> RunningHost:
        hosts.append(RunningHost(config))
        return hosts[-1]

    yield start
    for host in hosts:
        host.kill()


DEMO_ENTITIES = ("sensor.demo_sine", "sensor.demo_counter", "switch.demo_switch")


# -- commands without a host -----------------------------------------------------------


def test_version_from_console_script_and_module() -> None:
    proc = gh(None, "version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"gatehouse {__version__}"
    module = subprocess.run(
        [sys.executable, "-m", "gatehouse.core.cli", "version"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert module.returncode == 0
    assert module.stdout == proc.stdout


def test_help_lists_every_command_and_the_exit_codes() -> None:
    proc = gh(None, "--help")
    assert proc.returncode == 0
    for command in ("run", "check-config", "entries", "services", "states", "diagnostics",
                    "version"):
        assert f"    {command}" in proc.stdout, command
    assert "4 host not running" in proc.stdout
    entries = gh(None, "entries", "--help")
    for action in ("list", "add", "remove", "reload"):
        assert action in entries.stdout
    assert gh(None).returncode == 2  # no command is a usage error
    assert gh(None, "frobnicate").returncode == 2


def test_check_config_valid(config: Path) -> None:
    proc = gh(None, "check-config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout
    assert gh(config, "check-config").returncode == 0  # -c works like everywhere else


def test_check_config_reports_every_problem_with_file_and_line(config: Path) -> None:
    (config / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          name: CLI test
        dmeo:
          name: typo
        demo:
          name: Demo
          update_interval: fast
        """), encoding="utf-8")
    proc = gh(config, "check-config")
    assert proc.returncode == 3
    assert proc.stdout == ""
    err = proc.stderr
    assert "2 problem(s)" in err
    assert "configuration.yaml:3: dmeo: unknown integration 'dmeo' (did you mean 'demo'?)" in err
    assert "configuration.yaml:7: demo -> update_interval:" in err
    assert "expected float" in err


def test_check_config_missing_secret(config: Path) -> None:
    (config / "configuration.yaml").write_text(
        "demo:\n  name: !secret demo_name\n", encoding="utf-8"
    )
    proc = gh(config, "check-config")
    assert proc.returncode == 3
    assert "configuration.yaml:2:" in proc.stderr
    assert "demo_name" in proc.stderr
    (config / "secrets.yaml").write_text("other: value\n", encoding="utf-8")
    proc = gh(config, "check-config")
    assert proc.returncode == 3
    assert "configuration.yaml:2:" in proc.stderr
    assert "secret 'demo_name' not found" in proc.stderr
    (config / "secrets.yaml").write_text("demo_name: From secrets\n", encoding="utf-8")
    assert gh(config, "check-config").returncode == 0


def test_check_config_of_a_missing_directory(tmp_path: Path) -> None:
    proc = gh(None, "check-config", str(tmp_path / "nowhere"))
    assert proc.returncode == 3
    assert "configuration.yaml" in proc.stderr


def test_commands_that_need_a_host_exit_4(config: Path) -> None:
    for args in (
        ("states",),
        ("services", "list"),
        ("services", "call", "demo.reset_counter"),
        ("diagnostics",),
        ("entries", "reload", "01abc"),
    ):
        proc = gh(config, *args)
        assert proc.returncode == 4, (args, proc.stderr)
        assert "no Gatehouse host is running" in proc.stderr


def test_usage_errors_exit_2(config: Path) -> None:
    for args, needle in (
        (("services", "call", "nodot"), "DOMAIN.SERVICE"),
        (("services", "call", "demo.reset_counter", "--data", "{bad"), "not valid JSON"),
        (("services", "call", "demo.reset_counter", "--data", "[1]"), "JSON object"),
        (("entries", "add", "demo", "--data", "nope"), "not valid JSON"),
    ):
        proc = gh(config, *args)
        assert proc.returncode == 2, args
        assert needle in proc.stderr


def test_entries_offline_then_set_up_by_the_next_run(
    config: Path, start_host: Callable[[Path], RunningHost]
) -> None:
    (config / "configuration.yaml").write_text("gatehouse:\n  name: Offline\n", encoding="utf-8")
    listed = gh(config, "entries", "list")
    assert listed.returncode == 0
    assert listed.stdout.strip() == "no config entries"

    added = ok_json(gh(config, "entries", "add", "demo", "--data", '{"name": "Offline"}'))
    assert added["type"] == "create_entry"
    assert added["entry_state"] == "not_loaded"
    keep = added["entry_id"]
    stored = assert_storage_is_valid_json(config)["core.config_entries"]
    assert keep in json.dumps(stored)

    other = ok_json(gh(config, "entries", "add", "demo", "--data", '{"name": "Temporary"}'))
    assert ok_json(gh(config, "entries", "remove", other["entry_id"])) == {
        "removed": other["entry_id"]
    }
    missing = gh(config, "entries", "remove", "01nope")
    assert missing.returncode == 5
    assert "no config entry with id '01nope'" in missing.stderr

    again = gh(config, "entries", "add", "demo", "--data", '{"name": "Offline"}')
    assert again.returncode == 6  # a name in use: an error at the name field
    assert json.loads(again.stdout)["errors"] == {"name": "already_configured"}
    invalid = gh(config, "entries", "add", "demo", "--data", '{"name": 5}')
    assert invalid.returncode == 6
    assert json.loads(invalid.stdout)["errors"] == {"name": "expected str"}
    unknown = gh(config, "entries", "add", "dmeo")
    assert unknown.returncode == 5
    assert "did you mean 'demo'" in unknown.stderr

    entries = ok_json(gh(config, "entries", "list", "--json"))
    assert [(e["entry_id"], e["title"], e["state"]) for e in entries] == [
        (keep, "Offline", "not_loaded")
    ]

    # the next run sets the entry up; SIGINT stops it cleanly
    host = start_host(config)
    host.wait_ready(("sensor.offline_sine", "switch.offline_switch"))
    live = gh(config, "entries", "list")
    assert live.returncode == 0
    assert keep in live.stdout and "loaded" in live.stdout and "user" in live.stdout
    host.stop(signal.SIGINT)
    assert_storage_is_valid_json(config)


# -- a running host ----------------------------------------------------------------


def test_running_host_session(config: Path, start_host: Callable[[Path], RunningHost]) -> None:
    host = start_host(config)
    host.wait_ready(DEMO_ENTITIES)
    sock = config / SOCKET
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600

    # states, plain and JSON
    states = gh(config, "states")
    assert states.returncode == 0
    lines = {line.split()[0]: line for line in states.stdout.splitlines()}
    assert set(DEMO_ENTITIES) <= set(lines)
    assert "°C" in lines["sensor.demo_sine"]
    one = ok_json(gh(config, "states", "--json", "switch.demo_switch"))
    assert [(s["entity_id"], s["state"]) for s in one] == [("switch.demo_switch", "on")]

    # services
    services = gh(config, "services", "list")
    assert services.returncode == 0
    assert {"demo.reset_counter", "switch.toggle"} <= set(services.stdout.split())
    reset = ok_json(gh(config, "services", "call", "demo.reset_counter"))
    assert set(reset) == {"previous"}
    assert len(reset["previous"]) == 1
    toggled = gh(config, "services", "call", "switch.toggle",
                 "--data", '{"entity_id": "switch.demo_switch"}')
    assert toggled.returncode == 0, toggled.stderr
    one = ok_json(gh(config, "states", "--json", "switch.demo_switch"))
    assert one[0]["state"] == "off"

    unknown = gh(config, "services", "call", "demo.reset_countr")
    assert unknown.returncode == 5
    assert "did you mean 'demo.reset_counter'" in unknown.stderr
    bad = gh(config, "services", "call", "demo.reset_counter", "--data", '{"bogus": 1}')
    assert bad.returncode == 6
    assert "bogus" in bad.stderr
    assert gh(config, "services", "call", "demo.reset_counter",
              "--data", "{not json").returncode == 2

    # entries while running
    entries = ok_json(gh(config, "entries", "list", "--json"))
    assert [(e["domain"], e["source"], e["state"]) for e in entries] == [
        ("demo", "import", "loaded")
    ]
    entry_id = entries[0]["entry_id"]
    listed = gh(config, "entries", "list")
    assert entry_id in listed.stdout and "loaded" in listed.stdout
    reloaded = ok_json(gh(config, "entries", "reload", entry_id))
    assert reloaded["ok"] is True
    assert reloaded["state"] == "loaded"
    assert gh(config, "entries", "reload", "01nope").returncode == 5

    added = ok_json(gh(config, "entries", "add", "demo", "--data", '{"name": "Second"}'))
    assert added["type"] == "create_entry"
    assert added["entry_state"] == "loaded"
    second = added["entry_id"]
    names = {s["entity_id"] for s in ok_json(gh(config, "states", "--json"))}
    assert {"sensor.second_sine", "sensor.second_counter", "switch.second_switch"} <= names
    # A name in use is a field error of the form (issue 14), so: invalid data.
    taken = gh(config, "entries", "add", "demo", "--data", '{"name": "Second"}')
    assert taken.returncode == 6
    assert json.loads(taken.stdout)["errors"] == {"name": "already_configured"}
    assert gh(config, "entries", "add", "demo", "--data", '{"name": ""}').returncode == 6

    assert ok_json(gh(config, "entries", "remove", second)) == {"removed": second}
    names = {s["entity_id"] for s in ok_json(gh(config, "states", "--json"))}
    assert "sensor.second_sine" not in names
    assert set(DEMO_ENTITIES) <= names
    assert [e["entry_id"] for e in ok_json(gh(config, "entries", "list", "--json"))] == [
        entry_id
    ]

    diagnostics = ok_json(gh(config, "diagnostics"))
    assert diagnostics["host"]["state"] == "running"
    assert diagnostics["host"]["integrations"] == ["demo"]

    host.stop(signal.SIGTERM)
    stored = assert_storage_is_valid_json(config)
    assert {"core.config_entries", "core.entity_registry"} <= set(stored)
    text = json.dumps(stored["core.config_entries"])
    assert entry_id in text
    assert second not in text
    # and nothing answers any more
    assert gh(config, "states").returncode == 4



@pytest.mark.parametrize("command", ["audit", "keys"])
def test_pass_through_commands_take_options_first(command: str) -> None:
    """Regression: 'gatehouse audit --help' died with 'unrecognized arguments: --help'
    (argparse's REMAINDER refuses a first word starting with '-')."""
    proc = gh(None, command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert f"usage: gatehouse {command}" in proc.stdout
