"""The ``gatehouse: encryption:`` block, and what the REST API shows of sensitive values.

Decision (README "Tag encryption"): the state machine holds plaintext in memory, so
``/api/states`` shows a sensitive value to a logged-in user as the UI does; at rest
(outbox) and on the wire (``publish: true``) it is encrypted. Key material is never in
any API answer, and nothing is shown without login.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from aiohttp.test_utils import TestClient, TestServer
from cryptotools import run_cli

from gatehouse.core import Host
from gatehouse.core.crypto import ENCRYPTION_SCHEMA, configure_encryption, tag_cipher
from gatehouse.core.helpers import decrypting_cipher
from gatehouse.core.http.app import create_app
from gatehouse.core.testing import make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

OWNER = {"username": "owner", "password": "correct horse battery", "name": "Owner"}
SECRET = "RECIPE-4711"
CONFIG = """\
gatehouse:
  control_socket: false
  encryption:
    sensitive:
      include:
        domains: [sensor]
      exclude:
        entities: [sensor.tank_level]
"""


def test_schema_defaults_and_refuses_attribute_conditions() -> None:
    assert ENCRYPTION_SCHEMA({}) == {
        "sensitive": {"include": {"domains": [], "entities": [], "entity_globs": [],
                                  "devices": [], "areas": [], "attributes": {}},
                      "exclude": {"domains": [], "entities": [], "entity_globs": [],
                                  "devices": [], "areas": [], "attributes": {}}},
        "publish": False,
    }
    with pytest.raises(vol.Invalid, match="attribute conditions cannot choose"):
        ENCRYPTION_SCHEMA({"sensitive": {"include": {"attributes": {"secret": True}}}})
    with pytest.raises(vol.Invalid):
        ENCRYPTION_SCHEMA({"publish": "sometimes"})


def test_check_config_names_the_bad_key(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "configuration.yaml").write_text(
        "gatehouse:\n  encryption:\n    sensitive:\n      include:\n"
        "        attributes: {secret: true}\n"
    )
    bad = run_cli("check-config", str(config))
    assert bad.returncode == 3
    assert b"encryption" in bad.stderr and b"attribute conditions" in bad.stderr
    (config / "configuration.yaml").write_text(CONFIG)
    assert run_cli("check-config", str(config)).returncode == 0


async def test_no_sensitive_entities_means_no_cipher(host: Host) -> None:
    assert tag_cipher(host) is None
    assert configure_encryption(host, {"sensitive": {}}) is None
    assert not decrypting_cipher(host).is_sensitive("sensor.x")  # decrypt-only
    cipher = configure_encryption(host, {"sensitive": {"include": {"entities": ["sensor.x"]}},
                                         "publish": True})
    assert cipher is tag_cipher(host)
    assert cipher is not None and cipher.publish
    assert cipher.is_sensitive("sensor.x") and not cipher.is_sensitive("sensor.y")


@pytest.fixture
async def api_host(config_dir: Path) -> AsyncIterator[Host]:
    (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        yield host


async def test_rest_api_shows_plaintext_only_after_login_and_never_a_key(
    api_host: Host,
) -> None:
    host = api_host
    cipher = tag_cipher(host)
    assert cipher is not None
    assert cipher.is_sensitive("sensor.recipe") and not cipher.is_sensitive("sensor.tank_level")
    cipher.encrypt("sensor.recipe", SECRET.encode())  # the keyring exists now
    host.states.set("sensor.recipe", SECRET)
    keyring = json.loads((host.config_dir / ".storage" / "keyring.json").read_text())
    keys = [k["key"] for k in keyring["keys"].values()]

    app = await create_app(host, {})
    async with TestClient(TestServer(app)) as client:
        refused = await client.get("/api/states")
        assert refused.status == 401
        assert SECRET not in await refused.text()
        response = await client.post("/api/onboarding/users", json=OWNER)
        assert response.status == 200, await response.text()
        states: list[dict[str, Any]] = await (await client.get("/api/states")).json()
        assert {"entity_id": "sensor.recipe", "state": SECRET}.items() <= next(
            s for s in states if s["entity_id"] == "sensor.recipe").items()
        for path in ("/api/states", "/api/config", "/api/services", "/api/", "/api/panels"):
            body = await (await client.get(path)).text()
            assert not any(key in body for key in keys), path


async def test_a_running_host_takes_up_a_key_rotated_by_the_cli(api_host: Host) -> None:
    from gatehouse.core.testing import wait_until

    cipher = tag_cipher(api_host)
    assert cipher is not None
    before = cipher.encrypt("sensor.recipe", b"1")["kid"]
    rotated = run_cli("keys", "rotate", "-c", str(api_host.config_dir))
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split()[3].decode()
    assert new_kid != before
    # Within the reload interval (2 s), without a restart.
    await wait_until(lambda: cipher.encrypt("sensor.recipe", b"2")["kid"] == new_kid, 10)
