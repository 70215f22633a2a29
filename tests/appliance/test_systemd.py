"""systemd: Type=notify messages on a real datagram socket, the loop-fed watchdog, journal
log lines, and the shipped unit passing ``systemd-analyze verify``."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from notifytools import NotifySocket

from gatehouse.core.host import Host
from gatehouse.core.systemd import render_unit, watchdog_interval
from gatehouse.core.testing import wait_until, wait_until_sync

GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_watchdog_interval_is_half_and_only_for_our_pid() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    assert watchdog_interval({}) is None


@pytest.mark.anyio
async def test_watchdog_pings_come_from_the_loop_and_stop_while_it_is_blocked(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("gatehouse:\n  control_socket: false\n")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 50 ms
    host = Host(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(host.run)
        await wait_until(lambda: notify_socket.with_key("READY"), message="READY=1")
        ready = notify_socket.with_key("READY")[0]
        assert re.fullmatch(r"\d+/\d+ entries loaded, \d+ entities", ready.fields["STATUS"])
        await wait_until(lambda: len(notify_socket.with_key("WATCHDOG")) >= 3)

        # The event loop is stuck for a second. Pings sent just before arrive during the
        # first 0.3 s (the reader thread runs while this one sleeps); after that, none.
        time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point
        before = len(notify_socket.with_key("WATCHDOG"))
        time.sleep(0.7)  # noqa: ASYNC251
        during = len(notify_socket.with_key("WATCHDOG")) - before
        blocked_to = time.monotonic()
        await wait_until(lambda: len(notify_socket.with_key("WATCHDOG")) >= before + 3)
        host.request_stop()
    assert during == 0, f"{during} pings while the loop was blocked"
    pings = [d.at for d in notify_socket.with_key("WATCHDOG")]
    assert any(t > blocked_to for t in pings)
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) >= 0.7
    # Sent on the way out; the socket's reader thread may take it a moment later
    # (asserting at once failed on a loaded CI-like run).
    await wait_until(lambda: notify_socket.with_key("STOPPING"), message="STOPPING=1")


def test_gatehouse_run_under_notify_and_journal(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    """The real command: READY, STATUS, STOPPING on SIGTERM; journal-style log lines."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text("gatehouse:\n  name: Unit test\n")
    read_fd, write_fd = os.pipe()
    st = os.fstat(write_fd)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path),
           "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    env.pop("WATCHDOG_USEC", None)
    proc = subprocess.Popen([GATEHOUSE, "run", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=write_fd)
    os.close(write_fd)
    try:
        wait_until_sync(lambda: notify_socket.with_key("READY"), timeout=30, message="READY")
        assert "entries loaded" in notify_socket.with_key("READY")[0].fields["STATUS"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with os.fdopen(read_fd) as stream:
        lines = stream.read().splitlines()
    assert notify_socket.with_key("STOPPING")
    assert lines
    for line in lines:
        assert re.match(r"<[0-7]>\S", line), line
        assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line), f"timestamp in {line!r}"
    assert any(line.startswith("<6>") for line in lines)


def test_journal_stream_of_another_file_keeps_timestamps(tmp_path: Path) -> None:
    """A JOURNAL_STREAM inherited while writing elsewhere must not strip timestamps."""
    script = ("import logging; from gatehouse.core.logging_setup import setup_logging; "
              "setup_logging(); logging.getLogger('x').warning('hello')")
    env = {**os.environ, "JOURNAL_STREAM": "1:1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING x: hello", out.stderr)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_unit_is_hardened_and_verifies(tmp_path: Path) -> None:
    unit = tmp_path / "gatehouse.service"
    result = subprocess.run(
        [GATEHOUSE, "install-service", "--config", str(tmp_path / "cfg"), "--output", str(unit)],
        capture_output=True, text=True, check=True,
    )
    assert "daemon-reload" in result.stdout
    text = unit.read_text()
    for line in ("Type=notify", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                 "SupplementaryGroups=dialout", "Restart=on-failure", "WatchdogSec=30",
                 f"ReadWritePaths={tmp_path / 'cfg'} /var/lib/gatehouse", "User=gatehouse",
                 f"ExecStart={GATEHOUSE} run --config {tmp_path / 'cfg'}"):
        assert line in text, line
    assert re.search(r"@[A-Z]+@", text) is None
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, check=False)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr


def test_render_refuses_white_space_in_paths() -> None:
    with pytest.raises(ValueError, match="config must not"):
        render_unit(exec_path="/usr/bin/gatehouse", config_dir="/etc/gate house")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_backup_timer_units_verify(tmp_path: Path) -> None:
    unit = tmp_path / "gatehouse.service"
    subprocess.run([GATEHOUSE, "install-service", "--config", str(tmp_path / "cfg"),
                    "--output", str(unit), "--backup-timer"], capture_output=True, text=True,
                   check=True)
    service, timer = tmp_path / "gatehouse-backup.service", tmp_path / "gatehouse-backup.timer"
    assert f"ExecStart={GATEHOUSE} backup create --config {tmp_path / 'cfg'} --keep 7" in (
        service.read_text())
    assert "OnCalendar=daily" in timer.read_text()
    verify = subprocess.run(["systemd-analyze", "verify", str(unit), str(service), str(timer)],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
