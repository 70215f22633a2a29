"""TagCipher: round trips, what the tag protects, keys, rotation and nonces."""

from __future__ import annotations

import base64
import json
import logging
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptotools import cipher_on, keyring_at, keyring_doc, nonce_of

from gatehouse.core.crypto import (
    DecryptError,
    KeyMissingError,
    Keyring,
    KeyringError,
    TagCipher,
    aad,
)
from gatehouse.core.crypto.keyring import EPOCH_MAX


def test_round_trip_and_envelope_shape(tmp_path: Path) -> None:
    cipher = cipher_on(keyring_at(tmp_path))
    envelope = cipher.encrypt("sensor.recipe", b"72.5", seq=7)
    assert set(envelope) == {"enc", "kid", "nonce", "ct", "entity_id", "seq"}
    assert (envelope["enc"], envelope["entity_id"], envelope["seq"]) == (
        "aes256gcm", "sensor.recipe", 7)
    assert len(nonce_of(envelope)) == 12
    assert b"72.5" not in base64.b64decode(envelope["ct"])
    assert cipher.decrypt(envelope) == b"72.5"
    assert cipher.open(cipher.seal("sensor.recipe", b"")) == b""  # empty values too


def test_default_seq_increases(tmp_path: Path) -> None:
    cipher = cipher_on(keyring_at(tmp_path))
    seqs = [cipher.encrypt("sensor.a", b"x")["seq"] for _ in range(1000)]
    assert seqs == sorted(set(seqs))
    assert all(0 < s < 2**53 for s in seqs)  # exact in JavaScript consumers too


@pytest.mark.parametrize(
    ("field", "value"),
    [("entity_id", "sensor.other"), ("seq", 8), ("seq", 0)],
    ids=["other entity", "next seq", "seq zero"],
)
def test_an_envelope_moved_to_another_entity_or_seq_fails(
    tmp_path: Path, field: str, value: Any
) -> None:
    cipher = cipher_on(keyring_at(tmp_path))
    envelope = cipher.encrypt("sensor.recipe", b"72.5", seq=7)
    with pytest.raises(DecryptError, match="authentication failed") as caught:
        cipher.decrypt({**envelope, field: value})
    assert caught.value.kid == envelope["kid"]
    assert envelope["kid"] in str(caught.value)


def test_swapping_two_ciphertexts_fails(tmp_path: Path) -> None:
    cipher = cipher_on(keyring_at(tmp_path))
    a = cipher.encrypt("sensor.a", b"1", seq=1)
    b = cipher.encrypt("sensor.b", b"2", seq=2)
    for first, second in ((a, b), (b, a)):
        with pytest.raises(DecryptError):
            cipher.decrypt({**first, "ct": second["ct"], "nonce": second["nonce"]})


def test_every_flipped_bit_of_ciphertext_tag_or_nonce_fails(tmp_path: Path) -> None:
    cipher = cipher_on(keyring_at(tmp_path))
    envelope = cipher.encrypt("sensor.recipe", b"secret", seq=1)
    for field in ("ct", "nonce"):
        raw = base64.b64decode(envelope[field])
        for bit in range(len(raw) * 8):
            flipped = bytearray(raw)
            flipped[bit // 8] ^= 1 << (bit % 8)
            tampered = {**envelope, field: base64.b64encode(bytes(flipped)).decode()}
            with pytest.raises(DecryptError, match="authentication failed"):
                cipher.decrypt(tampered)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enc": "aes128cbc"}, "field 'enc'"),
        ({"kid": ""}, "field 'kid'"),
        ({"seq": "7"}, "field 'seq'"),
        ({"seq": True}, "field 'seq'"),
        ({"seq": -1}, "field 'seq'"),
        ({"nonce": "AAAA"}, "expected 12 bytes"),
        ({"nonce": "***"}, "not valid base64"),
        ({"ct": "AAAA"}, "shorter than"),
        ({"entity_id": 5}, "field 'entity_id'"),
    ],
)
def test_malformed_envelopes_name_the_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    cipher = cipher_on(keyring_at(tmp_path))
    envelope = cipher.encrypt("sensor.recipe", b"x", seq=7)
    with pytest.raises(DecryptError, match=message):
        cipher.decrypt({**envelope, **change})
    missing = dict(envelope)
    del missing["ct"]
    with pytest.raises(DecryptError, match="'ct' is missing"):
        cipher.decrypt(missing)
    with pytest.raises(DecryptError, match="not valid JSON"):
        cipher.open(b"{not json")


