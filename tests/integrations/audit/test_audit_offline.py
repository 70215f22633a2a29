"""Certificate and key operations: recorded from the bus while a host runs, appended
with ``append_offline`` (under the log's lock) while none does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from auditools import records

from gatehouse.core import Host
from gatehouse.core.testing import add_entry, make_host
from gatehouse.integrations.audit.api import append_offline, is_security_action
from gatehouse.integrations.audit.errors import AuditLogBusy
from gatehouse.integrations.audit.offline import audit_dir
from gatehouse.integrations.audit.verify import verify_path

pytestmark = pytest.mark.anyio

ISSUE = {"action": "cert.issue", "result": "ok", "name": "operator",
         "target": "cert:4711", "details": {"kind": "device", "cn": "pump-7"}}


def test_the_action_families() -> None:
    for action in ("cert.issue", "cert.revoke", "key.rotate", "key.create",
                   "device.provision", "auth.login", "permission.change"):
        assert is_security_action(action), action
    for action in ("cert.", "cert.Issue", "certs.issue", "cert.issue.now", "x.y", 7, None):
        assert not is_security_action(action), action


async def test_cert_and_key_events_on_a_running_host_keep_their_names(host: Host) -> None:
    await add_entry(host, "audit")
    for action, target in [("cert.init_ca", "cert:1"), ("cert.issue", "cert:2"),
                           ("cert.revoke", "cert:2"), ("key.rotate", "key:k2"),
                           ("device.provision", "device:pump-7")]:
        host.bus.fire("audit_security", {"action": action, "result": "ok",
                                         "name": "operator", "target": target})
    await host.config_entries.entries("audit")[0].runtime_data.log.flush()
    found = [(r["action"], r["target"]) for r in records(host.storage_dir / "audit")
             if r["target"] and r["target"].split(":")[0] in ("cert", "key", "device")]
    assert found == [("cert.init_ca", "cert:1"), ("cert.issue", "cert:2"),
                     ("cert.revoke", "cert:2"), ("key.rotate", "key:k2"),
                     ("device.provision", "device:pump-7")]


def test_no_audit_log_configured_writes_nothing(config_dir: Path) -> None:
    assert append_offline(config_dir, ISSUE) is False
    assert not audit_dir(config_dir).exists()


async def test_offline_records_join_the_chain_between_host_runs(
    config_dir: Path, write_config: Callable[..., Path]
) -> None:
    write_config("audit:\n")
    async with make_host(config_dir).running():
        pass
    assert append_offline(config_dir, ISSUE) is True
    assert append_offline(config_dir, {"action": "key.rotate", "target": "key:k2",
                                       "details": {"purpose": "tag"}}) is True
    assert append_offline(config_dir, {"action": "made up", "result": "ok"}) is True
    directory = audit_dir(config_dir)
    report = verify_path(directory, strict=True)  # each append signs a checkpoint
    assert report.ok, report.problem
    found = [r for r in records(directory) if r["action"] != "audit.checkpoint"]
    assert [r["action"] for r in found[-3:]] == ["cert.issue", "key.rotate", "security.other"]
    issue = found[-3]
    assert issue["actor"] == {"user_id": None, "name": "operator", "ip": None}
    assert issue["details"] == {"kind": "device", "cn": "pump-7", "offline": True}
    assert found[-1]["details"]["action"] == "made up"
    # The next run continues the same chain after them.
    host = make_host(config_dir)
    async with host.running():
        pass
    report = verify_path(directory, strict=True)
    assert report.ok, report.problem
    assert [r["action"] for r in records(directory)][-2:] == ["host.stop", "audit.checkpoint"]


async def test_while_the_host_runs_the_lock_refuses_an_offline_append(
    config_dir: Path, write_config: Callable[..., Path]
) -> None:
    write_config("audit:\n")
    host = make_host(config_dir)
    async with host.running():
        with pytest.raises(AuditLogBusy, match="open for writing by another process"):
            append_offline(config_dir, ISSUE, wait=0.1)
    assert append_offline(config_dir, ISSUE) is True
    assert verify_path(audit_dir(config_dir), strict=True).ok


async def test_while_the_host_runs_the_cli_records_through_the_control_socket(
    config_dir: Path, write_config: Callable[..., Path]
) -> None:
    """What ``gatehouse certs``/``keys`` do with a host running: ``audit.record`` over
    the control socket (a system call); a user, even an admin, is refused."""
    import anyio.to_thread

    from gatehouse.core import Context, ServiceValidationError
    from gatehouse.core.control import request

    write_config("audit:\n")
    host = make_host(config_dir)
    async with host.running():
        answer = await anyio.to_thread.run_sync(request, config_dir, {
            "cmd": "call_service", "domain": "audit", "service": "record", "data": ISSUE})
        assert answer == {"ok": True, "result": {"accepted": True}}
        with pytest.raises(ServiceValidationError, match="only the host's own processes"):
            await host.services.call("audit", "record", ISSUE,
                                     context=Context(user_id="u-admin"))
        await host.config_entries.entries("audit")[0].runtime_data.log.flush()
        found = records(audit_dir(config_dir))
    issued = [r for r in found if r["action"] == "cert.issue"]
    assert len(issued) == 1 and issued[0]["details"]["via"] == "control"
    refused = [r for r in found if r["action"] == "service.call"]
    assert [(r["actor"]["user_id"], r["result"]) for r in refused] == [("u-admin", "invalid")]
