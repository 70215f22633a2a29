"""Nonces across real crashes (kill -9) and the keyring under concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptotools import keyring_at

HERE = Path(__file__).resolve().parent


def nonces_until_killed(keyring: Path, count: int) -> list[str]:
    """Start a child that encrypts for ever, read ``count`` nonces, kill -9 it."""
    child = subprocess.Popen(
        [sys.executable, str(HERE / "crypto_child.py"), str(keyring)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline().strip() for _ in range(count)]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        if child.stdout is not None:
            # What it wrote before dying counts too: those nonces were used.
            lines += [line.strip() for line in child.stdout if line.strip()]
            child.stdout.close()
    assert all(len(line) == 24 for line in lines)
    return lines


@pytest.mark.timeout(120)
def test_no_nonce_repeats_across_kill_9(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    seen: list[str] = []
    for _ in range(4):
        seen += nonces_until_killed(keyring.path, 3000)
    assert len(seen) == len(set(seen))
    assert len({n[:8] for n in seen}) == 4  # one epoch per life


def test_concurrent_rotations_and_epochs_lose_no_update(tmp_path: Path) -> None:
    keyring = keyring_at(tmp_path)
    keyring.rotate()
    first = keyring.load().current
    assert first is not None
    epochs: list[int] = []
    lock = threading.Lock()

    def rotate() -> None:
        for _ in range(15):
            keyring.rotate()

    def reserve() -> None:
        for _ in range(30):
            epoch = keyring.reserve_epoch(first)
            with lock:
                epochs.append(epoch)

    threads = [threading.Thread(target=f) for f in (rotate, rotate, reserve, reserve)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = keyring.load()
    assert len(keys.secrets) == 1 + 30  # every rotation kept
    assert sorted(epochs) == list(range(1, 61))  # every epoch handed out once
    assert keys.epochs[first] == 60
