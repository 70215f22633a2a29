"""``gatehouse keys``: driven for real, as the installed command and through main()."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptotools import cipher_on, keyring_at, keyring_doc, run_cli

from gatehouse.core.cli import main
from gatehouse.core.crypto import Keyring, TagCipher


def test_list_and_rotate_as_a_child_process(tmp_path: Path) -> None:
    config = tmp_path / "config"
    missing = run_cli("keys", "list", "-c", str(config))
    assert missing.returncode == 5
    assert b"no keyring" in missing.stderr

    first = run_cli("keys", "rotate", "-c", str(config))
    assert first.returncode == 0, first.stderr
    second = run_cli("keys", "rotate", "-c", str(config))
    kid1, kid2 = (p.stdout.split()[3].decode() for p in (first, second))
    assert kid1 != kid2

    listed = run_cli("keys", "list", "-c", str(config), "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert [(r["kid"], r["current"]) for r in rows] == [(kid1, False), (kid2, True)]
    text = run_cli("keys", "list", "-c", str(config)).stdout.decode()
    assert f"{kid2}" in text and "current" in text and "decrypt-only" in text
    keyring = keyring_at(tmp_path)
    secret = keyring_doc(keyring)["keys"][kid1]["key"]
    assert secret.encode() not in listed.stdout + text.encode()
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600


def test_decrypt_tool_for_consumers(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    cipher = cipher_on(keyring)
    old = cipher.encrypt("sensor.recipe", b"72.5")
    keyring.rotate()
    new = cipher_on(keyring).encrypt("sensor.batch_id", "Lot-7 é".encode())

    exported = tmp_path / "consumer" / "keyring.json"
    made = run_cli("keys", "export", "--keyring", str(keyring.path), "--out", str(exported))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    assert keyring_doc(Keyring(exported))["current"] is None  # decrypt-only

    one = run_cli("keys", "decrypt", "--keyring", str(exported),
                  stdin=json.dumps(old, indent=2).encode())
    assert (one.returncode, one.stdout) == (0, b"72.5\n")
    lines = (json.dumps(old) + "\n" + json.dumps(new) + "\n").encode()
    many = run_cli("keys", "decrypt", "--keyring", str(exported), "--json", stdin=lines)
    assert many.returncode == 0, many.stderr
    records = [json.loads(line) for line in many.stdout.splitlines()]
    assert [(r["entity_id"], r["value"], r["kid"]) for r in records] == [
        ("sensor.recipe", "72.5", old["kid"]),
        ("sensor.batch_id", "Lot-7 é", new["kid"]),
    ]
    # A consumer keyring cannot encrypt with the host's nonce space: it makes its own key.
    consumer = TagCipher(Keyring(exported), sensitive=lambda _e: True)
    assert consumer.encrypt("sensor.x", b"1")["kid"] not in (old["kid"], new["kid"])


def test_decrypt_errors_and_exit_codes(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    envelope = cipher_on(keyring).encrypt("sensor.recipe", b"72.5")
    only_new = tmp_path / "new.json"
    keyring.rotate()
    keyring.export(only_new, [k for k in keyring.load().secrets if k != envelope["kid"]])

    lost = run_cli("keys", "decrypt", "--keyring", str(only_new),
                   stdin=json.dumps(envelope).encode())
    assert lost.returncode == 5
    assert envelope["kid"].encode() in lost.stderr
    assert lost.stdout == b""

    moved = {**envelope, "entity_id": "sensor.other"}
    swapped = run_cli("keys", "decrypt", "--keyring", str(keyring.path),
                      stdin=json.dumps(moved).encode())
    assert swapped.returncode == 6
    assert b"authentication failed" in swapped.stderr

    garbage = run_cli("keys", "decrypt", "--keyring", str(keyring.path), stdin=b"[1]")
    assert garbage.returncode == 6
    nothing = run_cli("keys", "decrypt", "--keyring", str(tmp_path / "nope.json"),
                      stdin=json.dumps(envelope).encode())
    assert nothing.returncode == 5


def test_through_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config"
    assert main(["keys", "rotate", "-c", str(config)]) == 0
    kid = capsys.readouterr().out.split()[3]
    assert main(["keys", "list", "-c", str(config)]) == 0
    assert kid in capsys.readouterr().out
    assert main(["keys", "export", "-c", str(config), "--out", str(tmp_path / "x.json"),
                 "no-such-kid"]) == 5
    assert "no-such-kid" in capsys.readouterr().err
    assert main(["keys", "bogus"]) == 2


def test_a_damaged_keyring_fails_with_the_file_named(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    keyring.path.parent.mkdir(parents=True)
    keyring.path.write_text("{damaged")
    for args in (("list",), ("rotate",), ("export", "--out", str(tmp_path / "x.json"))):
        result = run_cli("keys", *args, "--keyring", str(keyring.path))
        assert result.returncode == 1, args
        assert str(keyring.path).encode() in result.stderr and b"not valid JSON" in result.stderr
    assert keyring.path.read_text() == "{damaged"  # never replaced


def test_a_keyring_in_a_shared_folder_leaves_the_folder_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    assert run_cli("keys", "rotate", "--keyring", str(shared / "k.json")).returncode == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "k.json").stat().st_mode) == 0o600
