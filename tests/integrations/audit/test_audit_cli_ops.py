"""``gatehouse certs`` and ``gatehouse keys`` record their operations in the audit log
(``gatehouse.core.cli_audit``): through the running host's control socket to
``audit.record`` (which marks them ``via: control``), or with ``append_offline`` when no
host runs (``via: cli``); the OS user is the actor.

Regression: both commands changed the CA and the keyring without any audit record."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
import pytest
from auditools import records

from gatehouse.core.cli import main
from gatehouse.core.testing import make_host
from gatehouse.integrations.audit.offline import audit_dir
from gatehouse.integrations.audit.verify import verify_path

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def cli_records(config_dir: Path) -> list[tuple[str, str | None]]:
    return [(r["action"], r["target"]) for r in records(audit_dir(config_dir))
            if (r.get("details") or {}).get("via") in ("cli", "control")]


async def test_offline_operations_are_recorded_with_the_os_user(
    config_dir: Path, write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str],
) -> None:
    write_config("gatehouse:\n  control_socket: false\naudit:\n")
    async with make_host(config_dir).running():
        pass
    config = str(config_dir)
    assert main(["certs", "init-ca", "-c", config, "--cn", "Plant CA"]) == 0
    assert main(["certs", "issue-device", "pump-7", "-c", config]) == 0
    assert main(["keys", "rotate", "-c", config]) == 0
    assert "not recorded" not in capsys.readouterr().err
    found = cli_records(config_dir)
    assert [action for action, _ in found] == ["cert.init_ca", "cert.issue", "key.rotate"]
    assert all(target and target.split(":")[0] in ("cert", "key") for _, target in found)
    issue = next(r for r in records(audit_dir(config_dir)) if r["action"] == "cert.issue")
    assert issue["actor"]["name"] == getpass.getuser()
    assert issue["details"]["cn"] == "pump-7" and issue["details"]["offline"] is True
    report = verify_path(audit_dir(config_dir), strict=True)
    assert report.ok, report.problem


async def test_with_a_host_running_the_record_goes_through_its_socket(
    config_dir: Path, write_config: Callable[..., Path],
) -> None:
    write_config("audit:\n")
    host = make_host(config_dir)
    async with host.running():
        config = str(config_dir)
        assert await anyio.to_thread.run_sync(main, ["certs", "init-ca", "-c", config]) == 0
        # The socket call returned once audit.record accepted it: flushed, it is on disk.
        await host.config_entries.entries("audit")[0].runtime_data.log.flush()
        assert [a for a, _ in cli_records(config_dir)] == ["cert.init_ca"]
    report = verify_path(audit_dir(config_dir), strict=True)
    assert report.ok, report.problem


def test_without_an_audit_log_the_command_still_works_quietly(
    config_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["certs", "init-ca", "-c", str(config_dir)]) == 0
    assert "not recorded" not in capsys.readouterr().err
    assert not audit_dir(config_dir).exists()


