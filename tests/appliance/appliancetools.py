"""Helpers of tests/appliance: a wheelhouse packed from this venv, a venv outside the
repository with the built wheel installed, and a host process started from it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gatehouse.core.testing import free_port, wait_until_sync

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE_SCRIPT = ROOT / "scripts" / "wheelhouse"


def build_wheelhouse(out: Path) -> Path:
    """``scripts/wheelhouse --from-venv``: the gatehouse wheel plus this venv's packages."""
    subprocess.run([sys.executable, str(WHEELHOUSE_SCRIPT), "--from-venv", str(out)],
                   check=True, capture_output=True, cwd=out.parent)
    return out


def install_venv(wheelhouse: Path, target: Path) -> Path:
    """A fresh venv at ``target`` with gatehouse[all] from ``wheelhouse``, no index."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    # This venv's pip drives the install into the new one (--python): no ensurepip copy.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--no-index", "--find-links", str(wheelhouse), "gatehouse[all]"],
        check=True, capture_output=True, cwd=target.parent,
    )
    return target


def get(url: str, timeout: float = 5) -> tuple[int, str, str]:
    """(status, final URL, body) of a GET, following redirects."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.url, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, url, err.read().decode()


def health(port: int) -> dict[str, object] | None:
    try:
        status, _url, body = get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    except OSError:
        return None
    return json.loads(body) if status in (200, 503) else None


@contextmanager
def running_host(gatehouse: Path, config: Path, *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 60,
                 port: int | None = None) -> Iterator[int]:
    """``gatehouse run`` for ``config`` until the block ends; yields its http port.

    ``@PORT@`` in configuration.yaml becomes a free port (or pass the one it has).
    """
    port = port or free_port()
    yaml = config / "configuration.yaml"
    text = yaml.read_text() if yaml.exists() else ""
    if "@PORT@" in text:
        yaml.write_text(text.replace("@PORT@", str(port)))
    log = config.parent / f"{config.name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(gatehouse), "run", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, cwd=cwd or config.parent)
    try:
        wait_until_sync(lambda: proc.poll() is not None or health(port) == {"status": "ok"},
                        timeout=timeout, message=f"host healthy on {port}")
        if proc.poll() is not None:
            raise AssertionError(f"host exited {proc.returncode}: {log.read_text()[-3000:]}")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