def test_rotation_old_data_decrypts_new_data_uses_the_new_key(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    cipher = cipher_on(keyring, reload_interval=0)
    old = cipher.encrypt("sensor.a", b"before")
    new_kid = keyring.rotate()  # as 'gatehouse keys rotate' in another process
    assert new_kid != old["kid"]
    new = cipher.encrypt("sensor.a", b"after")
    assert new["kid"] == new_kid == cipher.current_kid
    fresh = TagCipher(keyring)  # a restart: both still decrypt
    assert (fresh.decrypt(old), fresh.decrypt(new)) == (b"before", b"after")
    assert [k["current"] for k in _listed(keyring)] == [False, True]


def test_a_running_cipher_learns_keys_made_elsewhere_for_decrypting(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    reader = TagCipher(keyring)
    writer = cipher_on(keyring)
    first = writer.encrypt("sensor.a", b"1")
    assert reader.decrypt(first) == b"1"
    keyring.rotate()
    second = cipher_on(keyring).encrypt("sensor.a", b"2")  # a key the reader never saw
    assert reader.decrypt(second) == b"2"


def test_missing_key_is_a_clear_error_naming_the_kid(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    envelope = cipher_on(keyring).encrypt("sensor.recipe", b"secret", seq=3)
    other = Keyring(tmp_path / "other" / "keyring.json")
    other.rotate()
    for cipher in (TagCipher(other), TagCipher(Keyring(tmp_path / "none" / "keyring.json"))):
        with pytest.raises(KeyMissingError) as caught:
            cipher.decrypt(envelope)
        assert caught.value.kid == envelope["kid"]
        assert envelope["kid"] in str(caught.value)
        assert "sensor.recipe" in str(caught.value)
    assert not (tmp_path / "none").exists()  # decrypting never makes a keyring


def test_a_key_replaced_under_the_same_id_fails_authentication(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    envelope = cipher_on(keyring).encrypt("sensor.recipe", b"secret")
    doc = keyring_doc(keyring)
    doc["keys"][envelope["kid"]]["key"] = base64.b64encode(bytes(32)).decode()
    keyring.path.write_text(json.dumps(doc))
    with pytest.raises(DecryptError, match="authentication failed"):
        TagCipher(keyring).decrypt(envelope)


def test_nonces_never_repeat_across_restarts(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    seen: set[bytes] = set()
    total = 0
    for _restart in range(5):
        cipher = cipher_on(keyring)  # a new process on the same keyring file
        for i in range(2000):
            seen.add(nonce_of(cipher.encrypt("sensor.a", b"%d" % i)))
            total += 1
    assert len(seen) == total
    epochs = {int.from_bytes(n[:4], "big") for n in seen}
    assert epochs == {1, 2, 3, 4, 5}
    kid = keyring.load().current
    assert kid is not None
    assert keyring.load().epochs[kid] == 5


def test_the_epoch_is_on_disk_before_the_first_nonce_uses_it(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    cipher = cipher_on(keyring)
    envelope = cipher.encrypt("sensor.a", b"x")
    used = int.from_bytes(nonce_of(envelope)[:4], "big")
    assert keyring_doc(keyring)["keys"][envelope["kid"]]["epoch"] >= used


def test_two_live_processes_get_different_epochs(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    a, b = cipher_on(keyring), cipher_on(keyring)
    nonces = [nonce_of(c.encrypt("sensor.a", b"x")) for c in (a, b, a, b)]
    assert len(set(nonces)) == 4
    assert nonces[0][:4] != nonces[1][:4]


def test_threads_never_share_a_nonce(tmp_path: Path) -> None:
    cipher = cipher_on(keyring_at(tmp_path))
    found: list[list[bytes]] = [[] for _ in range(4)]

    def work(out: list[bytes]) -> None:
        out.extend(nonce_of(cipher.encrypt("sensor.a", b"x")) for _ in range(2000))

    threads = [threading.Thread(target=work, args=(out,)) for out in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [n for out in found for n in out]
    assert len(flat) == len(set(flat)) == 8000


def test_an_exhausted_counter_takes_a_new_epoch(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    cipher = cipher_on(keyring, counter_limit=3)
    nonces = [nonce_of(cipher.encrypt("sensor.a", b"x")) for _ in range(10)]
    assert len(set(nonces)) == 10
    assert sorted({int.from_bytes(n[:4], "big") for n in nonces}) == [1, 2, 3, 4]


def test_a_key_with_no_epochs_left_is_rotated_before_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = keyring_at(tmp_path)
    old = cipher_on(keyring).encrypt("sensor.a", b"old")
    doc = keyring_doc(keyring)
    doc["keys"][old["kid"]]["epoch"] = EPOCH_MAX
    keyring.path.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING):
        new = cipher_on(keyring).encrypt("sensor.a", b"new")
    assert new["kid"] != old["kid"]
    assert int.from_bytes(nonce_of(new)[:4], "big") == 1
    assert f"Key {old['kid']} has used all its nonce epochs" in caplog.text
    assert TagCipher(keyring).decrypt(old) == b"old"


def test_keyring_file_is_private_and_versioned(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    cipher_on(keyring).encrypt("sensor.a", b"x")
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keyring.path.parent.stat().st_mode) == 0o700
    doc = keyring_doc(keyring)
    assert (doc["format"], doc["version"]) == ("gatehouse-keyring", 1)
    keyring.rotate()
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600
    keyring.path.chmod(0o644)  # restored from a careless backup
    TagCipher(keyring).prepare()
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "not valid JSON"),
        ('{"format": "x"}', "not a keyring"),
        ('{"format": "gatehouse-keyring", "version": 9, "keys": {}}', "newer"),
        ('{"format": "gatehouse-keyring", "version": 1, "keys": {"k": {"key": "AAAA"}}}',
         "keys.k.key"),
        ('{"format": "gatehouse-keyring", "version": 1, "current": "z", "keys": {}}',
         "field 'current'"),
    ],
)
def test_a_damaged_keyring_is_an_error_naming_file_and_field_and_is_kept(
    tmp_path: Path, content: str, message: str
) -> None:
    keyring = keyring_at(tmp_path)
    keyring.path.parent.mkdir(parents=True)
    keyring.path.write_text(content)
    with pytest.raises(KeyringError, match=message) as caught:
        cipher_on(keyring).encrypt("sensor.a", b"x")
    assert str(keyring.path) in str(caught.value)
    assert keyring.path.read_text() == content  # never silently replaced


def test_no_key_material_in_reprs_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = keyring_at(tmp_path)
    with caplog.at_level(logging.DEBUG):
        cipher = cipher_on(keyring)
        envelope = cipher.encrypt("sensor.recipe", b"TOP-SECRET-VALUE")
        keyring.rotate()
        cipher.decrypt(envelope)
        with pytest.raises(DecryptError) as caught:
            cipher.decrypt({**envelope, "seq": 1})
    key_b64 = keyring_doc(keyring)["keys"][envelope["kid"]]["key"]
    texts = [caplog.text, repr(cipher), repr(keyring), repr(keyring.load()), str(caught.value)]
    for text in texts:
        assert key_b64 not in text
        assert "TOP-SECRET-VALUE" not in text


def test_a_consumer_decrypts_with_plain_cryptography(tmp_path: Path) -> None:
    """The README's consumer snippet, kept honest."""
    keyring = keyring_at(tmp_path)
    env = cipher_on(keyring).encrypt("sensor.recipe", b"72.5")
    keys = json.loads(keyring.path.read_text())["keys"]
    key = base64.b64decode(keys[env["kid"]]["key"])
    associated = f"gatehouse-tag/1\n{env['entity_id']}\n{env['seq']}".encode()
    assert associated == aad(env["entity_id"], env["seq"])
    value = AESGCM(key).decrypt(
        base64.b64decode(env["nonce"]), base64.b64decode(env["ct"]), associated
    )
    assert value == b"72.5"


def _listed(keyring: Keyring) -> list[dict[str, Any]]:
    return [{"kid": i.kid, "current": i.current} for i in keyring.load().infos()]


def test_the_readme_consumer_snippet_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Tag encryption", 1)[1].split("\n## ", 1)[0]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    keyring = keyring_at(tmp_path)
    payload = json.dumps(cipher_on(keyring).encrypt("sensor.recipe", b"72.5"))
    keyring.export(tmp_path / "keyring.json")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {"payload": payload}
    exec(snippet, scope)  # our own documentation, run as a consumer would
    assert scope["value"] == b"72.5"


def test_a_keyring_removed_while_running_is_said_and_never_resurrected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = keyring_at(tmp_path)
    cipher = cipher_on(keyring, reload_interval=0)
    old = cipher.encrypt("sensor.a", b"old")
    keyring.path.unlink()  # shredded on purpose, or lost
    with caplog.at_level(logging.WARNING):
        new = cipher.encrypt("sensor.a", b"new")
    assert new["kid"] != old["kid"]
    assert f"no longer holds key(s) {old['kid']}" in caplog.text
    with pytest.raises(KeyMissingError, match=old["kid"]):
        cipher.decrypt(old)
    assert old["kid"] not in keyring.load().secrets
