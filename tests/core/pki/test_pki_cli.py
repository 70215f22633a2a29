"""``gatehouse certs``: the commands, what they print, and their exit codes on bad input."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509

from gatehouse.core.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_whole_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(tmp_path)
    code, out, _ = run(capsys, "certs", "init-ca", "-c", cfg, "--cn", "Plant CA",
                       "--days", "400")
    assert code == 0 and "CA 'Plant CA' (ECDSA P-256)" in out
    assert stat.S_IMODE((tmp_path / "pki" / "ca.key").stat().st_mode) == 0o600

    code, out, _ = run(capsys, "certs", "issue-server", "gw.local", "10.0.0.2", "-c", cfg,
                       "--days", "30")
    assert code == 0 and "server certificate 'gw.local'" in out
    code, out, _ = run(capsys, "certs", "issue-device", "plc-01", "-c", cfg, "--rsa",
                       "--uri", "urn:plc-01:app", "--days", "30")
    assert code == 0 and "device certificate 'plc-01'" in out
    key_line = next(line for line in out.splitlines() if "key:" in line)
    key_path = Path(key_line.split()[1])
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600

    code, out, _ = run(capsys, "certs", "list", "-c", cfg, "--json")
    listed = json.loads(out)
    assert [(c["kind"], c["common_name"], c["status"]) for c in listed] == [
        ("ca", "Plant CA", "valid"), ("server", "gw.local", "valid"),
        ("device", "plc-01", "valid")]
    assert listed[1]["sans"] == ["DNS:gw.local", "IP:10.0.0.2"]
    assert 29 < listed[1]["days_left"] <= 30
    serial = listed[2]["serial"]

    code, out, _ = run(capsys, "certs", "revoke", serial.lower(), "-c", cfg)
    assert code == 0 and f"revoked {serial}" in out
    code, out, _ = run(capsys, "certs", "list", "-c", cfg)
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(serial))
    assert row.split()[-1] == "revoked" and "plc-01" in row
    assert out.splitlines()[0].split() == ["SERIAL", "KIND", "NAME", "NOT", "AFTER", "STATUS"]

    code, out, _ = run(capsys, "certs", "crl", "-c", cfg)
    crl = x509.load_pem_x509_crl(out.encode())
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    target = tmp_path / "out.crl"
    code, out, _ = run(capsys, "certs", "crl", "-c", cfg, "--out", str(target), "--days", "7")
    assert code == 0 and str(target) in out
    assert x509.load_pem_x509_crl(target.read_bytes()).get_revoked_certificate_by_serial_number(
        int(serial, 16)) is not None


def test_errors_are_one_line_with_the_gatehouse_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(tmp_path)
    code, _, err = run(capsys, "certs", "issue-device", "plc-01", "-c", cfg)
    assert code == 5 and "run 'gatehouse certs init-ca' first" in err
    code, _, err = run(capsys, "certs", "list", "-c", cfg)
    assert code == 5 and "no certificate authority" in err
    assert run(capsys, "certs", "init-ca", "-c", cfg)[0] == 0
    code, _, err = run(capsys, "certs", "issue-device", "plc-01", "-c", cfg, "--days", "4000")
    assert code == 6 and "outlive the CA" in err
    code, _, err = run(capsys, "certs", "init-ca", "-c", cfg)
    assert code == 1 and "already exists" in err
    code, _, err = run(capsys, "certs", "revoke", "DEADBEEF", "-c", cfg)
    assert code == 5 and "no certificate with serial DEADBEEF" in err
    code, _, err = run(capsys, "certs", "revoke", "not-hex", "-c", cfg)
    assert code == 6 and "not hexadecimal" in err
    code, _, err = run(capsys, "certs", "issue-server", "bad host", "-c", cfg)
    assert code == 6 and "'bad host'" in err
    code, _, err = run(capsys, "certs", "issue-device", "site/plc", "-c", cfg)
    assert code == 6 and "device name" in err
    code, _, err = run(capsys, "certs", "issue-device", "plc-01", "-c", cfg, "--days", "0")
    assert code == 6 and "days" in err
    assert run(capsys, "certs", "issue-device", "plc-01", "-c", cfg)[0] == 0
    code, _, err = run(capsys, "certs", "issue-device", "plc-01", "-c", cfg)
    assert code == 1 and "--replace" in err
    assert err.count("\n") == 1  # one line, no traceback
    assert run(capsys, "certs", "issue-device", "plc-01", "-c", cfg, "--replace")[0] == 0


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["certs", "issue-server", "-c", str(tmp_path)])  # no HOST
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        main(["certs"])
    assert caught.value.code == 2
    capsys.readouterr()
