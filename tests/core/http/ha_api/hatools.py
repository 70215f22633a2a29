"""Helpers for driving a running host with Home Assistant's third-party PyPI clients
(``homeassistant-api``, ``hass-client``, ``homeassistant-cli``): importable as
``hatools`` from the tests of this folder.

The clients are installed by the ``test`` extra (pyproject); ``hass-cli`` is run as the
user runs it, a subprocess of this interpreter's ``bin`` directory, awaited without
blocking the loop that serves it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]

#: ``hass-cli`` next to this interpreter (the venv's).
HASS_CLI = Path(sys.executable).with_name("hass-cli")
TIMEOUT = 60


def base_url(client: Client) -> str:
    return str(client.make_url("/")).rstrip("/")


async def hass_cli(client: Client, token: str, *args: str, output: str = "json",
                   check: bool = True) -> Any:
    """Run ``hass-cli -o <output> ARGS`` against the test server; JSON output parsed."""
    env = {**os.environ, "HASS_SERVER": base_url(client), "HASS_TOKEN": token,
           "NO_COLOR": "1"}
    env.pop("HASS_PASSWORD", None)
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process(
            [str(HASS_CLI), "--no-headers", "-o", output, *args], env=env, check=False
        )
    out = done.stdout.decode()
    if check:
        assert done.returncode == 0, (done.returncode, out, done.stderr.decode()[-2000:])
    if output == "json" and check:
        return json.loads(out) if out.strip() else None
    return out, done.stderr.decode(), done.returncode
