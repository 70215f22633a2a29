"""Helpers for driving a running host with Home Assistant's third-party PyPI clients
(``homeassistant-api``, ``hass-client``, ``homeassistant-cli``): importable as
``hatools`` from the tests of this folder (and, put on ``sys.path``, from others).

``homeassistant-api`` and ``hass-client`` are installed by the ``test`` extra
(pyproject). ``hass-cli`` lives in a virtual env of its own, ``.venv-hass-cli`` at the
top of the checkout, made by ``scripts/_setup.sh`` in test mode: its published
requirements (regex>=2022.9 with dateparser<0.8) break ``state history``, and the fix
its user would apply (add ``six``, pin regex back to 2021.11.10 with ``--no-deps``)
contradicts hass-cli's own metadata, which our venv's resolver must not be asked to
keep. It is run as the user runs it, a subprocess, awaited without blocking the loop
that serves it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]

ROOT = Path(__file__).resolve().parents[4]
#: ``hass-cli`` of its own virtual env (scripts/_setup.sh).
HASS_CLI = ROOT / ".venv-hass-cli" / "bin" / "hass-cli"
TIMEOUT = 60


def base_url(client: Client) -> str:
    return str(client.make_url("/")).rstrip("/")


def hass_cli_path() -> Path:
    """``HASS_CLI``, or the test fails saying how to make it."""
    if not HASS_CLI.is_file():
        pytest.fail(f"{HASS_CLI} is missing: run scripts/test, or "
                    "GATEHOUSE_SETUP=test bash scripts/_setup.sh, which installs it")
    return HASS_CLI


async def run_hass_cli(base: str, token: str, *args: str, output: str = "json",
                       check: bool = True) -> Any:
    """Run ``hass-cli -o <output> ARGS`` against the server at ``base``; with ``check``
    its exit code must be 0 and JSON output is parsed, else ``(stdout, stderr, code)``."""
    env = {**os.environ, "HASS_SERVER": base, "HASS_TOKEN": token, "NO_COLOR": "1"}
    env.pop("HASS_PASSWORD", None)
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process(
            [str(hass_cli_path()), "--no-headers", "-o", output, *args], env=env,
            check=False)
    out = done.stdout.decode()
    if check:
        assert done.returncode == 0, (done.returncode, out, done.stderr.decode()[-2000:])
    if output == "json" and check:
        return json.loads(out) if out.strip() else None
    return out, done.stderr.decode(), done.returncode


async def hass_cli(client: Client, token: str, *args: str, output: str = "json",
                   check: bool = True) -> Any:
    """``run_hass_cli`` against the test server of ``client``."""
    return await run_hass_cli(base_url(client), token, *args, output=output, check=check)
