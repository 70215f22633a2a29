"""The Certificates integration in a running host: days-left sensors that follow the CA
index and watched files, and the problem sensor that warns 30 days ahead."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatehouse.core import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, ConfigEntryState, Host
from gatehouse.core.cli import main
from gatehouse.core.helpers import CertificateAuthority, certificate_authority
from gatehouse.core.testing import add_entry, make_host, make_pki, state_of, wait_until

pytestmark = pytest.mark.anyio

FAST = "pki:\n  poll_interval: 0.05\n"
PROBLEM = "binary_sensor.certificates_expiring"
DEFAULT_CONFIG = (Path(__file__).resolve().parents[3] / "core" / "default_config"
                  / "configuration.yaml")


@pytest.fixture
def ca(config_dir: Path) -> CertificateAuthority:
    authority = certificate_authority(config_dir)
    authority.init("Plant CA")
    return authority


def _sensor_of(host: Host, serial: int) -> str | None:
    for state in host.states.all():
        if state.attributes.get("serial") == f"{serial:X}":
            return state.entity_id
    return None


def _attrs(host: Host, entity_id: str) -> dict[str, Any]:
    state = host.states.get(entity_id)
    assert state is not None, entity_id
    return dict(state.attributes)


async def test_days_left_per_certificate_and_the_warning(
    config_dir: Path, write_config: Callable[..., Path], ca: CertificateAuthority
) -> None:
    server = ca.issue_server(["broker.local"], days=400)
    write_config(FAST)
    host = make_host(config_dir)
    async with host.running():
        entry = host.config_entries.entries("pki")[0]
        assert entry.state is ConfigEntryState.LOADED, entry.reason
        sensor = _sensor_of(host, server.serial)
        assert sensor == "sensor.certificates_server_broker_local"
        state = host.states.get(sensor)
        assert state is not None
        assert 399.9 <= float(state.state) <= 400.0
        assert state.attributes["unit_of_measurement"] == "d"
        assert state.attributes["device_class"] == "duration"
        assert state.attributes["not_after"] == server.not_after.isoformat()
        assert state_of(host, "sensor.certificates_ca_plant_ca") is not None
        crl = _attrs(host, "sensor.certificates_crl_plant_ca")
        assert crl["kind"] == "crl"
        assert state_of(host, PROBLEM) == STATE_OFF
        assert _attrs(host, PROBLEM)["device_class"] == "problem"

        # Issued while running (as 'gatehouse certs' in a shell would): a new sensor
        # within a poll, and the problem sensor on (10 days < 30).
        short = ca.issue_device("plc-01", days=10)
        await wait_until(lambda: _sensor_of(host, short.serial) is not None)
        short_sensor = _sensor_of(host, short.serial)
        assert short_sensor is not None
        assert 9.9 <= float(state_of(host, short_sensor) or "nan") <= 10.0
        await wait_until(lambda: state_of(host, PROBLEM) == STATE_ON)
        expiring = _attrs(host, PROBLEM)["certificates_expiring"]
        assert [e["name"] for e in expiring] == ["device plc-01"]
        assert 9.9 <= expiring[0]["days_left"] <= 10.0

        # Revoked: its sensor goes, and with it the warning.
        ca.revoke(short.serial)
        await wait_until(lambda: state_of(host, short_sensor) is None)
        await wait_until(lambda: state_of(host, PROBLEM) == STATE_OFF)
        assert _sensor_of(host, server.serial) == sensor


async def test_warn_days_is_an_option(host: Host, ca: CertificateAuthority) -> None:
    ca.issue_device("plc-02", days=100)
    entry = await add_entry(host, "pki", {"poll_interval": 0.05})
    assert state_of(host, PROBLEM) == STATE_OFF
    host.config_entries.update_entry(entry, options={"warn_days": 120})
    assert await host.config_entries.reload(entry.entry_id)
    assert state_of(host, PROBLEM) == STATE_ON
    assert _attrs(host, PROBLEM)["warn_days"] == 120


async def test_watched_files_and_a_missing_one(
    config_dir: Path, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    # No CA at all here: only the files of another CA are watched.
    other = make_pki(tmp_path / "other-ca")
    write_config(
        "pki:\n  poll_interval: 0.05\n  watch:\n"
        f"    - {other.server_cert}\n    - certs/missing.pem\n"
    )
    host = make_host(config_dir)
    async with host.running():
        states = {s.entity_id: s for s in host.states.all() if s.domain == "sensor"}
        watched = [s for s in states.values() if s.attributes.get("kind") == "file"]
        by_path = {s.attributes["path"]: s for s in watched}
        server = by_path[str(other.server_cert)]
        assert 1.0 < float(server.state) <= 2.0  # the kit's certificates live two days
        # Unreadable: unavailable (not dropped), the reason on the problem sensor.
        missing = "sensor.certificates_file_missing_pem"
        assert state_of(host, missing) == STATE_UNAVAILABLE
        # Two days left is under 30: the warning is on, and the unreadable file is named.
        assert state_of(host, PROBLEM) == STATE_ON
        problem = _attrs(host, PROBLEM)
        assert [e for e in problem["errors"] if "missing.pem" in e] == [
            f"{config_dir / 'certs' / 'missing.pem'}: cannot read: No such file or directory"]

        # The missing file appears (a renewal copied in): read within a poll.
        (config_dir / "certs").mkdir()
        (config_dir / "certs" / "missing.pem").write_bytes(other.ca_cert.read_bytes())
        await wait_until(lambda: state_of(host, missing) not in (None, STATE_UNAVAILABLE))
        assert _attrs(host, missing)["common_name"] == "Gatehouse Test CA"
        assert _attrs(host, PROBLEM)["errors"] == []


async def test_a_damaged_index_is_reported_not_fatal(
    host: Host, ca: CertificateAuthority
) -> None:
    ca.index_path.write_text("{broken")
    entry = await add_entry(host, "pki", {"poll_interval": 0.05})
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    assert any("index.json" in e for e in _attrs(host, PROBLEM)["errors"])
    # Repaired (here: a fresh index written by the CA): the sensors come.
    ca.index_path.unlink()
    ca.ca_key_path.unlink()
    ca.ca_cert_path.unlink()
    ca.init("Second CA")
    await wait_until(lambda: state_of(host, "sensor.certificates_ca_second_ca") is not None)
    assert _attrs(host, PROBLEM)["errors"] == []


async def test_refresh_service_and_days_move_with_time(
    host: Host, ca: CertificateAuthority
) -> None:
    device = ca.issue_device("plc-03", days=50)
    entry = await add_entry(host, "pki", {"poll_interval": 3600})
    sensor = _sensor_of(host, device.serial)
    assert sensor is not None
    before = float(state_of(host, sensor) or "nan")
    # A day later (the daily refresh): computed from not_after, one day less.
    entity = entry.runtime_data.sensors["device_plc_03"]
    entity.update(entity.tracked, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert round(before - float(entity.native_value or 0), 1) == 1.0
    # pki.refresh reads the files now, without waiting for the (hour-long) poll.
    extra = ca.issue_device("plc-04")
    assert _sensor_of(host, extra.serial) is None
    reply = await host.services.call("pki", "refresh", {}, return_response=True)
    assert reply == {"sensors": {entry.entry_id: 4}}  # the CA, its CRL, plc-03, plc-04
    assert _sensor_of(host, extra.serial) is not None


async def test_issue_and_revoke_seen_while_running_reach_the_audit_log(
    host: Host, ca: CertificateAuthority
) -> None:
    ca.issue_device("before-start")  # the baseline: not announced
    audit = await add_entry(host, "audit", {"summary_interval": 60})
    assert audit.state is ConfigEntryState.LOADED, audit.reason
    seen: list[dict[str, Any]] = []
    host.bus.listen("audit_security", lambda event: seen.append(dict(event.data)))
    await add_entry(host, "pki", {"poll_interval": 0.05})
    device = ca.issue_device("plc-05")
    await wait_until(lambda: len(seen) == 1)
    ca.revoke(device.serial)
    await wait_until(lambda: len(seen) == 2)
    assert [(e["action"], e["target"], e["details"]["operation"]) for e in seen] == [
        ("cert.operation", f"cert:{device.serial:X}", "issued"),
        ("cert.operation", f"cert:{device.serial:X}", "revoked"),
    ]
    assert seen[0]["details"]["common_name"] == "plc-05"
    # And the audit integration wrote them down.
    await audit.runtime_data.log.flush()
    lines = [json.loads(line) for path in sorted(
        (host.storage_dir / "audit").glob("audit-*.jsonl")) for line in
        path.read_text().splitlines()]
    certs = [r for r in lines if r.get("action") == "cert.operation"]
    assert [(r["target"], r["details"]["operation"]) for r in certs] == [
        (f"cert:{device.serial:X}", "issued"), (f"cert:{device.serial:X}", "revoked")]


async def test_a_renewed_certificate_keeps_its_sensor(
    host: Host, ca: CertificateAuthority
) -> None:
    old = ca.issue_server(["broker.local"], days=20)
    await add_entry(host, "pki", {"poll_interval": 0.05})
    sensor = "sensor.certificates_server_broker_local"
    assert _attrs(host, sensor)["serial"] == f"{old.serial:X}"
    assert state_of(host, PROBLEM) == STATE_ON
    new = ca.issue_server(["broker.local"], days=400, replace=True)
    await wait_until(lambda: _attrs(host, sensor)["serial"] == f"{new.serial:X}")
    assert 399.9 <= float(state_of(host, sensor) or "nan") <= 400.0
    await wait_until(lambda: state_of(host, PROBLEM) == STATE_OFF)
    assert not [s for s in host.states.all() if s.entity_id.startswith(sensor + "_")]


async def test_the_default_configuration_section_loads_without_a_ca(
    config_dir: Path, write_config: Callable[..., Path]
) -> None:
    section = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["pki"]
    write_config(yaml.safe_dump({"pki": section}))
    host = make_host(config_dir)
    async with host.running():
        entry = host.config_entries.entries("pki")[0]
        assert entry.state is ConfigEntryState.LOADED, entry.reason
        assert state_of(host, PROBLEM) == STATE_OFF
        assert entry.runtime_data.sensors == {}  # no CA yet: nothing to watch


async def test_bad_settings_name_the_key(host: Host, config_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    entry = await add_entry(host, "pki", {"warn_days": 0})
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "invalid certificates settings" in (entry.reason or "")
    assert "warn_days" in (entry.reason or "")
    # The same in configuration.yaml, caught before any host runs.
    (config_dir / "configuration.yaml").write_text("pki:\n  watch: [a.pem, a.pem]\n")
    assert main(["check-config", str(config_dir)]) == 3
    assert "watch names the same file twice" in capsys.readouterr().err


async def test_config_and_options_flows(host: Host, ca: CertificateAuthority) -> None:
    ca.issue_device("plc-06", days=60)
    form = await host.config_entries.flow.init("pki")
    assert form["type"] == "form"
    done = await host.config_entries.flow.configure(form["flow_id"], {})
    assert done["type"] == "create_entry"
    entry = host.config_entries.get(done["entry_id"])
    assert entry.state is ConfigEntryState.LOADED and entry.title == "Certificates"
    assert state_of(host, PROBLEM) == STATE_OFF
    again = await host.config_entries.flow.init("pki")
    refused = await host.config_entries.flow.configure(again["flow_id"], {})
    assert refused["type"] == "abort"  # one Certificates entry per host

    options = await host.config_entries.options.init(entry.entry_id)
    assert options["type"] == "form"
    await host.config_entries.options.configure(options["flow_id"], {"warn_days": 90})
    await wait_until(lambda: state_of(host, PROBLEM) == STATE_ON)  # 60 days < 90
    assert _attrs(host, PROBLEM)["warn_days"] == 90


async def test_days_left_are_recomputed_every_refresh_interval(
    host: Host, ca: CertificateAuthority
) -> None:
    # Nothing changes on disk; the refresh interval alone re-reads and rewrites.
    ca.issue_device("plc-07", days=30)
    entry = await add_entry(host, "pki", {"poll_interval": 3600, "refresh_interval": 0.05})
    runtime = entry.runtime_data
    first = runtime.refreshes
    # (The state itself is rewritten but, one decimal moving once in 2.4 hours, is
    # unchanged here; the count of readings is what shows the timer.)
    await wait_until(lambda: runtime.refreshes >= first + 2)
    assert state_of(host, "sensor.certificates_device_plc_07") == "30.0"
